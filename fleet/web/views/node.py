"""The node page (where a QR label's link lands), its maintenance log and the technician's buttons."""

from datetime import UTC, datetime, timedelta

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import RedirectResponse

from fleet.services import citizen, forecast, verification
from fleet.services.health import node_health
from fleet.web import charts, fleetdata, queries, wording
from fleet.web.i18n import Translator, as_utc
from fleet.web.render import error_page, page, refuse_post, require_user, translator
from fleet.web.session import Principal
from fleet.web.views import where
from fleet.web.views.collection import full_text
from protocols import identity

router = APIRouter()

WINDOWS = {"24h": timedelta(hours=24), "7d": timedelta(days=7), "30d": timedelta(days=30)}
NOTE_MAX = 500
EVENT_LIMIT = 12
COMMANDS_OFFERED = ("status_now", "measure_now")  # what a crew may ask for from the page (no reboot)
_FLASHES = (
    "node.note_saved",
    "node.config_in_sync",
    "node.config_resent",
    "node.command_queued",
    "node.config_saved",
    "map.position_saved",
)  # the only messages ?flash= may show


def _parse_time(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text) if text else None


def _chart_set(t: Translator, readings: list, start: datetime, end: datetime, full_pct: int) -> list[dict]:
    def at(r):  # noqa: ANN001, ANN202
        return as_utc(r.measured_at)

    x_label = t.time if end - start <= timedelta(hours=36) else t.date
    empty = t("node.no_data")
    fill = [(at(r), r.fill_pct) for r in readings]
    temps = [(at(r), r.temperature_c) for r in readings]
    volts = [(at(r), r.battery_mv / 1000 if r.battery_mv is not None else None) for r in readings]
    known_temps = [v for _, v in temps if v is not None]
    t_min = min([0.0, *known_temps]) // 10 * 10
    t_max = max([30.0, *known_temps]) // 10 * 10 + 10
    return [
        {
            "caption": t("node.chart_fill"),
            "svg": charts.line_chart(
                fill,
                start=start,
                end=end,
                y_min=0,
                y_max=100,
                title=t("node.chart_fill"),
                threshold=full_pct,
                y_label=lambda v: t.number(v),
                x_label=x_label,
                empty_text=empty,
            ),
        },
        {
            "caption": t("node.chart_temperature"),
            "svg": charts.line_chart(
                temps,
                start=start,
                end=end,
                y_min=t_min,
                y_max=t_max,
                title=t("node.chart_temperature"),
                y_label=lambda v: t.number(v),
                x_label=x_label,
                empty_text=empty,
            ),
        },
        {
            "caption": t("node.chart_battery"),
            "svg": charts.line_chart(
                volts,
                start=start,
                end=end,
                y_min=3.0,
                y_max=4.2,
                title=t("node.chart_battery"),
                threshold=3.3,
                y_label=lambda v: t.number(v, 1),
                x_label=x_label,
                empty_text=empty,
            ),
        },
    ]


def _config_rows(t: Translator, cfg: dict) -> list[dict]:
    """Desired vs applied, one row per setting that is desired, applied differently, or rejected."""
    names = sorted(set(cfg["desired"]) | set(cfg["rejected"]) | set(cfg["pending"]))
    rows = []
    for name in names:
        desired = cfg["desired"].get(name)
        applied = cfg["applied"].get(name)
        if name in cfg["rejected"]:
            status, css = t("config.rejected", reason=t("keystatus." + cfg["rejected"][name])), "bad"
        elif name in cfg["pending"]:
            status, css = t("config.pending"), "pending"
        else:
            status, css = t("config.in_sync"), "good"
        rows.append({"name": name, "desired": desired, "applied": applied, "status": status, "css": css})
    return rows


def _provisioning(t: Translator, db, device) -> dict:  # noqa: ANN001
    """Provisioned since when (None: not verified yet) and the newest verify run with every check."""
    last = verification.latest(db, device.id)
    if last is None:
        return {"since": device.provisioned_at, "last": None}
    checks = [wording.check_view(t, c) for c in last.checks]
    return {
        "since": device.provisioned_at,
        "last": {"time": last.created_at, "ok": last.ok, "author": last.author or "–", "checks": checks},
    }


