"""The periodic pass the clock drives (nothing arrives to trigger it): offline alerts, reminders, downlink
retries and expiries, rollout progress. Run by the app's background task and `kumpel fleet sweep`.

Every worker of `kumpel fleet serve --workers N` runs the background task, so on PostgreSQL a pass first
takes a transaction-level advisory lock: a second worker that finds it taken skips its pass instead of
opening the same offline alert or sending the same downlink again. The lock ends with the pass's
transaction (commit, rollback or a dropped connection), so a killed worker never leaves it held.
"""

from datetime import datetime

from sqlalchemy import text
from sqlmodel import Session, col, select

from fleet.lns.base import NetworkServer
from fleet.models import Alert, Device, utcnow
from fleet.services import alerts, downlinks, health, rollout
from fleet.settings import Settings

STALE_PER_PASS = 2000
SWEEP_LOCK = 0x4B554D50_0001  # pg advisory lock key ("KUMP", 1): one sweep pass at a time per database


def claim(session: Session) -> bool:
    """Take the sweep lock for this transaction; False if another process holds it. SQLite has one
    writer process (serve refuses --workers > 1 there), so there is nothing to exclude."""
    if session.get_bind().dialect.name != "postgresql":
        return True
    taken = session.exec(text("SELECT pg_try_advisory_xact_lock(:key)").bindparams(key=SWEEP_LOCK)).one()
    return bool(taken[0])


def sweep(session: Session, adapter: NetworkServer, cfg: Settings, now: datetime | None = None) -> dict:
    now = now or utcnow()
    if not claim(session):
        session.rollback()
        return {"skipped": "another worker is sweeping"}
    offline_open = set(
        session.exec(
            select(Alert.device_id).where(Alert.kind == "offline", col(Alert.closed_at).is_(None))
        ).all()
    )
    newly_offline = 0
    for device in session.exec(select(Device).where(col(Device.offline_at) <= now)).all():
        if device.id in offline_open:
            continue
        health.judge(session, device, cfg, now)
        newly_offline += "offline" in health.open_alert_kinds(session, device)
    refreshed = 0
    # Bounded per pass, so one pass stays a short transaction however much arrived; the rest waits a pass.
    for device in session.exec(select(Device).where(col(Device.health_stale)).limit(STALE_PER_PASS)).all():
        health.judge(session, device, cfg, now)
        refreshed += 1
    reminded = len(alerts.remind_due(session, cfg, now))
    sent = downlinks.dispatch(session, adapter, cfg, now=now)
    session.flush()
    rollout.sweep(session, cfg, now)
    session.commit()
    return {
        "refreshed": refreshed,
        "offline_alerts_opened": newly_offline,
        "reminders": reminded,
        "downlinks": sent,
    }
