"""Fleet facts in the crew's words: view models for the templates, translated and locale-formatted.

The fleet's verdict (fleet.services.verdict) decides *what* is wrong: each reason is a record with a code,
a severity and its numbers. This module only says it in plain German or English ("no uplink for 3 h
10 min, expected every 1 h"), keyed by the code, filling in the record's numbers. A code it does not know,
or a record without its numbers, is shown with the fleet's own message: nothing the fleet reports is
ever hidden.
"""

from datetime import UTC, datetime
from urllib.parse import quote

from fleet.models import Alert, Device, Reading
from fleet.services import verdict
from fleet.services.health import connectivity_state
from fleet.web.i18n import Translator, as_utc


def node_url(dev_eui: str) -> str:
    return f"/nodes/{quote(dev_eui)}"


def display_name(device: Device) -> str:
    return device.name or device.dev_eui


def volts(mv: int | float | None) -> float | None:
    return None if mv is None else mv / 1000


def _params(t: Translator, code: str, p: dict) -> dict | None:
    """The reason's numbers formatted for the reader, or None when a needed one is missing."""
    if code in ("offline", "late"):
        if p.get("silent_s") is None or p.get("expected_s") is None:
            return None
        return {"silent": t.duration(p["silent_s"]), "expected": t.duration(p["expected_s"])}
    if code in ("never_seen", "ultrasonic_fault", "climate_fault", "stuck", "no_echo"):
        return {}
    if code == "packet_loss":
        return None if p.get("loss_pct") is None else {"loss": t.number(p["loss_pct"], 1)}
    if code == "decode_errors":
        return None if p.get("count") is None else {"count": t.number(p["count"])}
    if code == "fire_alarm":
        return None if p.get("temperature_c") is None else {"temperature": t.number(p["temperature_c"], 1)}
    if code == "bin_full":
        return None if p.get("fill_pct") is None else {"fill": t.number(p["fill_pct"])}
    if code == "sensor_suspect":
        if p.get("fill_pct") is None or p.get("reports") is None:
            return None
        return {"fill": t.number(p["fill_pct"]), "count": t.number(p["reports"])}
    if code in ("battery_low", "battery_days_left"):
        if p.get("battery_mv") is None:
            return None
        return {
            "battery": t.number(p["battery_mv"] / 1000, 2),
            "days": t.number(p["days_left"]) if p.get("days_left") is not None else None,
        }
    if code == "reboots":
        causes = p.get("by_cause") or {}
        text = ", ".join(f"{t('reset.' + cause)} {t.number(n)}×" for cause, n in sorted(causes.items()))
        return {"causes": text} if causes else None
    if code == "config_rejected":
        keys = p.get("keys") or {}
        text = ", ".join(f"{name} ({t('keystatus.' + status)})" for name, status in sorted(keys.items()))
        return {"keys": text} if keys else None
    if code == "config_pending":
        return {"keys": ", ".join(p["keys"])} if p.get("keys") else None
    if code == "alert_open":
        kinds = p.get("kinds") or []
        if not kinds or any(f"alert.{k}" not in t.keys for k in kinds):
            return None
        return {"kinds": ", ".join(t("alert." + k) for k in kinds)}
    return None


def reason_text(t: Translator, reason: object) -> str:
    """One health reason (a verdict record: code, severity, params) as a sentence in the reader's language.
    A code the pages do not know, or a record without its numbers (stored before records had them), is
    shown with the fleet's own message: nothing the fleet reports is ever hidden."""
    if not isinstance(reason, dict):
        return str(reason)
    code = str(reason.get("code", ""))
    fallback = str(reason.get("message") or code)
    params = reason.get("params")
    formatted = _params(t, code, params) if isinstance(params, dict) else None
    if formatted is None or f"reason.{code}" not in t.keys:
        return fallback
    if code in ("battery_low", "battery_days_left") and formatted.get("days") is not None:
        return t("reason.battery_low_days", **formatted)
    return t(f"reason.{code}", **formatted)


def node_row(t: Translator, device: Device, status: str, reading: Reading | None, now: datetime) -> dict:
    """One line of the overview list: the stored reasons, plus the clock's own (offline, late) now."""
    reasons = list(device.health_reasons or [])
    clock = _clock_reason(device, now)
    if clock is not None:
        reasons.insert(0, clock)
    reasons.sort(key=lambda r: r.get("severity") != "critical" if isinstance(r, dict) else True)
    return {
        "dev_eui": device.dev_eui,
        "name": display_name(device),
        "street": device.street,
        "state": status,
        "reasons": [reason_text(t, r) for r in reasons][:2],
        "fill_pct": reading.fill_pct if reading else None,
        "no_echo": bool(reading and reading.no_echo),
        "battery_v": volts(reading.battery_mv) if reading else None,
        "last_seen": device.last_seen_at,
        "verified": device.provisioned_at is not None,
        "url": node_url(device.dev_eui),
    }