def _downlinks(t: Translator, downlinks: list) -> list[dict]:
    out = []
    for d in downlinks:
        if d.kind == "command":
            text = t(
                "node.downlink_command",
                command=d.command,
                state=t("dlstate." + d.state),
                attempts=d.attempts,
                max=d.max_attempts,
            )
        else:
            text = t(
                "node.downlink",
                version=d.config_version,
                state=t("dlstate." + d.state),
                attempts=d.attempts,
                max=d.max_attempts,
                next=t.datetime(d.next_attempt_at),
            )
        if d.last_error:
            text += f" ({d.last_error})"
        out.append({"text": text})
    return out


def _events(t: Translator, db, device_id: int, now: datetime) -> list[dict]:  # noqa: ANN001
    """Reboots (other than the normal deep-sleep wake), faults and undecodable frames, newest first."""
    events = []
    for s in queries.recent_status_reports(db, device_id):
        if s.reset_cause != "deepsleep":
            events.append(
                {
                    "time": s.received_at,
                    "text": t("event.reboot", cause=t("reset." + s.reset_cause), fw=s.fw_version or "?"),
                }
            )
    for r in queries.recent_fault_readings(db, device_id, now - timedelta(days=30), limit=EVENT_LIMIT):
        faults = [f for f in r.flags if f in ("ultrasonic_fault", "climate_fault", "fire_alarm")]
        if faults:
            events.append({"time": r.measured_at, "text": ", ".join(t("flag." + f) for f in faults)})
    for u in queries.recent_decode_errors(db, device_id):
        events.append({"time": u.received_at, "text": t("event.decode_error", error=u.decode_error)})
    events.sort(key=lambda e: e["time"], reverse=True)
    return events[:EVENT_LIMIT]


def _heard_by(db, device_id: int) -> dict:  # noqa: ANN001
    """The gateways that heard the recent uplinks: where a weak node can be helped (move or add one)."""
    looked_at, gateways = queries.gateways_heard(db, device_id)
    return {"uplinks": looked_at, "gateways": gateways}


def _not_found(request: Request, t: Translator, user: Principal, dev_eui: str):  # noqa: ANN202
    return error_page(request, 404, t("error.not_found"), t("error.node_not_found", dev_eui=dev_eui), user, t)


@router.get("/nodes/{dev_eui}")
def node_page(
    request: Request,
    dev_eui: str,
    window: str = "24h",
    flash: str = "",
    user: Principal = Depends(require_user),
):
    t = translator(request)
    eui = identity.normalize_eui(dev_eui)
    if eui != dev_eui:
        return RedirectResponse(wording.node_url(eui), status_code=301)
    window = window if window in WINDOWS else "24h"
    now = datetime.now(UTC)
    with fleetdata.session(request) as db:
        device = queries.device_by_eui(db, eui)
        if device is None:
            return _not_found(request, t, user, eui)
        health = node_health(db, device, fleetdata.settings(request), now)
        full_pct = int(health["config"]["applied"].get("full_threshold_pct", fleetdata.full_threshold_pct()))
        readings = queries.series(db, device.id, now - WINDOWS[window])
        last = health["last_reading"]
        context = {
            "node": {
                "dev_eui": device.dev_eui,
                "name": wording.display_name(device),
                "street": device.street,
                "groups": queries.groups_of(db, device.id) or ([device.district] if device.district else []),
                "join_eui": device.join_eui,
                "hardware": device.hardware_model or device.board,
                "url": wording.node_url(device.dev_eui),
            },
            "health": {
                "state": health["status"],
                "reasons": [wording.reason_text(t, r) for r in health["reasons"]],
            },
            "reading": None
            if last is None
            else {
                "time": _parse_time(last["measured_at"]),
                "fill_pct": last["fill_pct"],
                "distance_cm": last["distance_cm"],
                "no_echo": last["no_echo"],
                "temperature_c": last["temperature_c"],
                "humidity_pct": last["humidity_pct"],
                "battery_v": wording.volts(last["battery_mv"]),
                "flags": last["flags"],
            },
            "full_threshold": full_pct,
            "full_forecast": full_text(t, forecast.for_device(db, device.id, full_pct, now), now),
            # no echo: the fill is unknown now; the gauge shows the last level measured, marked as such
            "last_fill": queries.last_known_fill(db, device.id) if last and last["no_echo"] else None,
            "battery": {
                "trend": health["battery"]["trend_mv_per_day"],
                "days_left": health["battery"]["days_left"],
            },
            "windows": list(WINDOWS),
            "window": window,
            "charts": _chart_set(t, readings, now - WINDOWS[window], now, full_pct),
            "signal": {**health["radio"], "loss_pct": health["packet_loss"]["loss_pct"]},
            "heard_by": _heard_by(db, device.id),
            "config": {
                "desired_version": health["config"]["desired_version"],
                "applied_version": health["config"]["reported_version"],
                "rows": _config_rows(t, health["config"]),
                "downlinks": _downlinks(t, queries.open_downlinks(db, device.id)),
            },
            "events": _events(t, db, device.id, now),
            "alarms": [
                wording.alarm_view(t, alert, dev)
                for alert, dev in queries.recent_alarms(
                    db, now - timedelta(days=queries.RECENT_ALARM_DAYS), device_id=device.id
                )
            ],
            "alarm_days": queries.RECENT_ALARM_DAYS,
            "provisioning": _provisioning(t, db, device),
            "maintenance": [
                {"time": n.created_at, "author": n.author, "text": n.text}
                for n in queries.maintenance_notes(db, device.id)
            ],
            "citizen_reports": citizen.open_summaries(db, device.id),
            "flash": t(flash) if flash in _FLASHES else None,
        }
        context.update(where.node_context(request, t, db, device, health["status"], user))
    return page(request, "node.html", context, user=user, t=t)


