"""The sticker's URL, `/b/<asset id>`: one QR for two audiences.

A signed-in crew member is sent on to the node page; anyone else sees the bin's public page, which says
which bin this is (name, street, district) and nothing a citizen has no business with (no DevEUI, no
battery, no health). It links to the citizen report form, /report/<asset id> (views/report.py).
"""

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse
from sqlmodel import select

from fleet.models import Device
from fleet.web import fleetdata, wording
from fleet.web.render import error_page, optional_user, page, translator

router = APIRouter()


@router.get("/b/{asset_id}")
def bin_page(request: Request, asset_id: str):
    t = translator(request)
    user = optional_user(request)
    device = None
    if asset_id.isdigit() and len(asset_id) <= 12:
        with fleetdata.session(request) as db:
            device = db.exec(select(Device).where(Device.id == int(asset_id))).first()
    if device is None:
        return error_page(request, 404, t("error.not_found"), t("bin.not_found"), user, t)
    if user is not None:
        return RedirectResponse(wording.node_url(device.dev_eui), status_code=303)
    name = device.name or f"#{device.id}"
    place = ", ".join(p for p in (device.street, device.district) if p)
    ctx = {"name": name, "place": place, "district": device.district, "asset_id": device.id}
    response = page(request, "public_bin.html", ctx, t=t)
    return response
