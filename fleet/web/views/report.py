"""The public report page behind the bin's QR code: no sign-in, no app, no JavaScript needed.

A citizen sees the bin's place, picks the problem, may add a note, a photo and an e-mail, and gets a
reference number and a status page. The crew closes a report on the node page with a note the citizen
reads on that status page. Abuse is held off without tracking: a honeypot field and rate limits per
sender (a keyed hash of the address, erased at close) and per bin (services/citizen.py).
"""

from fastapi import APIRouter, Depends, File, Form, Request, UploadFile
from fastapi.responses import RedirectResponse, Response

from fleet.models import CitizenReport, Device
from fleet.services import citizen
from fleet.web import fleetdata, queries, wording
from fleet.web.i18n import Translator
from fleet.web.render import error_page, page, refuse_post, require_user, translator
from fleet.web.session import Principal
from protocols.identity import normalize_eui

router = APIRouter()
HONEYPOT = "website"  # a field people never see or fill (hidden by CSS, skipped by screen readers)


def _bin(db, key: str):  # noqa: ANN001, ANN202
    """The bin behind a report URL: its asset id (the label's `/b/<id>` number, what citizens see) or,
    for Open311 users and crews, its DevEUI as printed (dashes and colons allowed)."""
    if key.isdigit() and len(key) <= 12:
        return db.get(Device, int(key))
    return queries.device_by_eui(db, normalize_eui(key))


def _place(device) -> str:  # noqa: ANN001
    return ", ".join(part for part in (device.street, device.district) if part)


def _form(
    request: Request, t: Translator, device, key: str, values: dict, error: str = "", status: int = 200
):  # noqa: ANN001, ANN202, E501
    context = {
        "bin": {"key": key, "place": _place(device), "name": wording.display_name(device)},
        "services": citizen.SERVICE_CODES,
        "values": values,
        "error": error,
        "honeypot": HONEYPOT,
        "description_max": citizen.DESCRIPTION_MAX,
        "photo_max_mb": fleetdata.settings(request).report_photo_max_bytes // (1024 * 1024),
    }
    return page(request, "report.html", context, status, t=t)


def _unknown_bin(request: Request, t: Translator, dev_eui: str):  # noqa: ANN202
    text = t("report.unknown_bin_text", dev_eui=dev_eui)
    return error_page(request, 404, t("report.unknown_bin"), text, t=t)


@router.get("/report/{key}")
def report_form(request: Request, key: str):
    t = translator(request)
    with fleetdata.session(request) as db:
        device = _bin(db, key)
        if device is None:
            return _unknown_bin(request, t, key)
        return _form(request, t, device, key, {})


@router.post("/report/{key}")
async def file_report(
    request: Request,
    key: str,
    service_code: str = Form(""),
    note: str = Form(""),
    email: str = Form(""),
    photo: UploadFile | None = File(None),
    website: str = Form(""),
):
    t = translator(request)
    cfg = fleetdata.settings(request)
    values = {"service_code": service_code, "note": note, "email": email}
    raw = await photo.read(cfg.report_photo_max_bytes + 1) if photo is not None and photo.filename else b""
    with fleetdata.session(request) as db:
        device = _bin(db, key)
        if device is None:
            return _unknown_bin(request, t, key)
        if website:  # only a form-filling robot sees this field
            return _form(request, t, device, key, values, t("report_error.refused"), 400)
        if service_code not in citizen.SERVICE_CODES:
            return _form(request, t, device, key, values, t("report_error.pick"), 400)
        if len(note) > citizen.DESCRIPTION_MAX:
            message = t("report_error.note_long", max=citizen.DESCRIPTION_MAX)
            return _form(request, t, device, key, values, message, 400)
        if email.strip() and not citizen.valid_email(email.strip()):
            return _form(request, t, device, key, values, t("report_error.email"), 400)
        cleaned = None
        if raw:
            try:
                cleaned = citizen.clean_photo(raw, cfg.report_photo_max_bytes)
            except citizen.PhotoError as exc:
                message = t("report_error." + exc.code, max=cfg.report_photo_max_bytes // (1024 * 1024))
                return _form(request, t, device, key, values, message, 400)
        sender = request.client.host if request.client else "unknown"
        sender_key = citizen.client_key(cfg.secret_key, f"web:{sender}")
        refused = citizen.rate_limited(
            db, device, sender_key, cfg.report_limit_per_client_hour, cfg.report_limit_per_bin_hour
        )
        if refused is not None:
            return _form(request, t, device, key, values, t("report_error." + refused.code), refused.status)
        report = citizen.file_report(
            db,
            device,
            service_code=service_code,
            description=note,
            email=email,
            photo=cleaned,
            key=sender_key,
            source="web",
        )
    return RedirectResponse(f"/report/status/{report.id}?new=1", status_code=303)


@router.get("/report/status/{report_id}")
def report_status(request: Request, report_id: int, new: int = 0):
    """What happened to a report: the reference number, the problem, open or closed and the crew's note."""
    t = translator(request)
    with fleetdata.session(request) as db:
        report = db.get(CitizenReport, report_id)
        if report is None:
            return error_page(request, 404, t("error.not_found"), t("report.no_such", ref=report_id), t=t)
        context = {"report": citizen.summary(report), "new": bool(new)}
    return page(request, "report_status.html", context, t=t)


@router.get("/report/photo/{report_id}.jpg")
def report_photo(request: Request, report_id: int):
    """The photo as stored: re-encoded, EXIF-free (Open311 media_url points here)."""
    with fleetdata.session(request) as db:
        photo = citizen.photo_of(db, report_id)
        if photo is None:
            return Response(status_code=404)
        return Response(
            photo.data,
            media_type=photo.content_type,
            headers={"Cache-Control": "public, max-age=86400", "X-Content-Type-Options": "nosniff"},
        )


@router.post("/nodes/{dev_eui}/reports/{report_id}/close")
def close_report(
    request: Request,
    dev_eui: str,
    report_id: int,
    note: str = Form(""),
    csrf: str = Form(""),
    user: Principal = Depends(require_user),
):
    """A crew member closes a citizen's report with a note; the citizen reads it on the status page."""
    t = translator(request)
    refused = refuse_post(request, user, csrf, t)
    if refused is not None:
        return refused
    text = note.strip()
    if not text or len(text) > citizen.NOTE_MAX:
        message = t("report.close_note_needed", max=citizen.NOTE_MAX)
        return error_page(request, 400, t("error.bad_request"), message, user, t)
    with fleetdata.session(request) as db:
        device = queries.device_by_eui(db, normalize_eui(dev_eui))
        report = db.get(CitizenReport, report_id)
        if device is None or report is None or report.device_id != device.id:
            return error_page(request, 404, t("error.not_found"), t("report.no_such", ref=report_id), user, t)
        if report.status == "open":
            citizen.close_report(db, report, text, author=user.name)
        url = wording.node_url(device.dev_eui)
    return RedirectResponse(f"{url}#reports", status_code=303)