def check_view(t: Translator, check: dict) -> dict:
    """One self-test check for the node page: its name and detail in the reader's words where known (by
    the check's name and its detail's code and numbers); otherwise as the node tool reported them."""
    name = str(check.get("name", ""))
    code, params = str(check.get("code") or ""), dict(check.get("params") or {})
    detail = str(check.get("detail", ""))
    if code == "free" and isinstance(params.get("bytes"), int | float):
        detail = t.bytes_free(params["bytes"])
    elif code == "battery_mv" and isinstance(params.get("mv"), int | float):
        detail = f"{t.number(params['mv'] / 1000, 2)} V"
    elif code == "climate" and isinstance(params.get("temperature_c"), int | float):
        detail = f"{t.number(params['temperature_c'], 1)} °C, {t.number(params.get('humidity_pct') or 0)} %"
    elif code and f"checkdetail.{code}" in t.keys:
        detail = t(
            f"checkdetail.{code}", **{k: v if isinstance(v, str) else t.number(v) for k, v in params.items()}
        )
    return {
        "name": t(f"check.{name}") if f"check.{name}" in t.keys else name,
        "raw_name": name,
        "ok": bool(check.get("ok")),
        "detail": detail,
    }


def problem_text(t: Translator, problem: dict) -> str | None:
    """One refused field (a provisioning problem record) in the reader's words; None if the code is new."""
    key = "problem." + str(problem.get("code", ""))
    if key not in t.keys:
        return None
    params = {
        k: t.number(v) if isinstance(v, int | float) else v for k, v in problem.get("params", {}).items()
    }
    return t(key, field=problem.get("field", ""), **params)


def import_reason(t: Translator, result: dict) -> str | None:
    """Why an import row was refused, in the reader's words; the fleet's English when a code is unknown."""
    texts = [problem_text(t, p) for p in result.get("problems") or []]
    if not texts or None in texts:
        return result.get("reason")
    return "; ".join(texts)


def alarm_view(t: Translator, alert: Alert, device: Device) -> dict:
    """An alert of the last days, open or cleared: what, when it started, when it cleared."""
    return {
        "severity": alert.severity,
        "text": t(f"alert.{alert.kind}") if f"alert.{alert.kind}" in t.keys else alert.message,
        "node_name": display_name(device),
        "node_url": node_url(device.dev_eui),
        "opened": alert.opened_at,
        "closed": alert.closed_at,
    }


def _clock_reason(device: Device, now: datetime) -> dict | None:
    """The clock's own reason (offline or late) for a node now, from its row: it is never stored."""
    if device.last_seen_at is None:
        return None
    conn = connectivity_state(device, now)
    if conn not in ("offline", "late"):
        return None
    silent = (now - as_utc(device.last_seen_at)).total_seconds()
    params = {"silent_s": round(silent), "expected_s": device.expected_interval_s}
    return verdict.Reason(conn, "critical" if conn == "offline" else "warning", params).as_dict()


def alert_detail(t: Translator, alert: Alert, device: Device, now: datetime | None = None) -> str:
    """The alert's detail in the reader's words: the node's reason that explains the alert's kind (by code;
    for offline the clock's reason now), else the fleet's own message."""
    codes = verdict.ALERT_EXPLAINED_BY.get(alert.kind, (alert.kind,))
    clock = _clock_reason(device, now or datetime.now(UTC))
    for reason in [*([clock] if clock else []), *(device.health_reasons or [])]:
        if isinstance(reason, dict) and reason.get("code") in codes:
            return reason_text(t, reason)
    return alert.message


def alert_view(t: Translator, alert: Alert, device: Device) -> dict:
    """An open alert: the kind in the reader's language, the detail (translated where known) in a tooltip."""
    label = t(f"alert.{alert.kind}") if f"alert.{alert.kind}" in t.keys else alert.message
    return {
        "severity": alert.severity,
        "node_name": display_name(device),
        "node_url": node_url(device.dev_eui),
        "text": label,
        "detail": alert_detail(t, alert, device),
        "id": alert.id,
        "acked_by": alert.acknowledged_by,
        "since": alert.opened_at,
    }
