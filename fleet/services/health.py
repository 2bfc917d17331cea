"""Node health: gathering the facts, judging them (fleet.services.verdict decides) and the fleet summary.

judge() runs after ingest stored something that matters and in the sweep: it opens/closes alerts and
stores the clock-free verdict on the Device row (health_status/health_reasons/health_rank), so
fleet_summary() answers for 100,000 nodes with one indexed query. node_health() is the full picture of one
node for the node page and the API, judged by the same reasons and the same table. Connectivity depends on
the clock, not on uplinks, so it is evaluated at read time from Device.late_at / Device.offline_at (set at
ingest from the applied config's uplink interval).
"""

from datetime import datetime, timedelta

from sqlalchemy import func
from sqlmodel import Session, col, select

from fleet.models import Alert, DesiredConfig, Device, Reading, ReportedConfig, StatusReport, Uplink, utcnow
from fleet.services import alerts, citizen, verdict, verification, wire
from fleet.settings import Settings

RANK = verdict.RANK
RECENT_UPLINKS = 100
RECENT_READINGS = 48


def connectivity_state(device: Device, now: datetime) -> str:
    """never | online | late | offline: last seen vs 1x and 1.5x the expected uplink interval."""
    if device.last_seen_at is None or device.offline_at is None or device.late_at is None:
        return "never"
    if now >= device.offline_at:
        return "offline"
    if now >= device.late_at:
        return "late"
    return "online"


def battery_trend(points: list[tuple[datetime, int]], empty_mv: int) -> tuple[float | None, float | None]:
    """(mV per day, days left to empty_mv) by least squares; None without a day of data."""
    if len(points) < 3 or (points[-1][0] - points[0][0]).total_seconds() < 86400:
        return None, None
    t0 = points[0][0]
    xs = [(t - t0).total_seconds() / 86400 for t, _ in points]
    ys = [float(mv) for _, mv in points]
    n = len(xs)
    mx, my = sum(xs) / n, sum(ys) / n
    sxx = sum((x - mx) ** 2 for x in xs)
    if sxx == 0:
        return None, None
    slope = sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / sxx
    if slope >= 0:
        return round(slope, 2), None
    current = my + slope * (xs[-1] - mx)
    return round(slope, 2), max(0.0, round((current - empty_mv) / -slope, 1))


def packet_loss(fcnts: list[int]) -> dict:
    """Loss from frame-counter gaps in arrival order; a counter that goes back means a rejoin (reset)."""
    received = expected = resets = 0
    prev = None
    for fcnt in fcnts:
        if prev is not None and fcnt > prev:
            expected += fcnt - prev
            received += 1
        elif prev is not None:
            resets += 1
        prev = fcnt
    loss = round(100.0 * (expected - received) / expected, 1) if expected else None
    return {"received": received, "expected": expected, "loss_pct": loss, "counter_resets": resets}


def _reading_dict(r: Reading) -> dict:
    return {
        "measured_at": r.measured_at.isoformat(),
        "distance_cm": r.distance_cm,
        "no_echo": r.no_echo,
        "fill_pct": r.fill_pct,
        "temperature_c": r.temperature_c,
        "humidity_pct": r.humidity_pct,
        "pressure_hpa": r.pressure_hpa,
        "battery_mv": r.battery_mv,
        "flags": list(r.flags or []),
    }


def config_view(session: Session, device: Device) -> dict:
    """Desired vs applied: versions, pending keys (desired value differs from applied) and rejected keys."""
    desired = session.exec(select(DesiredConfig).where(DesiredConfig.device_id == device.id)).first()
    reported = session.exec(select(ReportedConfig).where(ReportedConfig.device_id == device.id)).first()
    applied = dict(wire.defaults())
    if reported:
        applied.update(reported.settings or {})
    want = dict(desired.settings) if desired else {}
    pending = {k: v for k, v in want.items() if applied.get(k) != v}
    key_status = dict(reported.key_status) if reported else {}
    rejected = {k: s for k, s in key_status.items() if s != "ok"}
    return {
        "desired_version": desired.version if desired else 0,
        "reported_version": reported.version if reported else 0,
        "reported_at": reported.reported_at.isoformat() if reported and reported.reported_at else None,
        "desired": want,
        "applied": applied,
        "pending": pending,
        "rejected": rejected,
        "drift": bool(pending),
    }


