"""Alerts with hysteresis: each kind opens on one threshold and closes on another, so a value hovering at
the edge does not flap. Open, unacknowledged alerts are reminded every KUMPEL_ALERT_REMINDER_S.

Alerts follow the verdict's reasons by code (fleet.services.verdict); they never read its sentences."""

from datetime import datetime, timedelta

from sqlmodel import Session, col, select

from fleet.models import Alert, Device, Event
from fleet.services import citizen
from fleet.services.verdict import SENSOR_FAULTS, Facts, Reason, message
from fleet.settings import Settings


def _conditions(found: list[Reason], facts: Facts, cfg: Settings) -> dict[str, tuple[bool | None, str, str]]:
    """kind -> (True open / False close / None keep as is, severity, message), keyed by reason code."""
    by_code = {r.code: r for r in found}

    def has(*codes: str) -> Reason | None:
        return next((by_code[c] for c in codes if c in by_code), None)

    conn = facts.connectivity
    full = has("bin_full")
    no_echo = has("no_echo")
    if full is None and no_echo is not None and no_echo.params.get("bin_full_flag"):
        full = no_echo  # the node still says full and now hears no echo: overfull or blocked
    faults = [r for r in found if r.code in SENSOR_FAULTS]
    out: dict[str, tuple[bool | None, str, str]] = {
        # offline opens at 1.5x the interval and only closes on a fresh uplink (late does not close it)
        "offline": (
            True if conn == "offline" else (False if conn == "online" else None),
            "critical",
            message(by_code["offline"]) if "offline" in by_code else "node offline",
        ),
        "fire_alarm": (has("fire_alarm") is not None, "critical", _text(has("fire_alarm"), "fire alarm")),
        "bin_full": (full is not None, "warning", _text(full, "bin full")),
        "sensor_fault": (
            bool(faults),
            "warning",
            "sensor fault: " + ", ".join(sorted(r.code for r in faults)),
        ),
        "decode_error": (has("decode_errors") is not None, "warning", _text(has("decode_errors"), "")),
    }
    battery = facts.battery_mv
    if battery is None:
        out["battery_low"] = (None, "critical", "")
    else:
        # Hysteresis: opens below battery_low_mv (the verdict's battery_low), closes at battery_clear_mv.
        state = True if has("battery_low") else (False if battery >= cfg.battery_clear_mv else None)
        out["battery_low"] = (state, "critical", f"battery {battery / 1000:.2f} V")
    return out


def _text(reason: Reason | None, default: str) -> str:
    return message(reason) if reason is not None else default


def evaluate(
    session: Session, device: Device, found: list[Reason], facts: Facts, cfg: Settings, now: datetime
) -> tuple[str, ...]:
    """Open or close this node's alerts from its verdict's reasons; returns the kinds open afterwards."""
    open_alerts = {
        a.kind: a
        for a in session.exec(
            select(Alert).where(Alert.device_id == device.id, col(Alert.closed_at).is_(None))
        )
    }
    for kind, (state, severity, text) in _conditions(found, facts, cfg).items():
        current = open_alerts.get(kind)
        if state is True and current is None:
            alert = Alert(device_id=device.id, kind=kind, severity=severity, message=text, opened_at=now)
            session.add(alert)
            session.add(Event(device_id=device.id, kind="alert_opened", message=f"{kind}: {text}"))
            open_alerts[kind] = alert
        elif state is False and current is not None:
            current.closed_at = now
            session.add(current)
            session.add(Event(device_id=device.id, kind="alert_closed", message=kind))
            del open_alerts[kind]
            if kind == "bin_full":  # emptied: the citizens' "full" reports close with the alarm
                citizen.close_on_emptying(session, device.id, now)
        elif state is True and current is not None and text and current.message != text:
            current.message = text
            session.add(current)
    return tuple(sorted(open_alerts))


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
