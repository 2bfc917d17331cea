"""Ingest: one normalized uplink or event in, stored exactly once.

The functions here never commit: the caller owns the transaction (the batch writer commits many items at
once, fleet.services.receive one). Nothing is half-stored: everything for one uplink (raw frame, readings,
config report) is in the caller's transaction; a duplicate (same dedup key) is caught by the
uplink INSERT ... ON CONFLICT DO NOTHING before anything else is written, even when deliveries race.
A frame that does not decode is still stored, with its error, and counts against the node's health.

Ingest stores; it does not judge. Every node that got data is marked `health_stale`, and each result says
what the frame carried (flags, battery, back online) so fleet.services.health.judge_stored can judge at
once the nodes whose alerts may change, in the same transaction; the sweep judges the rest.
"""

from datetime import timedelta

from sqlalchemy import insert
from sqlmodel import Session, col, select

from fleet.lns.base import EventIn, UplinkIn
from fleet.models import (
    Device,
    Event,
    Reading,
    ReportedConfig,
    StatusReport,
    UnknownDevice,
    Uplink,
    utcnow,
)
from fleet.services import config as config_service
from fleet.services import downlinks, wire
from fleet.settings import Settings


def _record_unknown(session: Session, dev_eui: str, source: str, fport, payload: bytes, detail: dict) -> None:  # noqa: ANN001
    now = utcnow()
    row = session.exec(select(UnknownDevice).where(UnknownDevice.dev_eui == dev_eui)).first()
    if row is None:
        row = UnknownDevice(dev_eui=dev_eui, source=source, first_seen_at=now)
    row.last_seen_at = now
    row.count += 1
    row.last_fport = fport
    row.last_payload_hex = payload.hex()
    row.detail = detail
    session.add(row)


def _readings(device_id: int, uplink_id: int, received_at, decoded: dict, bin_height_cm: int) -> list[dict]:  # noqa: ANN001
    if decoded["type"] == "measurement":
        items = [(received_at, decoded)]
        battery_at = {0: decoded.get("battery_mv")}
        flags_at = {0: decoded.get("flags") or []}
    else:
        # Batch: newest reading at the uplink time, reading i of n at t - (n - 1 - i) x interval.
        rs = decoded["readings"]
        n = len(rs)
        step = timedelta(minutes=decoded["interval_min"])
        items = [(received_at - (n - 1 - i) * step, r) for i, r in enumerate(rs)]
        # Battery and the OR of the flags describe the batch as a whole: they belong to the newest reading.
        battery_at = {n - 1: decoded.get("battery_mv")}
        flags_at = {n - 1: decoded.get("flags") or []}
    out = []
    for i, (at, r) in enumerate(items):
        distance = r.get("distance_cm")
        out.append(
            {
                "device_id": device_id,
                "uplink_id": uplink_id,
                "measured_at": at,
                "distance_cm": distance,
                "no_echo": bool(r.get("no_echo")),
                "fill_pct": wire.codec.fill_percent(distance, bin_height_cm)
                if distance is not None
                else None,
                "temperature_c": r.get("temperature_c"),
                "humidity_pct": r.get("humidity_pct"),
                "pressure_hpa": r.get("pressure_hpa"),
                "battery_mv": battery_at.get(i),
                "flags": list(flags_at.get(i, [])),
            }
        )
    return out


_INSERT_UPLINKS: dict = {}


def _insert_uplinks(session: Session, rows: list[dict]) -> dict[str, int]:
    """Multi-row INSERT ... ON CONFLICT (dedup_key) DO NOTHING RETURNING id, dedup_key: dedup and insert in
    one statement, safe against deliveries racing. Returns {dedup_key: id} of the rows actually inserted."""
    if not rows:
        return {}
    dialect = session.get_bind().dialect.name
    stmt = _INSERT_UPLINKS.get(dialect)
    if stmt is None:
        if dialect == "postgresql":
            from sqlalchemy.dialects.postgresql import insert as dialect_insert
        else:
            from sqlalchemy.dialects.sqlite import insert as dialect_insert
        table = Uplink.__table__
        # Built once with bind parameters, so SQLAlchemy's compiled cache serves every later call.
        stmt = (
            dialect_insert(table)
            .on_conflict_do_nothing(index_elements=["dedup_key"])
            .returning(table.c.id, table.c.dedup_key)
        )
        _INSERT_UPLINKS[dialect] = stmt
    return {key: uid for uid, key in session.connection().execute(stmt, rows).all()}


