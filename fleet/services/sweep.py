"""The periodic pass the clock drives (nothing arrives to trigger it): offline alerts, reminders, downlink
retries and expiries, rollout progress. Run by the app's background task and `kumpel fleet sweep`."""

from datetime import datetime

from sqlmodel import Session, col, select

from fleet.lns.base import NetworkServer
from fleet.models import Alert, Device, utcnow
from fleet.services import alerts, downlinks, health, rollout
from fleet.settings import Settings

STALE_PER_PASS = 2000


def sweep(session: Session, adapter: NetworkServer, cfg: Settings, now: datetime | None = None) -> dict:
    now = now or utcnow()
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
