"""The downlink queue with our own retry policy: commands and config downlinks wait here until the node
has been reached (a Class A node only listens right after it sends), are retried with backoff, expire,
or are given up after KUMPEL_DOWNLINK_MAX_ATTEMPTS. What goes *into* a config downlink is
fleet.services.config's business; this module only delivers.
"""

from datetime import datetime, timedelta

from sqlmodel import Session, col, select

from fleet.lns.base import LnsError, NetworkServer
from fleet.models import Device, Downlink, Event, utcnow
from fleet.services import wire
from fleet.services.config import ACTIVE, ConfigError
from fleet.settings import Settings


def queue_command(
    session: Session, device: Device, command: str, cfg: Settings, now: datetime | None = None
) -> Downlink:
    now = now or utcnow()
    if command not in wire.codec.COMMANDS.values():
        raise ConfigError(
            f"unknown command {command!r}: expected one of " + ", ".join(sorted(wire.codec.COMMANDS.values()))
        )
    dl = Downlink(
        device_id=device.id,
        kind="command",
        fport=wire.codec.PORT_COMMAND,
        payload=wire.codec.encode_command(command),
        command=command,
        max_attempts=cfg.downlink_max_attempts,
        next_attempt_at=now,
        expires_at=now + timedelta(seconds=cfg.downlink_expiry_s),
    )
    session.add(dl)
    session.add(Event(device_id=device.id, kind="command_queued", message=command))
    return dl


def backoff_s(device: Device, attempts: int, cfg: Settings) -> float:
    # A Class A node only receives after it sends: never retry faster than 1.5 uplink intervals.
    base = max(cfg.downlink_backoff_s, device.expected_interval_s * 1.5)
    return base * (2 ** max(0, attempts - 1))


def dispatch(
    session: Session,
    adapter: NetworkServer,
    cfg: Settings,
    *,
    now: datetime | None = None,
    device_id: int | None = None,
    device_ids: list[int] | None = None,
) -> dict:
    """Send what is due, expire what is too old, give up after max attempts. Returns counts by outcome."""
    now = now or utcnow()
    q = select(Downlink).where(col(Downlink.state).in_(ACTIVE), Downlink.next_attempt_at <= now)
    if device_id is not None:
        q = q.where(Downlink.device_id == device_id)
    if device_ids is not None:
        q = q.where(col(Downlink.device_id).in_(device_ids))
    counts = {"sent": 0, "expired": 0, "failed": 0, "error": 0, "waiting": 0}
    # Several workers dispatch (the sweep, and each worker's writer after an uplink): on PostgreSQL each
    # claims its due rows until it commits and skips those another holds; a row that another worker has
    # just sent is re-checked against next_attempt_at and no longer matches. SQLite renders no FOR UPDATE.
    q = q.order_by(col(Downlink.id)).with_for_update(skip_locked=True, of=Downlink)
    for dl in session.exec(q).all():
        device = session.get(Device, dl.device_id)
        if dl.expires_at <= now:
            dl.state, dl.last_error = "expired", f"not acknowledged before {dl.expires_at.isoformat()}"
            counts["expired"] += 1
        elif dl.kind == "command" and dl.state == "sent":
            continue  # commands go out once; only an LNS failure report puts them back in the queue
        elif dl.attempts >= dl.max_attempts:
            dl.state = "failed"
            dl.last_error = (dl.last_error or "") + f" (gave up after {dl.attempts} attempts)"
            counts["failed"] += 1
        elif not adapter.available:
            dl.last_error = "no network server configured (KUMPEL_LNS=none)"
            counts["waiting"] += 1
            dl.next_attempt_at = now + timedelta(seconds=backoff_s(device, 1, cfg))
        else:
            dl.attempts += 1
            dl.next_attempt_at = now + timedelta(seconds=backoff_s(device, dl.attempts, cfg))
            try:
                dl.lns_ref = adapter.enqueue(
                    dev_eui=device.dev_eui, fport=dl.fport, payload=bytes(dl.payload), confirmed=dl.confirmed
                )
                dl.state, dl.last_error = "sent", None
                counts["sent"] += 1
            except LnsError as exc:
                dl.last_error = str(exc)
                counts["error"] += 1
        dl.updated_at = now
        session.add(dl)
    return counts


def on_lns_ack(
    session: Session, device: Device, lns_ref: str | None, acknowledged: bool | None, now: datetime
) -> None:
    """ChirpStack ack/txack, TTS downlink_ack/nack/failed: commands complete or go back in the queue.
    Config downlinks are not closed here (the config report is their acknowledgement)."""
    if not lns_ref:
        return
    dl = session.exec(
        select(Downlink).where(Downlink.device_id == device.id, Downlink.lns_ref == lns_ref)
    ).first()
    if dl is None or dl.state != "sent":
        return
    if dl.kind == "command" and acknowledged:
        dl.state = "done"
    elif acknowledged is False:
        dl.state = "queued"
        dl.last_error = "network server reports the downlink was not delivered"
    dl.updated_at = now
    session.add(dl)


def send_due(session: Session, results: list[dict], adapter: NetworkServer, cfg: Settings) -> None:
    """After uplinks: a Class A node listens right after it sends, so send its due downlinks now. A config
    report may have moved a rollout to its next batch: then send everything due."""
    stored = [r for r in results if r.get("result") == "stored" and r.get("device_id")]
    if not stored:
        return
    if any(r.get("frame_type") == "config_report" for r in stored):
        dispatch(session, adapter, cfg)
    else:
        dispatch(session, adapter, cfg, device_ids=sorted({r["device_id"] for r in stored}))
    session.commit()
