"""Fleet facts in the crew's words: view models for the templates, translated and locale-formatted.

The fleet's health service (fleet.services.health) decides *what* is wrong and gives each reason a code;
this module only says it in plain German or English ("no uplink for 3 h 10 min, expected every 1 h"),
filling in numbers from the health facts. A code it does not know, or a reason whose numbers are not at
hand, is shown with the fleet's own message: nothing the fleet reports is ever hidden.
"""

from datetime import datetime
from urllib.parse import quote

from fleet.models import Alert, Device, Reading
from fleet.web.i18n import Translator, as_utc


def node_url(dev_eui: str) -> str:
    return f"/nodes/{quote(dev_eui)}"


def display_name(device: Device) -> str:
    return device.name or device.dev_eui


def volts(mv: int | float | None) -> float | None:
    return None if mv is None else mv / 1000


class Facts:
    """The numbers a reason sentence needs, from node_health() on the node page or from the cached
    Device row plus the newest reading in the overview list."""

    __slots__ = (
        "silent_s",
        "expected_s",
        "battery_mv",
        "days_left",
        "loss_pct",
        "decode_errors",
        "fill_pct",
        "temperature_c",
        "reboots",
        "rejected",
        "pending",
    )

    def __init__(self, **values: object):
        for name in self.__slots__:
            setattr(self, name, values.get(name))

    @classmethod
    def from_health(cls, health: dict) -> "Facts":
        last = health.get("last_reading") or {}
        cfg = health.get("config") or {}
        return cls(
            silent_s=health["connectivity"].get("silent_s"),
            expected_s=health["connectivity"].get("expected_interval_s"),
            battery_mv=health["battery"].get("mv"),
            days_left=health["battery"].get("days_left"),
            loss_pct=health["packet_loss"].get("loss_pct"),
            decode_errors=health.get("decode_errors"),
            fill_pct=last.get("fill_pct"),
            temperature_c=last.get("temperature_c"),
            reboots=health["reboots"].get("by_cause"),
            rejected=cfg.get("rejected"),
            pending=cfg.get("pending"),
        )

    @classmethod
    def from_row(cls, device: Device, reading: Reading | None, now: datetime) -> "Facts":
        silent = (now - as_utc(device.last_seen_at)).total_seconds() if device.last_seen_at else None
        return cls(
            silent_s=silent,
            expected_s=device.expected_interval_s,
            battery_mv=reading.battery_mv if reading else None,
            fill_pct=reading.fill_pct if reading else None,
            temperature_c=reading.temperature_c if reading else None,
        )


def _params(t: Translator, code: str, f: Facts, reason: dict) -> dict | None:
    """The formatted numbers for one reason code, or None when a needed fact is missing."""
    if code in ("offline", "late"):
        if f.silent_s is None or f.expected_s is None:
            return None
        return {"silent": t.duration(f.silent_s), "expected": t.duration(f.expected_s)}
    if code in ("never_seen", "ultrasonic_fault", "climate_fault", "stuck"):
        return {}
    if code == "packet_loss":
        return None if f.loss_pct is None else {"loss": t.number(f.loss_pct, 1)}
    if code == "decode_errors":
        return None if f.decode_errors is None else {"count": t.number(f.decode_errors)}
    if code == "fire_alarm":
        return None if f.temperature_c is None else {"temperature": t.number(f.temperature_c, 1)}
    if code == "bin_full":
        return None if f.fill_pct is None else {"fill": t.number(f.fill_pct)}
    if code == "sensor_suspect":
        return (
            None if f.fill_pct is None else {"fill": t.number(f.fill_pct), "count": reason.get("reports", 1)}
        )
    if code in ("battery_low", "battery_days_left"):
        if f.battery_mv is None:
            return None
        return {
            "battery": t.number(f.battery_mv / 1000, 2),
            "days": t.number(f.days_left) if f.days_left is not None else None,
        }
    if code == "reboots":
        if not f.reboots:
            return None
        causes = ", ".join(f"{t('reset.' + cause)} {t.number(n)}×" for cause, n in sorted(f.reboots.items()))
        return {"causes": causes}
    if code == "config_rejected":
        if not f.rejected:
            return None
        keys = ", ".join(
            f"{name} ({t('keystatus.' + status)})" for name, status in sorted(f.rejected.items())
        )
        return {"keys": keys}
    if code == "alert_open":  # the kinds travel in the message: "alert still open: bin_full, offline"
        kinds = reason.get("kinds") or str(reason.get("message", "")).partition(": ")[2].split(", ")
        known = [k for k in kinds if f"alert.{k}" in t.keys]
        return (
            {"kinds": ", ".join(t("alert." + k) for k in known)}
            if known and len(known) == len(kinds)
            else None
        )
    if code == "config_pending":
        return {"keys": ", ".join(sorted(f.pending))} if f.pending else None
    return None


def reason_text(t: Translator, reason: object, facts: Facts) -> str:
    """One health reason as a sentence in the reader's language."""
    if not isinstance(reason, dict):
        return str(reason)
    code = str(reason.get("code", ""))
    fallback = str(reason.get("message") or code)
    params = _params(t, code, facts, reason)
    if params is None or f"reason.{code}" not in t.keys:
        return fallback
    if code in ("battery_low", "battery_days_left") and params.get("days") is not None:
        return t("reason.battery_low_days", **params)
    return t(f"reason.{code}", **params)


def node_row(t: Translator, device: Device, status: str, reading: Reading | None, now: datetime) -> dict:
    """One line of the overview list."""
    facts = Facts.from_row(device, reading, now)
    reasons = list(device.health_reasons or [])
    if status == "offline" and device.last_seen_at is not None:
        reasons.insert(0, {"code": "offline", "severity": "critical", "message": "offline"})
    reasons.sort(key=lambda r: r.get("severity") != "critical" if isinstance(r, dict) else True)
    return {
        "dev_eui": device.dev_eui,
        "name": display_name(device),
        "street": device.street,
        "state": status,
        "reasons": [reason_text(t, r, facts) for r in reasons][:2],
        "fill_pct": reading.fill_pct if reading else None,
        "battery_v": volts(reading.battery_mv) if reading else None,
        "last_seen": device.last_seen_at,
        "verified": device.provisioned_at is not None,
        "url": node_url(device.dev_eui),
    }


def alert_view(t: Translator, alert: Alert, device: Device) -> dict:
    """An open alert: the kind in the reader's language, the fleet's detail kept in a tooltip."""
    label = t(f"alert.{alert.kind}") if f"alert.{alert.kind}" in t.keys else alert.message
    return {
        "severity": alert.severity,
        "node_name": display_name(device),
        "node_url": node_url(device.dev_eui),
        "text": label,
        "detail": alert.message,
        "id": alert.id,
        "acked_by": alert.acknowledged_by,
        "since": alert.opened_at,
    }
