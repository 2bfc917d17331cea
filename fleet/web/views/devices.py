"""Technician pages for devices: add one, import a vendor CSV (a result per row), print QR labels.

All the rules (EUI format, AppKey generation and encryption, registration with the network server, the
CSV columns) live in fleet.services.provisioning and fleet.services.labels; these views only collect the
form, call them, and show the outcome.
"""

from fastapi import APIRouter, Depends, Request, UploadFile
from fastapi.responses import Response

from fleet.models import Device
from fleet.services import labels, provisioning
from fleet.web import fleetdata, queries, wording
from fleet.web.render import error_page, page, refuse_post, refuse_viewer, require_user, translator
from fleet.web.session import Principal
from protocols import identity

router = APIRouter()

FORM_FIELDS = ("dev_eui", "join_eui", "app_key", "name", "street", "district", "groups", "bin_height_cm")
MAX_CSV_BYTES = 1024 * 1024
MAX_LABELS = 120


def _devices_page(request, user, t, status_code=200, **ctx):  # noqa: ANN001, ANN003, ANN202
    base = {
        "errors": [],
        "created": None,
        "results": None,
        "form": {},
        "import_failed": False,
        "summary": {},
        "csv_columns": provisioning.CSV_COLUMNS,
    }
    base.update(ctx)
    return page(request, "tech_devices.html", base, status_code=status_code, user=user, t=t)


@router.get("/tech/devices")
def devices_form(request: Request, user: Principal = Depends(require_user)):
    t = translator(request)
    if (refused := refuse_viewer(request, user, t)) is not None:
        return refused
    return _devices_page(request, user, t)


@router.post("/tech/devices")
async def add_device(request: Request, user: Principal = Depends(require_user)):
    """Register one node; its AppKey is shown once, here, for flashing. A refused form comes back filled."""
    t = translator(request)
    form = await request.form()
    if (refused := refuse_post(request, user, str(form.get("csrf", "")), t)) is not None:
        return refused
    typed = {name: str(form.get(name, "")).strip() for name in FORM_FIELDS}
    values: dict = {k: v for k, v in typed.items() if v}
    if "groups" in values:
        values["groups"] = [g.strip() for g in values["groups"].split(",") if g.strip()]
    try:
        data = provisioning.DeviceIn(**values)
        with fleetdata.session(request) as db:
            device, app_key = provisioning.create_device(
                db, fleetdata.settings(request), fleetdata.network_server(request), data
            )
            db.commit()
            created = {"dev_eui": device.dev_eui, "join_eui": device.join_eui, "app_key": app_key}
    except provisioning.ProvisioningError as exc:
        return _devices_page(
            request,
            user,
            t,
            status_code=exc.status if exc.status < 500 else 502,
            errors=[str(exc)],
            form=typed,
        )
    except ValueError as exc:  # pydantic's ValidationError: name every bad field
        return _devices_page(request, user, t, status_code=400, errors=_validation_messages(exc), form=typed)
    return _devices_page(request, user, t, created=created)


def _validation_messages(exc: ValueError) -> list[str]:
    errors = getattr(exc, "errors", None)
    if not callable(errors):
        return [str(exc)]
    return [f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in errors()]


@router.post("/tech/devices/import")
async def import_devices(
    request: Request, file: UploadFile | None = None, user: Principal = Depends(require_user)
):
    """A vendor's device list: every row gets its own result; a bad row never takes good rows with it."""
    t = translator(request)
    form = await request.form()
    if (refused := refuse_post(request, user, str(form.get("csrf", "")), t)) is not None:
        return refused
    if file is None or not file.filename:
        return _devices_page(request, user, t, status_code=400, errors=[t("tech.no_file")])
    raw = await file.read(MAX_CSV_BYTES + 1)
    if len(raw) > MAX_CSV_BYTES:
        return _devices_page(
            request,
            user,
            t,
            status_code=413,
            errors=[t("tech.csv_too_big", max=t.number(MAX_CSV_BYTES // 1024))],
        )
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        return _devices_page(request, user, t, status_code=400, errors=[t("tech.not_utf8")])
    try:
        with fleetdata.session(request) as db:
            results = provisioning.import_csv(
                db, fleetdata.settings(request), fleetdata.network_server(request), text
            )
            db.commit()
    except provisioning.ProvisioningError as exc:
        return _devices_page(request, user, t, status_code=400, errors=[str(exc)])
    summary = {k: sum(1 for r in results if r["result"] == k) for k in ("created", "updated", "rejected")}
    shown = [
        {
            "row": r["row"],
            "dev_eui": r.get("dev_eui"),
            "result": r["result"],
            "reason": wording.import_reason(t, r),
            "app_key": r.get("app_key"),
        }
        for r in results
    ]
    return _devices_page(
        request, user, t, results=shown, summary=summary, import_failed=bool(summary["rejected"])
    )


@router.get("/tech/labels")
def label_sheet(
    request: Request, q: str = "", group: str = "", dev_eui: str = "", user: Principal = Depends(require_user)
):
    """A printable sheet of TR005 QR labels (no AppKey in them) for the chosen nodes."""
    t = translator(request)
    if (refused := refuse_viewer(request, user, t)) is not None:
        return refused
    cfg = fleetdata.settings(request)
    with fleetdata.session(request) as db:
        devices = queries.label_devices(db, q=q, group=group, dev_eui=dev_eui, limit=MAX_LABELS)
        shown = [
            {
                "name": d.name or d.dev_eui,
                "dev_eui": d.dev_eui,
                "street": d.street,
                "url": labels.bin_url(d, cfg),
                "svg": fleetdata.qr_svg(d, cfg),
                "tr005_svg": fleetdata.tr005_svg(d, cfg),
            }
            for d in devices
        ]
        groups = queries.group_names(db)
    return page(
        request,
        "tech_labels.html",
        {"labels": shown, "q": q, "group": group, "groups": groups},
        user=user,
        t=t,
    )


@router.get("/nodes/{dev_eui}/label.svg")
def node_label(request: Request, dev_eui: str, user: Principal = Depends(require_user)):
    """One node's label as the fleet's own SVG (QR, name, DevEUI, link), e.g. for a label printer."""
    t = translator(request)
    if (refused := refuse_viewer(request, user, t)) is not None:
        return refused
    with fleetdata.session(request) as db:
        device: Device | None = queries.device_by_eui(db, identity.normalize_eui(dev_eui))
        if device is None:
            return error_page(
                request, 404, t("error.not_found"), t("error.node_not_found", dev_eui=dev_eui), user, t
            )
        svg = labels.label_svg(device, fleetdata.settings(request))
    return Response(svg, media_type="image/svg+xml", headers={"Cache-Control": "no-store"})
