"""Node health computed from what arrives, and the fleet summary.

node_health() is the one source of truth for a node's status; ingest stores its verdict on the Device
row (health_status/health_reasons/health_rank) so fleet_summary() can answer for 100,000 nodes with one
indexed query. Connectivity depends on the clock, not on uplinks, so it is evaluated at read time from
Device.late_at / Device.offline_at (set at ingest from the applied config's uplink interval).
"""

from datetime import datetime, timedelta

from sqlalchemy import case, func
from sqlmodel import Session, col, select

from fleet.models import Alert, DesiredConfig, Device, Reading, ReportedConfig, StatusReport, Uplink, utcnow
from fleet.services import citizen, verification, wire

RANK = {"ok": 0, "unknown": 1, "warning": 2, "offline": 3, "critical": 4}
BATTERY_EMPTY_MV = 3000  # the 3.3 V regulator drops out below this: the node stops reporting
RECENT_UPLINKS = 100
RECENT_READINGS = 48
STUCK_READINGS = 12  # this many identical distance+temperature readings in a row: the sensor is stuck
LOSS_WARNING_PCT = 10.0


def set_connectivity_deadlines(device: Device, late_factor: float = 1.0, offline_factor: float = 1.5) -> None:
    if device.last_seen_at is None:
        device.late_at = device.offline_at = None
        return
    device.late_at = device.last_seen_at + timedelta(seconds=device.expected_interval_s * late_factor)
    device.offline_at = device.last_seen_at + timedelta(seconds=device.expected_interval_s * offline_factor)


def connectivity_state(device: Device, now: datetime) -> str:
    """never | online | late | offline: last seen vs 1x and 1.5x the expected uplink interval."""
    if device.last_seen_at is None or device.offline_at is None or device.late_at is None:
        return "never"
    if now >= device.offline_at:
        return "offline"
    if now >= device.late_at:
        return "late"
    return "online"


def _silence(silent: float, expected_s: int) -> str:
    return f"no uplink for {_fmt_duration(silent)}, expected every {_fmt_duration(expected_s)}"


def _reason(code: str, severity: str, message: str) -> dict:
    return {"code": code, "severity": severity, "message": message}