def _provisioning(session: Session, device: Device) -> dict:
    last = verification.summary(verification.latest(session, device.id))
    if last is not None:
        last = {**last, "at": last["at"].isoformat()}
    at = device.provisioned_at
    return {"provisioned_at": at.isoformat() if at else None, "last_verification": last}


def gather(session: Session, device: Device, cfg: Settings, now: datetime) -> tuple[verdict.Facts, dict]:
    """Read what the verdict needs (five small indexed queries, the config view two more) and what the
    node page shows besides. Returns (facts for verdict.reasons(), details for node_health())."""
    th = verdict.Thresholds.of(cfg)
    conn = connectivity_state(device, now)
    silent = (now - device.last_seen_at).total_seconds() if device.last_seen_at else None
    uplinks = list(
        session.exec(
            select(
                Uplink.fcnt,
                Uplink.rssi,
                Uplink.snr,
                Uplink.gateways,
                Uplink.sf,
                Uplink.dr,
                Uplink.decode_error,
            )
            .where(Uplink.device_id == device.id)
            .order_by(col(Uplink.received_at).desc(), col(Uplink.id).desc())
            .limit(RECENT_UPLINKS)
        ).all()
    )
    uplinks.reverse()
    loss = packet_loss([u.fcnt for u in uplinks if u.fcnt is not None])
    loss["rejoins"] = device.rejoins
    last = uplinks[-1] if uplinks else None
    radio = {"rssi": None, "snr": None, "gateways": 0, "sf": None, "dr": None}
    if last is not None:
        radio = {"rssi": last.rssi, "snr": last.snr, "gateways": last.gateways, "sf": last.sf, "dr": last.dr}

    readings = list(
        session.exec(
            select(Reading)
            .where(Reading.device_id == device.id)
            .order_by(col(Reading.measured_at).desc(), col(Reading.id).desc())
            .limit(max(RECENT_READINGS, th.stuck_readings))
        ).all()
    )
    latest = readings[0] if readings else None
    faults = {name: 0 for name in verdict.SENSOR_FAULTS}
    for r in readings:
        for name in faults:
            if name in (r.flags or []):
                faults[name] += 1
    window = readings[: th.stuck_readings]
    stuck = len(window) == th.stuck_readings and all(
        r.distance_cm is not None
        and (r.distance_cm, r.temperature_c) == (window[0].distance_cm, window[0].temperature_c)
        for r in window
    )

    since = now - timedelta(days=14)
    batt_points = [
        (r.measured_at, r.battery_mv)
        for r in session.exec(
            select(Reading.measured_at, Reading.battery_mv)
            .where(
                Reading.device_id == device.id,
                Reading.measured_at >= since,
                col(Reading.battery_mv).is_not(None),
            )
            .order_by(col(Reading.measured_at))
        ).all()
    ]
    battery_mv = next((r.battery_mv for r in readings if r.battery_mv is not None), None)
    trend, days_left = battery_trend(batt_points, th.battery_empty_mv)

    statuses = list(
        session.exec(
            select(StatusReport.reset_cause, StatusReport.watchdog_resets)
            .where(StatusReport.device_id == device.id, StatusReport.received_at >= since)
            .order_by(col(StatusReport.received_at))
        ).all()
    )
    by_cause: dict[str, int] = {}
    for s in statuses:
        if s.reset_cause not in ("deepsleep", "unknown"):
            by_cause[s.reset_cause] = by_cause.get(s.reset_cause, 0) + 1
    cfg_view = config_view(session, device)
    facts = verdict.Facts(
        connectivity=conn,
        silent_s=silent,
        expected_s=device.expected_interval_s,
        loss=loss,
        decode_errors=sum(1 for u in uplinks if u.decode_error),
        recent_uplinks=len(uplinks),
        latest=_reading_dict(latest) if latest else None,
        faults=faults,
        recent_readings=len(readings),
        stuck=(window[0].distance_cm, window[0].temperature_c) if stuck else None,
        battery_mv=battery_mv,
        days_left=days_left,
        reboots=by_cause,
        rejected=cfg_view["rejected"],
        pending=sorted(cfg_view["pending"]),
        citizen_full_reports=citizen.full_reports_before(session, device.id, latest.measured_at, now)
        if latest
        else 0,
    )
    details = {
        "radio": radio,
        "trend": trend,
        "watchdog_resets": statuses[-1].watchdog_resets if statuses else 0,
        "config": cfg_view,
    }
    return facts, details


