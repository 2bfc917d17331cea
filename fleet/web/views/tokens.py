"""Admin page: every API token with its role, last use and expiry; revoke one (CSRF-checked form)."""

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import RedirectResponse

from fleet.models import utcnow
from fleet.services import tokens
from fleet.web import fleetdata
from fleet.web.render import error_page, page, refuse_post, require_user, translator
from fleet.web.session import Principal

router = APIRouter()


def _refuse_non_admin(request: Request, user: Principal, t):  # noqa: ANN001, ANN202
    if user.role == "admin":
        return None
    return error_page(
        request, 403, t("error.forbidden"), t("error.forbidden_text", role=t("role." + user.role)), user, t
    )


def _state(tok, now) -> str:  # noqa: ANN001
    if tok.revoked_at:
        return "revoked"
    return "expired" if tok.expires_at and tok.expires_at <= now else "active"


@router.get("/admin/tokens")
def token_list(request: Request, user: Principal = Depends(require_user)):
    t = translator(request)
    if (refused := _refuse_non_admin(request, user, t)) is not None:
        return refused
    now = utcnow()
    with fleetdata.session(request) as db:
        rows = [
            {
                "id": tok.id,
                "name": tok.name,
                "role": tok.role,
                "created": tok.created_at,
                "last_used": tok.last_used_at,
                "expires": tok.expires_at,
                "state": _state(tok, now),
                "own": user.kind == "token" and user.ident == str(tok.id),
            }
            for tok in tokens.listing(db)
        ]
    words = {
        "active": t("tokens.state_active"),
        "expired": t("tokens.state_expired"),
        "revoked": t("tokens.state_revoked"),
    }
    for row in rows:
        row["state_words"] = words[row["state"]]
    return page(request, "admin_tokens.html", {"rows": rows}, user=user, t=t)


@router.post("/admin/tokens/{token_id}/revoke")
def token_revoke(
    request: Request, token_id: int, csrf: str = Form(""), user: Principal = Depends(require_user)
):
    t = translator(request)
    if (refused := _refuse_non_admin(request, user, t)) is not None:
        return refused
    if (refused := refuse_post(request, user, csrf, t)) is not None:
        return refused
    with fleetdata.session(request) as db:
        if not 1 <= token_id <= 2**31 - 1 or tokens.revoke(db, token_id) is None:
            return error_page(request, 404, t("error.not_found"), t("tokens.none", id=token_id), user, t)
        db.commit()
    return RedirectResponse("/admin/tokens", status_code=303)
