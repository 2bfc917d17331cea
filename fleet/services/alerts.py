"""Alerts with hysteresis: each kind opens on one threshold and closes on another, so a value hovering at
the edge does not flap. Open, unacknowledged alerts are reminded every KUMPEL_ALERT_REMINDER_S."""

from datetime import datetime, timedelta

from sqlmodel import Session, col, select

from fleet.models import Alert, Device, Event
from fleet.services import citizen
from fleet.settings import Settings


def _conditions(health: dict, cfg: Settings) -> dict[str, tuple[bool | None, str, str]]:
    """kind -> (True open / False close / None keep as is, severity, message)."""
    conn = health["connectivity"]["state"]
    battery = health["battery"]["mv"]
    reasons = {r["code"]: r["message"] for r in health["reasons"]}
    last = health["last_reading"] or {}
    flags = set(last.get("flags") or [])
    out: dict[str, tuple[bool | None, str, str]] = {
        # offline opens at 1.5x the interval and only closes on a fresh uplink (late does not close it)
        "offline": (
            True if conn == "offline" else (False if conn == "online" else None),
            "critical",
            reasons.get("offline", "node offline"),
        ),
        "fire_alarm": ("fire_alarm" in flags, "critical", reasons.get("fire_alarm", "fire alarm")),
        "bin_full": ("bin_full" in flags, "warning", reasons.get("bin_full", "bin full")),
        "sensor_fault": (
            bool(flags & {"ultrasonic_fault", "climate_fault"}),
            "warning",
            "sensor fault: " + ", ".join(sorted(flags & {"ultrasonic_fault", "climate_fault"})),
        ),
        "decode_error": (health["decode_errors"] > 0, "warning", reasons.get("decode_errors", "")),
    }
    if battery is None:
        out["battery_low"] = (None, "critical", "")
    else:
        state = True if battery < cfg.battery_low_mv else (False if battery >= cfg.battery_clear_mv else None)
        out["battery_low"] = (state, "critical", f"battery {battery / 1000:.2f} V")
    return out


def evaluate(session: Session, device: Device, health: dict, cfg: Settings, now: datetime) -> list[Alert]:
    """Open or close this node's alerts from its health; returns alerts opened now."""
    open_alerts = {
        a.kind: a
        for a in session.exec(
            select(Alert).where(Alert.device_id == device.id, col(Alert.closed_at).is_(None))
        )
    }
    opened = []
    for kind, (state, severity, message) in _conditions(health, cfg).items():
        current = open_alerts.get(kind)
        if state is True and current is None:
            alert = Alert(device_id=device.id, kind=kind, severity=severity, message=message, opened_at=now)
            session.add(alert)
            session.add(Event(device_id=device.id, kind="alert_opened", message=f"{kind}: {message}"))
            opened.append(alert)
        elif state is False and current is not None:
            current.closed_at = now
            session.add(current)
            session.add(Event(device_id=device.id, kind="alert_closed", message=kind))
            if kind == "bin_full":  # emptied: the citizens' "full" reports close with the alarm
                citizen.close_on_emptying(session, device.id, now)
        elif state is True and current is not None and message and current.message != message:
            current.message = message
            session.add(current)
    return opened


def remind_due(session: Session, cfg: Settings, now: datetime) -> list[Alert]:
    """Open, unacknowledged alerts whose last reminder (or opening) is older than the reminder period."""
    cutoff = now - timedelta(seconds=cfg.alert_reminder_s)
    due = []
    for alert in session.exec(
        select(Alert).where(col(Alert.closed_at).is_(None), col(Alert.acknowledged_at).is_(None))
    ).all():
        since = alert.last_reminded_at or alert.opened_at
        if since <= cutoff:
            alert.last_reminded_at = now
            alert.reminders += 1
            session.add(alert)
            session.add(
                Event(
                    device_id=alert.device_id,
                    kind="alert_reminder",
                    message=f"{alert.kind} still open (reminder {alert.reminders}): {alert.message}",
                )
            )
            due.append(alert)
    return due


def acknowledge(session: Session, alert: Alert, who: str, now: datetime) -> Alert:
    if alert.acknowledged_at is None:
        alert.acknowledged_at = now
        alert.acknowledged_by = who
        session.add(alert)
    return alert