def open_alert_kinds(session: Session, device: Device) -> tuple[str, ...]:
    return tuple(
        sorted(
            session.exec(
                select(Alert.kind).where(Alert.device_id == device.id, col(Alert.closed_at).is_(None))
            ).all()
        )
    )


def node_health(session: Session, device: Device, cfg: Settings, now: datetime | None = None) -> dict:
    """Everything known about one node's health, judged by the same verdict as the stored one.

    Returns {"dev_eui", "name", "status": ok|warning|critical|offline|unknown, "rank",
    "reasons": [{"code", "severity", "params", "message"}], "connectivity": {"state", "last_seen_at",
    "expected_interval_s", "silent_s"}, "battery": {"mv", "trend_mv_per_day", "days_left"},
    "radio": {"rssi", "snr", "gateways", "sf", "dr"}, "packet_loss": {"received", "expected",
    "loss_pct", "counter_resets", "rejoins"}, "reboots": {"by_cause": {cause: n}, "watchdog_resets"},
    "sensor_faults": {"ultrasonic_fault": n, "climate_fault": n} (over the recent readings),
    "stuck": bool, "decode_errors": n (recent uplinks), "config": config_view(), "last_reading": dict|None,
    "alarms": {"bin_full": bool, "fire_alarm": bool}, "open_alerts": n,
    "provisioning": {"provisioned_at", "last_verification": {"at", "ok", "failed": [names]} | None}}.
    Times are ISO 8601 UTC strings. Not being verified yet is not a health reason: the node may still be
    on the depot's bench.
    """
    now = now or utcnow()
    facts, details = gather(session, device, cfg, now)
    facts.open_alerts = open_alert_kinds(session, device)
    found = verdict.reasons(facts, verdict.Thresholds.of(cfg))
    status = verdict.combine(verdict.clock_free(found), facts.connectivity)
    flags = set((facts.latest or {}).get("flags") or ())
    return {
        "dev_eui": device.dev_eui,
        "name": device.name,
        "status": status,
        "rank": verdict.RANK[status],
        "reasons": [r.as_dict() for r in found],
        "connectivity": {
            "state": facts.connectivity,
            "last_seen_at": device.last_seen_at.isoformat() if device.last_seen_at else None,
            "expected_interval_s": device.expected_interval_s,
            "silent_s": round(facts.silent_s) if facts.silent_s is not None else None,
        },
        "battery": {
            "mv": facts.battery_mv,
            "trend_mv_per_day": details["trend"],
            "days_left": facts.days_left,
        },
        "radio": details["radio"],
        "packet_loss": facts.loss,
        "reboots": {"by_cause": facts.reboots, "watchdog_resets": details["watchdog_resets"]},
        "sensor_faults": facts.faults,
        "stuck": facts.stuck is not None,
        "decode_errors": facts.decode_errors,
        "config": details["config"],
        "last_reading": facts.latest,
        "alarms": {"bin_full": "bin_full" in flags, "fire_alarm": "fire_alarm" in flags},
        "open_alerts": len(facts.open_alerts),
        "provisioning": _provisioning(session, device),
    }