class Batch:
    """What a batch of uplinks shares: its nodes loaded in one query, their readings inserted in one
    statement (flushed early when a node must be judged at once, since its health reads them)."""

    def __init__(self) -> None:
        self.devices: dict[str, tuple[Device, dict | None]] = {}
        self.readings: list[dict] = []

    def load(self, session: Session, dev_euis: set[str]) -> None:
        missing = [e for e in dev_euis if e not in self.devices]
        if missing:
            for device, applied in session.exec(
                select(Device, ReportedConfig.settings)
                .outerjoin(ReportedConfig, col(ReportedConfig.device_id) == Device.id)
                .where(col(Device.dev_eui).in_(missing))
            ).all():
                self.devices[device.dev_eui] = (device, applied)

    def flush_readings(self, session: Session) -> None:
        if self.readings:
            session.connection().execute(insert(Reading.__table__), self.readings)
            self.readings = []


def _prepare(up: UplinkIn, device_id: int, now) -> dict:  # noqa: ANN001
    """Decode the frame and build the uplink row (no database access)."""
    decoded = error = frame_type = None
    if up.fport is None:
        error = "port: no fPort (MAC-only frame), nothing to decode"
    else:
        try:
            decoded = wire.codec.decode_uplink(up.fport, up.data)
            frame_type = decoded.get("type")
        except wire.CodecError as exc:
            error = str(exc)
        except Exception as exc:  # a codec bug must not lose the frame: keep it with the error
            error = f"decoder crashed: {type(exc).__name__}: {exc}"
    best = max(up.rx, key=lambda r: (r.get("rssi") is not None, r.get("rssi") or -999), default=None)
    snrs = [r["snr"] for r in up.rx if r.get("snr") is not None]
    return {
        "device_id": device_id,
        "dedup_key": up.dedup_key,
        "source": up.source,
        "received_at": up.received_at or now,
        "fport": up.fport,
        "fcnt": up.fcnt,
        "data": up.data,
        "frame_type": frame_type,
        "decoded": decoded,
        "decode_error": error,
        "rssi": best.get("rssi") if best else None,
        "snr": max(snrs) if snrs else None,
        "gateways": len({r.get("gateway_id") for r in up.rx}),
        "rx_info": up.rx,
        "dr": up.dr,
        "sf": up.sf,
        "frequency": up.frequency,
    }


def ingest_batch(session: Session, items: list, cfg: Settings) -> list[dict]:
    """Store many uplinks/events in the caller's transaction: one query for their nodes, one multi-row
    INSERT ... ON CONFLICT DO NOTHING for the uplinks, one for the readings. Results in input order."""
    now = utcnow()
    batch = Batch()
    batch.load(session, {i.dev_eui for i in items if isinstance(i, UplinkIn)})
    rows: dict[int, dict] = {}
    seen: set[str] = set()
    for n, item in enumerate(items):
        if isinstance(item, UplinkIn) and item.dev_eui in batch.devices and item.dedup_key not in seen:
            seen.add(item.dedup_key)
            rows[n] = _prepare(item, batch.devices[item.dev_eui][0].id, now)
    ids = _insert_uplinks(session, list(rows.values()))
    results = []
    for n, item in enumerate(items):
        if not isinstance(item, UplinkIn):
            results.append(ingest_event(session, item, cfg))
        elif item.dev_eui not in batch.devices:
            results.append(_unknown(session, item))
        elif n not in rows or rows[n]["dedup_key"] not in ids:
            results.append({"result": "duplicate", "dev_eui": item.dev_eui})
        else:
            device, applied = batch.devices[item.dev_eui]
            results.append(
                _apply(
                    session, item, device, applied, rows[n], ids.pop(rows[n]["dedup_key"]), cfg, batch, now
                )
            )
    batch.flush_readings(session)
    return results


def _unknown(session: Session, up: UplinkIn) -> dict:
    _record_unknown(session, up.dev_eui, up.source, up.fport, up.data, {"join_eui": up.join_eui, **up.meta})
    return {"result": "unknown_device", "dev_eui": up.dev_eui}


def ingest_uplink(session: Session, up: UplinkIn, cfg: Settings) -> dict:
    """Store one uplink. Returns {"result": stored|duplicate|unknown_device, "uplink_id", "frame_type",
    "decode_error", "device_id"}."""
    return ingest_batch(session, [up], cfg)[0]