@router.post("/nodes/{dev_eui}/maintenance")
def add_maintenance_note(
    request: Request,
    dev_eui: str,
    note: str = Form(""),
    csrf: str = Form(""),
    user: Principal = Depends(require_user),
):
    """A crew member writes down what they did at the bin; kept with their name and the time."""
    t = translator(request)
    refused = refuse_post(request, user, csrf, t)
    if refused is not None:
        return refused
    text = note.strip()
    if not text:
        return error_page(request, 400, t("error.bad_request"), t("node.note_empty"), user, t)
    if len(text) > NOTE_MAX:
        return error_page(
            request,
            400,
            t("error.bad_request"),
            t("node.note_too_long", length=t.number(len(text)), max=t.number(NOTE_MAX)),
            user,
            t,
        )
    with fleetdata.session(request) as db:
        device = queries.device_by_eui(db, identity.normalize_eui(dev_eui))
        if device is None:
            return _not_found(request, t, user, dev_eui)
        fleetdata.add_maintenance_note(db, device, author=user.name, text=text)
        url = wording.node_url(device.dev_eui)
    return RedirectResponse(f"{url}?flash=node.note_saved#log", status_code=303)


@router.post("/nodes/{dev_eui}/command")
def send_command(
    request: Request,
    dev_eui: str,
    command: str = Form(""),
    csrf: str = Form(""),
    user: Principal = Depends(require_user),
):
    """Ask the node for something (a status uplink) after its next uplink; Class A can't be reached sooner."""
    t = translator(request)
    refused = refuse_post(request, user, csrf, t)
    if refused is not None:
        return refused
    if command not in COMMANDS_OFFERED:
        return error_page(
            request, 400, t("error.bad_request"), t("node.command_unknown", command=command), user, t
        )
    with fleetdata.session(request) as db:
        device = queries.device_by_eui(db, identity.normalize_eui(dev_eui))
        if device is None:
            return _not_found(request, t, user, dev_eui)
        fleetdata.queue_command(request, db, device, command, author=user.name)
        url = wording.node_url(device.dev_eui)
    return RedirectResponse(f"{url}?flash=node.command_queued", status_code=303)


@router.post("/nodes/{dev_eui}/resend-config")
def resend_config(
    request: Request, dev_eui: str, csrf: str = Form(""), user: Principal = Depends(require_user)
):
    """Queue the pending config again now (after a failed or expired attempt, or a node that lost it)."""
    t = translator(request)
    refused = refuse_post(request, user, csrf, t)
    if refused is not None:
        return refused
    with fleetdata.session(request) as db:
        device = queries.device_by_eui(db, identity.normalize_eui(dev_eui))
        if device is None:
            return _not_found(request, t, user, dev_eui)
        version = fleetdata.resend_config(request, db, device, author=user.name)
        url = wording.node_url(device.dev_eui)
    flash = "node.config_resent" if version is not None else "node.config_in_sync"
    return RedirectResponse(f"{url}?flash={flash}", status_code=303)