def _fmt_duration(seconds: float) -> str:
    minutes = int(seconds // 60)
    if minutes < 60:
        return f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    if hours < 48:
        return f"{hours} h {minutes} min"
    return f"{hours // 24} d {hours % 24} h"


def battery_trend(points: list[tuple[datetime, int]]) -> tuple[float | None, float | None]:
    """(mV per day, days left to BATTERY_EMPTY_MV) by least squares; None without a day of data."""
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
    return round(slope, 2), max(0.0, round((current - BATTERY_EMPTY_MV) / -slope, 1))


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


def node_health(session: Session, device: Device, now: datetime | None = None) -> dict:
    """Everything known about one node's health.

    Returns {"dev_eui", "name", "status": ok|warning|critical|offline|unknown, "rank",
    "reasons": [{"code", "severity", "message"}], "connectivity": {"state", "last_seen_at",
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
    reasons: list[dict] = []
    conn = connectivity_state(device, now)
    silent = (now - device.last_seen_at).total_seconds() if device.last_seen_at else None
    if conn == "offline":
        reasons.append(_reason("offline", "critical", _silence(silent, device.expected_interval_s)))
    elif conn == "late":
        reasons.append(_reason("late", "warning", _silence(silent, device.expected_interval_s)))
    elif conn == "never":
        reasons.append(_reason("never_seen", "warning", "no uplink received yet"))

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
    if loss["loss_pct"] is not None and loss["loss_pct"] >= LOSS_WARNING_PCT and loss["expected"] >= 10:
        reasons.append(_reason("packet_loss", "warning", f"{loss['loss_pct']} % of uplinks lost"))
    decode_errors = sum(1 for u in uplinks if u.decode_error)
    if decode_errors:
        reasons.append(
            _reason(
                "decode_errors",
                "warning",
                f"{decode_errors} of the last {len(uplinks)} uplinks could not be decoded",
            )
        )
    last = uplinks[-1] if uplinks else None
    radio = {"rssi": None, "snr": None, "gateways": 0, "sf": None, "dr": None}
    if last is not None:
        radio = {"rssi": last.rssi, "snr": last.snr, "gateways": last.gateways, "sf": last.sf, "dr": last.dr}

    readings = list(
        session.exec(
            select(Reading)
            .where(Reading.device_id == device.id)
            .order_by(col(Reading.measured_at).desc(), col(Reading.id).desc())
            .limit(RECENT_READINGS)
        ).all()
    )
    latest = readings[0] if readings else None
    faults = {"ultrasonic_fault": 0, "climate_fault": 0}
    for r in readings:
        for name in faults:
            if name in (r.flags or []):
                faults[name] += 1
    if latest is not None:
        for name in faults:
            if name in (latest.flags or []):
                reasons.append(
                    _reason(
                        name,
                        "warning",
                        f"{name.replace('_', ' ')} in the latest reading "
                        f"({faults[name]} of the last {len(readings)})",
                    )
                )
    window = readings[:STUCK_READINGS]
    stuck = len(window) == STUCK_READINGS and all(
        r.distance_cm is not None
        and (r.distance_cm, r.temperature_c) == (window[0].distance_cm, window[0].temperature_c)
        for r in window
    )
    if stuck:
        reasons.append(
            _reason(
                "stuck",
                "warning",
                f"the last {STUCK_READINGS} readings are identical "
                f"({window[0].distance_cm} cm, {window[0].temperature_c} °C)",
            )
        )

    alarms = {"bin_full": False, "fire_alarm": False}
    if latest is not None:
        alarms["fire_alarm"] = "fire_alarm" in (latest.flags or [])
        alarms["bin_full"] = "bin_full" in (latest.flags or [])
        if alarms["fire_alarm"]:
            reasons.append(_reason("fire_alarm", "critical", f"fire alarm: {latest.temperature_c} °C"))
        if alarms["bin_full"]:
            reasons.append(_reason("bin_full", "warning", f"bin full: {latest.fill_pct} %"))
        if suspect := citizen.sensor_disagreement(
            session, device.id, latest.fill_pct, latest.measured_at, now
        ):
            reasons.append(suspect)

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
    trend, days_left = battery_trend(batt_points)
    if battery_mv is not None and battery_mv < 3300:
        reasons.append(
            _reason(
                "battery_low",
                "critical",
                f"battery {battery_mv / 1000:.2f} V"
                + (f", about {days_left:.0f} days left" if days_left is not None else ""),
            )
        )
    elif days_left is not None and days_left < 30:
        reasons.append(
            _reason(
                "battery_days_left",
                "warning",
                f"battery {battery_mv / 1000:.2f} V, about {days_left:.0f} days left",
            )
        )

    statuses = list(
        session.exec(
            select(StatusReport)
            .where(StatusReport.device_id == device.id, StatusReport.received_at >= since)
            .order_by(col(StatusReport.received_at))
        ).all()
    )
    by_cause: dict[str, int] = {}
    for s in statuses:
        if s.reset_cause not in ("deepsleep", "unknown"):
            by_cause[s.reset_cause] = by_cause.get(s.reset_cause, 0) + 1
    wdt = statuses[-1].watchdog_resets if statuses else 0
    if by_cause.get("watchdog") or by_cause.get("brownout"):
        reasons.append(
            _reason(
                "reboots",
                "warning",
                "unexpected resets in 14 days: " + ", ".join(f"{k} {v}" for k, v in sorted(by_cause.items())),
            )
        )

    cfg = config_view(session, device)
    if cfg["rejected"]:
        reasons.append(
            _reason(
                "config_rejected",
                "warning",
                "node rejected: " + ", ".join(f"{k} ({v})" for k, v in sorted(cfg["rejected"].items())),
            )
        )
    if cfg["drift"]:
        reasons.append(
            _reason(
                "config_pending", "warning", "config not yet applied: " + ", ".join(sorted(cfg["pending"]))
            )
        )

    open_alerts = session.exec(
        select(func.count())
        .select_from(Alert)
        .where(Alert.device_id == device.id, col(Alert.closed_at).is_(None))
    ).one()

    if conn == "offline":
        status = "offline"
    elif any(r["severity"] == "critical" for r in reasons):
        status = "critical"
    elif conn == "never" and not readings:
        status = "unknown"
    elif reasons:
        status = "warning"
    else:
        status = "ok"
    if status == "offline" and any(r["severity"] == "critical" and r["code"] != "offline" for r in reasons):
        status = "critical"
    return {
        "dev_eui": device.dev_eui,
        "name": device.name,
        "status": status,
        "rank": RANK[status],
        "reasons": reasons,
        "connectivity": {
            "state": conn,
            "last_seen_at": device.last_seen_at.isoformat() if device.last_seen_at else None,
            "expected_interval_s": device.expected_interval_s,
            "silent_s": round(silent) if silent is not None else None,
        },
        "battery": {"mv": battery_mv, "trend_mv_per_day": trend, "days_left": days_left},
        "radio": radio,
        "packet_loss": loss,
        "reboots": {"by_cause": by_cause, "watchdog_resets": wdt},
        "sensor_faults": faults,
        "stuck": stuck,
        "decode_errors": decode_errors,
        "config": cfg,
        "last_reading": _reading_dict(latest) if latest else None,
        "alarms": alarms,
        "open_alerts": open_alerts,
        "provisioning": _provisioning(session, device),
    }


def refresh_cached(session: Session, device: Device, now: datetime | None = None) -> dict:
    """Recompute node_health and store its verdict (minus the clock-driven part) on the Device row."""
    h = node_health(session, device, now)
    kept = [r for r in h["reasons"] if r["code"] not in ("offline", "late", "never_seen")]
    status = "ok"
    if any(r["severity"] == "critical" for r in kept):
        status = "critical"
    elif kept:
        status = "warning"
    device.health_status = status
    device.health_reasons = kept
    device.health_rank = RANK[status]
    session.add(device)
    return h


def effective_status(now: datetime):  # noqa: ANN201 (an SQL expression)
    """SQL expression: cached status combined with connectivity at `now` (same rules as node_health)."""
    return case(
        (col(Device.last_seen_at).is_(None), "unknown"),
        (Device.health_status == "critical", "critical"),
        (col(Device.offline_at) <= now, "offline"),
        (col(Device.late_at) <= now, "warning"),
        else_=Device.health_status,
    )


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
    conn = case(
        (col(Device.last_seen_at).is_(None), "never"),
        (col(Device.offline_at) <= now, "offline"),
        (col(Device.late_at) <= now, "late"),
        else_="online",
    ).label("conn")
    connectivity = {k: 0 for k in ("online", "late", "offline", "never")}
    for name, n in session.exec(select(conn, func.count()).group_by(conn)).all():
        connectivity[name] = n
    rank = case(
        (status == "critical", 4),
        (status == "offline", 3),
        (status == "warning", 2),
        (status == "unknown", 1),
        else_=0,
    )
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