def _apply(
    session: Session,
    up: UplinkIn,
    device: Device,
    applied: dict | None,
    row: dict,
    uplink_id: int,
    cfg: Settings,
    batch: Batch,
    now,
) -> dict:  # noqa: ANN001
    """Everything an inserted uplink changes: readings, status, config report, node state and verdict."""
    decoded, error, frame_type, received_at = (
        row["decoded"],
        row["decode_error"],
        row["frame_type"],
        row["received_at"],
    )
    if decoded is not None and frame_type in ("measurement", "batch"):
        bin_height = (applied or {}).get("bin_height_cm") or wire.defaults()["bin_height_cm"]
        batch.readings.extend(_readings(device.id, uplink_id, received_at, decoded, bin_height))
    elif decoded is not None and frame_type == "status":
        session.add(
            StatusReport(
                device_id=device.id,
                uplink_id=uplink_id,
                received_at=received_at,
                fw_version=decoded.get("fw_version", ""),
                config_version=decoded.get("config_version", 0),
                reset_cause=decoded.get("reset_cause", "unknown"),
                wake_count=decoded.get("wake_count", 0),
                sensor_errors=decoded.get("sensor_errors", 0),
                radio_errors=decoded.get("radio_errors", 0),
                watchdog_resets=decoded.get("watchdog_resets", 0),
                battery_mv=decoded.get("battery_mv"),
            )
        )
        config_service.apply_status_version(session, device, decoded.get("config_version", 0), now)
    elif decoded is not None and frame_type == "config_report":
        sent = config_service.apply_report(session, device, decoded, now)
        if sent is not None and sent.rollout_id is not None:
            from fleet.services import rollout

            session.flush()
            rollout.on_downlink_outcome(session, sent, cfg)

    if up.fcnt is not None and device.last_fcnt is not None and up.fcnt < device.last_fcnt:
        session.add(
            Event(
                device_id=device.id,
                kind="fcnt_reset",
                message=f"frame counter went from {device.last_fcnt} to {up.fcnt} (rejoin or reset)",
            )
        )
    back_online = False
    if device.last_seen_at is None or received_at >= device.last_seen_at:
        back_online = device.offline_at is not None and device.offline_at <= now
        device.last_seen_at = received_at
        device.last_fcnt = up.fcnt
    set_connectivity_deadlines(device, cfg.late_factor, cfg.offline_factor)
    device.health_stale = True  # new data since the verdict: the health service judges it
    session.add(device)
    return {
        "result": "stored",
        "uplink_id": uplink_id,
        "frame_type": frame_type,
        "decode_error": error,
        "dev_eui": up.dev_eui,
        "device_id": device.id,
        "flags": list((decoded or {}).get("flags") or ()),
        "battery_mv": (decoded or {}).get("battery_mv"),
        "back_online": back_online,
    }


def set_connectivity_deadlines(device: Device, late_factor: float = 1.0, offline_factor: float = 1.5) -> None:
    """late_at / offline_at from the last uplink and the expected interval: stored, so the state at any
    time is one indexed comparison (fleet.services.verdict.connectivity_sql)."""
    if device.last_seen_at is None:
        device.late_at = device.offline_at = None
        return
    device.late_at = device.last_seen_at + timedelta(seconds=device.expected_interval_s * late_factor)
    device.offline_at = device.last_seen_at + timedelta(seconds=device.expected_interval_s * offline_factor)


def ingest_event(session: Session, ev: EventIn, cfg: Settings) -> dict:
    """join/ack/txack/status/log (ChirpStack) and join_accept/downlink_* (TTS): logged, and where they
    concern a downlink, applied to it."""
    device = session.exec(select(Device).where(Device.dev_eui == ev.dev_eui)).first()
    if device is None:
        _record_unknown(session, ev.dev_eui, ev.source, None, b"", {"event": ev.kind})
        return {"result": "unknown_device", "dev_eui": ev.dev_eui}
    now = utcnow()
    if ev.kind in ("join", "join_accept"):
        device.rejoins += 1
        session.add(device)
    if ev.lns_ref is not None or ev.acknowledged is not None:
        downlinks.on_lns_ack(session, device, ev.lns_ref, ev.acknowledged, now)
    message = ev.data.get("description") or ev.data.get("code") or ""
    session.add(
        Event(device_id=device.id, kind=f"{ev.source}:{ev.kind}", message=str(message)[:500], data=ev.data)
    )
    return {"result": "stored", "event": ev.kind, "dev_eui": ev.dev_eui}