def judge(
    session: Session, device: Device, cfg: Settings, now: datetime | None = None
) -> list[verdict.Reason]:
    """Judge the node now: open/close its alerts from the reasons and store the clock-free verdict on the
    Device row (overview, filters). Called after ingest stored something that matters, and by the sweep."""
    now = now or utcnow()
    th = verdict.Thresholds.of(cfg)
    facts, _ = gather(session, device, cfg, now)
    found = verdict.reasons(facts, th)
    facts.open_alerts = alerts.evaluate(session, device, found, facts, cfg, now)
    if facts.open_alerts:
        found = verdict.reasons(facts, th)  # an alert still open in its hysteresis band is a reason too
    kept = [r for r in found if r.code not in verdict.CLOCK_CODES]
    device.health_status = verdict.clock_free(kept)
    device.health_reasons = [r.as_dict() for r in kept]
    device.health_rank = verdict.RANK[device.health_status]
    device.health_stale = False
    session.add(device)
    return found


# What a stored frame can carry that opens or closes an alert: its node is judged at once, in the same
# transaction. Plain readings only leave the node stale; the sweep judges it (coalesced, seconds later).
URGENT_FLAGS = frozenset(("fire_alarm", "bin_full", "low_battery", "ultrasonic_fault", "climate_fault"))
URGENT_FRAMES = frozenset(("status", "config_report"))


def _urgent(result: dict, device: Device, cfg: Settings) -> bool:
    return (
        device.health_status != "ok"  # anything wrong may be resolved by this frame (alerts have hysteresis)
        or result.get("decode_error") is not None
        or result.get("frame_type") in URGENT_FRAMES
        or result.get("back_online", False)  # close the offline alert now
        or bool(URGENT_FLAGS.intersection(result.get("flags") or ()))
        or (result.get("battery_mv") or cfg.battery_low_mv) < cfg.battery_low_mv
    )


def judge_stored(session: Session, results: list[dict], cfg: Settings, now: datetime | None = None) -> int:
    """After ingest stored a batch: judge at once the nodes whose alerts may change (once per node, however
    many of its frames the batch held). Returns how many were judged."""
    now = now or utcnow()
    due: dict[int, Device] = {}
    for r in results:
        if r.get("result") != "stored" or not r.get("device_id") or r["device_id"] in due:
            continue
        device = session.get(Device, r["device_id"])  # in the session already: no query
        if device is not None and _urgent(r, device, cfg):
            due[device.id] = device
    if due:
        session.flush()
    for device in due.values():
        judge(session, device, cfg, now)
    return len(due)


def effective_status(now: datetime):  # noqa: ANN201 (an SQL expression)
    """SQL expression: the stored verdict combined with connectivity at `now` (verdict.TABLE)."""
    return verdict.state_sql(now)


def fleet_summary(session: Session, now: datetime | None = None, worst: int = 20) -> dict:
    """Counts by state and the worst nodes first, in two indexed queries (fast at 100,000 nodes).

    Returns {"total", "by_status": {"ok","warning","critical","offline","unknown": n},
    "connectivity": {"online","late","offline","never": n}, "open_alerts": n,
    "worst": [{"dev_eui", "name", "status", "reasons", "last_seen_at", "street", "district"}]}.
    """
    now = now or utcnow()
    status = effective_status(now).label("status")
    by_status = {k: 0 for k in ("ok", "warning", "critical", "offline", "unknown")}
    for name, n in session.exec(select(status, func.count()).group_by(status)).all():
        by_status[name] = n
    conn = verdict.connectivity_sql(now).label("conn")
    connectivity = {k: 0 for k in ("online", "late", "offline", "never")}
    for name, n in session.exec(select(conn, func.count()).group_by(conn)).all():
        connectivity[name] = n
    rank = verdict.rank_sql(status)
    rows = session.exec(
        select(Device, status).order_by(rank.desc(), col(Device.last_seen_at).asc()).limit(worst)
    ).all()
    open_alerts = session.exec(
        select(func.count()).select_from(Alert).where(col(Alert.closed_at).is_(None))
    ).one()
    return {
        "total": sum(by_status.values()),
        "by_status": by_status,
        "connectivity": connectivity,
        "open_alerts": open_alerts,
        "worst": [
            {
                "dev_eui": d.dev_eui,
                "name": d.name,
                "status": st,
                "reasons": d.health_reasons,
                "last_seen_at": d.last_seen_at.isoformat() if d.last_seen_at else None,
                "street": d.street,
                "district": d.district,
            }
            for d, st in rows
        ],
    }
