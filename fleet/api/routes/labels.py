"""TR005 QR labels: per node as SVG (with name and link) or PNG (QR only), and a printable sheet."""

from fastapi import APIRouter, HTTPException, Query
from fastapi.responses import HTMLResponse, Response
from sqlmodel import col, select

from fleet.api.deps import SessionDep, SettingsDep, Viewer, device_or_404
from fleet.models import Device, Group
from fleet.services import labels, provisioning

router = APIRouter(tags=["labels"])


def _ok(media_type: str) -> dict:
    return {200: {"content": {media_type: {}}, "description": "the label"}}


@router.get("/devices/{dev_eui}/label.svg", response_class=Response, responses=_ok("image/svg+xml"))
def label_svg(dev_eui: str, session: SessionDep, cfg: SettingsDep, _: Viewer) -> Response:
    return Response(labels.label_svg(device_or_404(session, dev_eui), cfg), media_type="image/svg+xml")


@router.get("/devices/{dev_eui}/label.png", response_class=Response, responses=_ok("image/png"))
def label_png(dev_eui: str, session: SessionDep, cfg: SettingsDep, _: Viewer) -> Response:
    return Response(labels.qr_png(device_or_404(session, dev_eui), cfg), media_type="image/png")


@router.get("/labels/sheet", response_class=Response, responses=_ok("text/html"))
def sheet(
    session: SessionDep, cfg: SettingsDep, _: Viewer, group: str = "", dev_eui: list[str] = Query(default=[])
) -> HTMLResponse:
    """A4 sheet of labels for a group or a list of DevEUIs (`?dev_eui=..&dev_eui=..`)."""
    if group:
        g = session.exec(select(Group).where(Group.name == group)).first()
        if g is None:
            raise HTTPException(404, f"no group {group!r}")
        devices = provisioning.members(session, g)
    elif dev_eui:
        devices = [device_or_404(session, e) for e in dev_eui]
    else:
        devices = list(session.exec(select(Device).order_by(col(Device.dev_eui)).limit(300)).all())
    if not devices:
        raise HTTPException(404, "no devices to label")
    return HTMLResponse(labels.sheet_html(devices, cfg))
