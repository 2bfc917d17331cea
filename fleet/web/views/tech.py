"""Technician pages: unknown devices, config editing for a node or a group.
Device add/import and the QR label sheet are in views/devices.py, rollouts in views/rollouts.py."""

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse

from fleet.services import wire
from fleet.web import fleetdata, queries, wording
from fleet.web.i18n import Translator
from fleet.web.render import error_page, page, refuse_post, refuse_viewer, require_user, translator
from fleet.web.session import Principal

router = APIRouter()


@router.get("/tech/unknown")
def unknown_devices(request: Request, user: Principal = Depends(require_user)):
    t = translator(request)
    if (refused := refuse_viewer(request, user, t)) is not None:
        return refused
    with fleetdata.session(request) as db:
        rows = [
            {
                "dev_eui": u.dev_eui,
                "join_eui": u.join_eui,
                "source": u.source,
                "count": u.count,
                "first_seen": u.first_seen_at,
                "last_seen": u.last_seen_at,
                "fport": u.last_fport,
                "payload": u.last_payload_hex[:48],
            }
            for u in queries.unknown_devices(db)
        ]
    return page(request, "tech_unknown.html", {"rows": rows}, user=user, t=t)


def setting_rows(
    t: Translator, current: dict, desired: dict, applied: dict, typed: dict | None
) -> list[dict]:
    """One form row per setting of the wire contract's table, with its limits as the input's limits."""
    rows = []
    for _id, name, _nbytes, minimum, maximum, default in wire.wire_settings.SETTINGS:
        value = typed.get(name, "") if typed is not None else current.get(name, "")
        rows.append(
            {
                "name": name,
                "label": t("setting." + name),
                "min": minimum,
                "max": maximum,
                "default": default,
                "value": value,
                "desired": desired.get(name),
                "applied": applied.get(name),
            }
        )
    return rows


def parse_settings(form, t: Translator) -> tuple[dict, dict, list[str]]:  # noqa: ANN001
    """The setting fields of a posted form: as typed (to show again on a refusal), as whole numbers (an
    empty field is left out), and one message per field that is not a whole number. Limits are the
    config service's to check."""
    typed = {name: str(form.get(name, "")).strip() for name in wire.SETTING_NAMES}
    values, errors = {}, []
    for name, text in typed.items():
        if text == "":
            continue
        try:
            values[name] = int(text)
        except ValueError:
            errors.append(t("tech.config_not_number", name=name, value=text))
    return typed, values, errors


@router.get("/tech/config")
def config_form(
    request: Request,
    dev_eui: str = "",
    group: str = "",
    saved: str = "",
    user: Principal = Depends(require_user),
):
    t = translator(request)
    if (refused := refuse_viewer(request, user, t)) is not None:
        return refused
    with fleetdata.session(request) as db:
        target = fleetdata.config_target(db, dev_eui=dev_eui, group=group)
        if target is None:
            return error_page(request, 404, t("error.not_found"), t("tech.config_target_missing"), user, t)
        ctx = _config_context(t, target, typed=None)
    ctx["saved"] = bool(saved)
    return page(request, "tech_config.html", ctx, user=user, t=t)


def _config_context(t: Translator, target: dict, typed: dict | None, errors: list[str] | None = None) -> dict:
    heading = (
        t("tech.config_for_node", name=target["name"])
        if target["kind"] == "node"
        else t("tech.config_for_group", name=target["name"])
    )
    return {
        "heading": heading,
        "target": target,
        "errors": errors or [],
        "rows": setting_rows(t, target["current"], target["desired"], target["applied"], typed),
    }


@router.post("/tech/config")
async def config_save(request: Request, user: Principal = Depends(require_user)):
    """Save a node's overrides or a group's config and queue what is now pending; a bad value is named and
    everything typed is shown again, nothing is saved half-way."""
    t = translator(request)
    form = await request.form()
    if (refused := refuse_post(request, user, str(form.get("csrf", "")), t)) is not None:
        return refused
    typed, values, errors = parse_settings(form, t)
    with fleetdata.session(request) as db:
        target = fleetdata.config_target(
            db, dev_eui=str(form.get("dev_eui", "")), group=str(form.get("group", ""))
        )
        if target is None:
            return error_page(request, 404, t("error.not_found"), t("tech.config_target_missing"), user, t)
        if not errors:
            try:
                version = fleetdata.save_config(request, db, target, values, author=user.name)
            except fleetdata.ConfigError as exc:
                errors.append(str(exc))
        if errors:
            return page(
                request,
                "tech_config.html",
                _config_context(t, target, typed, errors),
                status_code=400,
                user=user,
                t=t,
            )
    if target["kind"] == "node":
        return RedirectResponse(
            f"{wording.node_url(target['name_key'])}?flash=node.config_saved", status_code=303
        )
    return RedirectResponse(f"/tech/config?group={target['name_key']}&saved={version or 0}", status_code=303)
