"""The map on the overview and the node page, and setting a node's position at install time.

The overview and node views each add one call here (their content stays theirs); the map itself is
`templates/_map.html` over `fleet.web.nodemap`.
"""

from urllib.parse import quote

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import RedirectResponse
from sqlmodel import Session

from fleet.models import Device, Event
from fleet.services import provisioning
from fleet.web import fleetdata, nodemap, queries, wording
from fleet.web.i18n import Translator
from fleet.web.render import error_page, refuse_post, require_user, translator
from fleet.web.session import Principal

router = APIRouter()

STATES = ("ok", "warning", "critical", "offline", "unknown")
POSITION_ERRORS = ("empty", "not_coordinates", "out_of_range", "null_island", "not_found", "geocoder_down")


def _state_words(t: Translator) -> dict[str, str]:
    return {s: t("state." + s) for s in STATES}


def overview_context(request: Request, t: Translator, rows: list) -> dict:
    """The map of the nodes the overview lists (the same filter, the same 100 worst)."""
    points = [
        p
        for device, state, _reading in rows
        if (p := nodemap.point(device, state, wording.display_name(device), wording.node_url(device.dev_eui)))
    ]
    cfg = fleetdata.settings(request)
    words = _state_words(t)
    return {
        "map": nodemap.view(cfg, points, t("map.title_overview", count=t.number(len(points))), words),
        "map_heading": t("map.heading"),
        "position_form": None,
    }


def node_context(
    request: Request, t: Translator, db: Session, device: Device, state: str, user: Principal
) -> dict:
    """This node on the map with its neighbours; for technicians, the form that sets its position."""
    cfg = fleetdata.settings(request)
    points = []
    for other in nodemap.neighbours(db, device):
        other_state = state if other.id == device.id else other.health_status
        points.append(
            nodemap.point(other, other_state, wording.display_name(other), wording.node_url(other.dev_eui))
        )
    form = None
    if user.can_operate:
        code = request.query_params.get("position_error", "")
        typed = request.query_params.get("position", "")
        located = device.lat is not None and device.lon is not None
        current = f"{device.lat:.6f}, {device.lon:.6f}" if located else ""
        form = {
            "action": wording.node_url(device.dev_eui) + "/position#map",
            "value": typed[:200] if code else current,
            "error": t(f"map.error.{code}") if code in POSITION_ERRORS else None,
            "geocoder": bool(cfg.geocoder_url),
            # browsers give a page the phone's location only over https: no button (and no script) else
            "locate": cfg.public_url.startswith("https://"),
        }
    title = t("map.title_node", name=wording.display_name(device))
    return {
        "map": nodemap.view(cfg, points, title, _state_words(t), focus=device.dev_eui),
        "map_heading": t("map.heading_node"),
        "position_form": form,
    }


@router.post("/nodes/{dev_eui}/position")
def set_position(
    request: Request,
    dev_eui: str,
    position: str = Form(""),
    csrf: str = Form(""),
    user: Principal = Depends(require_user),
):
    """Store where the node hangs, as PATCH /api/v1/devices/{dev_eui} with lat/lon does."""
    t = translator(request)
    if (refused := refuse_post(request, user, csrf, t)) is not None:
        return refused
    cfg = fleetdata.settings(request)
    with fleetdata.session(request) as db:
        device = queries.device_by_eui(db, dev_eui.replace(":", "").replace("-", "").upper())
        if device is None:
            return error_page(
                request, 404, t("error.not_found"), t("error.node_not_found", dev_eui=dev_eui), user, t
            )
        url = wording.node_url(device.dev_eui)
        try:
            found = nodemap.parse_position(cfg, position)
        except nodemap.PositionError as exc:
            back = f"{url}?position_error={exc.code}&position={quote(position[:200])}#map"
            return RedirectResponse(back, status_code=303)
        data = provisioning.DeviceIn(lat=found.lat, lon=found.lon)
        provisioning.update_device(db, cfg, fleetdata.network_server(request), device, data, {"lat", "lon"})
        where = f"{found.lat:.6f}, {found.lon:.6f}" + (f" ({found.label})" if found.label else "")
        db.add(Event(device_id=device.id, kind="web_action", message=f"{user.name}: position {where}"))
        db.commit()
    return RedirectResponse(f"{url}?flash=map.position_saved#map", status_code=303)
