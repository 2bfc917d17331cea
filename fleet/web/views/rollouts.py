"""Technician page for staged rollouts: progress per group, resume / abort, and a form to start one.

The form carries the settings itself (rows like the config page's, pre-filled from the group's config when
the page is opened with ?group=): saving a group's config on /tech/config sends it to every member at once,
a rollout sends it batch by batch and makes it the group's config when it completes. Every rule (limits,
batch size, threshold, members, one unfinished rollout per group) is the rollout service's; this module
only reads the form and words the service's refusals in the reader's language.
"""

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse

from fleet.web import fleetdata, queries
from fleet.web.i18n import Translator
from fleet.web.render import error_page, page, refuse_post, refuse_viewer, require_user, translator
from fleet.web.session import Principal
from fleet.web.views.tech import parse_settings, setting_rows

router = APIRouter()

DEFAULT_BATCH_SIZE = 10  # the API's defaults, so the page and POST /api/v1/rollouts start alike
DEFAULT_THRESHOLD_PCT = 20


def refusal_text(t: Translator, exc: fleetdata.RolloutRefused) -> list[str]:
    """The service's refusal as sentences in the reader's language (one per refused setting)."""
    p = exc.params
    if exc.code == "settings":
        return [
            t("rollout.error_setting", name=name, value=value, reason=t("keystatus." + status))
            for name, value, status in p["problems"]
        ]
    messages = {
        "no_group": lambda: t("rollout.error_no_group", group=p["group"]),
        "no_settings": lambda: t("rollout.error_no_settings"),
        "batch_size": lambda: t("rollout.error_batch_size", value=p["value"]),
        "failure_threshold": lambda: t("rollout.error_failure_threshold", value=p["value"]),
        "no_members": lambda: t("rollout.error_no_members", group=p["group"]),
        "group_busy": lambda: t(
            "rollout.error_group_busy", group=p["group"], id=p["id"], state=t("rollout." + p["state"])
        ),
        "no_rollout": lambda: t("rollout.error_no_rollout", id=p["id"]),
        "not_halted": lambda: t("rollout.error_not_halted", id=p["id"]),
        "finished": lambda: t("rollout.error_finished", id=p["id"]),
    }
    wording = messages.get(exc.code)
    return [wording() if wording else str(exc)]


def _form_context(
    t: Translator,
    groups: list[dict],
    group: str,
    typed: dict | None = None,
    batch_size: str = str(DEFAULT_BATCH_SIZE),
    threshold: str = str(DEFAULT_THRESHOLD_PCT),
    errors: list[str] | None = None,
) -> dict:
    """The start form: group choice, one row per setting, batch size and threshold, as typed or pre-filled."""
    chosen = next((g for g in groups if g["name"] == group), None)
    current = chosen["config"] if chosen else {}
    return {
        "groups": groups,
        "group": group,
        "prefilled": chosen is not None and typed is None and bool(current),
        "rows": setting_rows(t, current, current, {}, typed),
        "batch_size": batch_size,
        "threshold": threshold,
        "errors": errors or [],
        "open": bool(errors) or chosen is not None,
    }


def _rollouts_page(
    request: Request,
    user: Principal,
    t: Translator,
    form: dict,
    status_code: int = 200,
    started: int | None = None,
):  # noqa: ANN202
    """The page: the start form, then the newest rollouts with their progress (a just started one on top,
    named in the flash)."""
    with fleetdata.session(request) as db:
        rows = queries.rollout_progress(db)
    new = next((r for r in rows if r["id"] == started), None)
    flash = t("rollout.started", id=new["id"], group=new["group"]) if new else None
    ctx = {"rollouts": rows, "form": form, "flash": flash}
    return page(request, "tech_rollouts.html", ctx, status_code=status_code, user=user, t=t)


@router.get("/tech/rollouts")
def rollouts(request: Request, group: str = "", started: str = "", user: Principal = Depends(require_user)):
    t = translator(request)
    if (refused := refuse_viewer(request, user, t)) is not None:
        return refused
    with fleetdata.session(request) as db:
        groups = queries.rollout_groups(db)
    form = _form_context(t, groups, group)
    return _rollouts_page(request, user, t, form, started=int(started) if started.isdigit() else None)


def _whole_number(text: str, label: str, t: Translator, errors: list[str]) -> int | None:
    try:
        return int(text)
    except ValueError:
        errors.append(t("tech.config_not_number", name=label, value=text))
        return None


@router.post("/tech/rollouts")
async def start_rollout(request: Request, user: Principal = Depends(require_user)):
    """Start a staged rollout to a group; a refusal re-renders the form with the reason and what was typed,
    and nothing is created. Success goes back to the page with the new rollout's progress on top."""
    t = translator(request)
    form = await request.form()
    if (refused := refuse_post(request, user, str(form.get("csrf", "")), t)) is not None:
        return refused
    group = str(form.get("group", "")).strip()
    batch_text = str(form.get("rollout_batch_size", "")).strip()
    threshold_text = str(form.get("rollout_threshold_pct", "")).strip()
    typed, values, errors = parse_settings(form, t)
    batch_size = _whole_number(batch_text, t("rollout.batch_size"), t, errors)
    threshold = _whole_number(threshold_text, t("rollout.threshold"), t, errors)
    if not group:
        errors.insert(0, t("rollout.error_choose_group"))
    rollout_id = None
    with fleetdata.session(request) as db:
        if not errors:
            try:
                rollout_id = fleetdata.start_rollout(
                    request,
                    db,
                    group,
                    values,
                    batch_size=batch_size,
                    failure_threshold_pct=threshold,
                    author=user.name,
                )
            except fleetdata.RolloutRefused as exc:
                errors.extend(refusal_text(t, exc))
        groups = queries.rollout_groups(db) if errors else []
    if errors:
        form_ctx = _form_context(t, groups, group, typed, batch_text, threshold_text, errors)
        return _rollouts_page(request, user, t, form_ctx, status_code=400)
    return RedirectResponse(f"/tech/rollouts?started={rollout_id}#rollout-{rollout_id}", status_code=303)


@router.post("/tech/rollouts/{rollout_id}/{action}")
async def rollout_action(
    request: Request, rollout_id: int, action: str, user: Principal = Depends(require_user)
):
    """Resume a halted rollout after fixing the cause, or abort one; a refusal says why."""
    t = translator(request)
    form = await request.form()
    if (refused := refuse_post(request, user, str(form.get("csrf", "")), t)) is not None:
        return refused
    if action not in ("resume", "abort"):
        return error_page(request, 404, t("error.not_found"), t("error.not_found"), user, t)
    with fleetdata.session(request) as db:
        try:
            fleetdata.rollout_action(request, db, rollout_id, action)
        except fleetdata.RolloutRefused as exc:
            status = 404 if exc.code == "no_rollout" else 409
            message = " ".join(refusal_text(t, exc))
            return error_page(request, status, t("error.bad_request"), message, user, t)
    return RedirectResponse(f"/tech/rollouts#rollout-{rollout_id}", status_code=303)
