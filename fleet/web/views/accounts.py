"""People's accounts on the pages: sign-in with user name and password, the phone sign-in QR (a one-time
link shown on a signed-in page), the own account page, and the admin's user management.

Every rule (hashing, lockout, single use, expiry, who may sign in) is fleet.services.accounts'; this
module words its refusals (`AccountError.code`) in the reader's language.
"""

import hashlib
import hmac
import secrets
from datetime import UTC, datetime

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse

from fleet.models import UserAccount
from fleet.services import accounts
from fleet.web import fleetdata
from fleet.web.i18n import Translator
from fleet.web.render import check_csrf, error_page, page, refuse_post, require_user, translator
from fleet.web.session import ROLES, Principal
from fleet.web.views.auth import secure_cookies, signin_csrf, start_session

router = APIRouter()


def refusal(t: Translator, exc: accounts.AccountError) -> str:
    """An account refusal in the reader's words (the codes are the service's)."""
    params = dict(exc.params)
    if "seconds" in params:
        params["span"] = t.duration(int(params.pop("seconds")))
    return t(
        f"account.error.{exc.code}",
        min=t.number(accounts.PASSWORD_MIN),
        max=t.number(accounts.PASSWORD_MAX),
        **params,
    )


def password_signin(request: Request, t: Translator, username: str, password: str, target: str):  # noqa: ANN201
    """POST /signin with a user name: the session of that account, or the form again with the reason."""
    if not username.strip() or not password:
        error, status = t("signin.missing_password"), 400
    else:
        with fleetdata.session(request) as db:
            try:
                account = accounts.authenticate(db, username, password)
            except accounts.AccountError as exc:
                error, status = refusal(t, exc), 401
            else:
                return start_session(request, fleetdata.account_principal(account), target)
    return page(
        request,
        "signin.html",
        {
            "next_url": target,
            "error": error,
            "username": username.strip()[:60],
            "signin_csrf": signin_csrf(request),
        },
        status_code=status,
        t=t,
    )


# --- the phone scans a sign-in QR ----------------------------------------------------------------------
LINK_CHECK_COOKIE = "kumpel_link_check"


def _link_check(request: Request, nonce: str, raw: str) -> str:
    """The form's proof that the POST comes from the page this browser was shown: an HMAC of a nonce
    kept in a SameSite=Strict cookie. Another site cannot make a browser POST the link (login CSRF:
    signing someone in as the attacker's account) because it neither sends the cookie nor knows it."""
    message = f"signin-link:{nonce}:{raw}".encode()
    return hmac.new(fleetdata.secret_key(request).encode(), message, hashlib.sha256).hexdigest()[:32]


@router.get("/signin/link/{raw}")
def signin_link(request: Request, raw: str):
    """Whose sign-in link this is, with one button: link previews and scanners that only look (GET) do
    not use it up; the POST does."""
    t = translator(request)
    with fleetdata.session(request) as db:
        try:
            account = accounts.peek_link(db, raw)
        except accounts.AccountError as exc:
            return error_page(request, 410, t("signin.link_title"), refusal(t, exc), t=t)
        nonce = secrets.token_urlsafe(16)
        context = {
            "who": account.display_name,
            "role": account.role,
            "raw": raw,
            "check": _link_check(request, nonce, raw),
        }
    response = page(request, "signin_link.html", context, t=t)
    response.set_cookie(
        LINK_CHECK_COOKIE,
        nonce,
        max_age=accounts.LINK_SECONDS,
        httponly=True,
        samesite="strict",
        secure=secure_cookies(request),
        path="/signin/link",
    )
    return response


@router.post("/signin/link/{raw}")
def redeem_signin_link(request: Request, raw: str, check: str = Form("")):
    t = translator(request)
    nonce = request.cookies.get(LINK_CHECK_COOKIE, "")
    if not nonce or not hmac.compare_digest(check, _link_check(request, nonce, raw)):
        return error_page(request, 403, t("signin.link_title"), t("error.csrf"), t=t)  # the link stays unused
    with fleetdata.session(request) as db:
        try:
            account = accounts.redeem_link(db, raw)
        except accounts.AccountError as exc:
            return error_page(request, 410, t("signin.link_title"), refusal(t, exc), t=t)
        principal = fleetdata.account_principal(account)
    response = start_session(request, principal, "/")
    response.delete_cookie(LINK_CHECK_COOKIE, path="/signin/link")
    return response


# --- my account ------------------------------------------------------------------------------------------
def _account_page(request: Request, user: Principal, t: Translator, **extra: object):  # noqa: ANN202
    with fleetdata.session(request) as db:
        account = fleetdata.account_of(db, user)
        context = {
            "account": None
            if account is None
            else {"username": account.username, "display_name": account.display_name, "role": account.role},
            "link": None,
            "password_min": accounts.PASSWORD_MIN,
        }
    context.update(extra)
    status = int(context.pop("status", 200))
    return page(request, "account.html", context, status_code=status, user=user, t=t)


def _refuse_own_post(
    request: Request, user: Principal, csrf: str, t: Translator, account: UserAccount | None
) -> HTMLResponse | None:
    """Every POST about the own account passes the CSRF token, then needs an account to act on (a token
    session has none): the refusal page, or None when the POST may go through."""
    if not check_csrf(request, csrf):
        return error_page(request, 403, t("error.forbidden"), t("error.csrf"), user, t)
    if account is None:
        return error_page(request, 400, t("error.bad_request"), t("account.token_session"), user, t)
    return None


@router.get("/account")
def account_page(request: Request, user: Principal = Depends(require_user)):
    return _account_page(request, user, translator(request))


@router.post("/account/phone")
def show_phone_link(request: Request, csrf: str = Form(""), user: Principal = Depends(require_user)):
    """A fresh one-time sign-in link for this account, as a QR code to scan with the phone."""
    t = translator(request)
    with fleetdata.session(request) as db:
        account = fleetdata.account_of(db, user)
        if (refused := _refuse_own_post(request, user, csrf, t, account)) is not None:
            return refused
        try:
            raw, expires = accounts.issue_link(db, account)
        except accounts.AccountError as exc:
            return error_page(request, 403, t("error.forbidden"), refusal(t, exc), user, t)
    url = fleetdata.signin_link_url(request, raw)
    link = {
        "url": url,
        "svg": fleetdata.qr_svg_for(url),
        "expires": expires,
        "minutes": accounts.LINK_SECONDS // 60,
    }
    return _account_page(request, user, t, link=link)


@router.post("/account/password")
def change_password(
    request: Request,
    current: str = Form(""),
    new: str = Form(""),
    repeat: str = Form(""),
    csrf: str = Form(""),
    user: Principal = Depends(require_user),
):
    """A new password for the own account; it ends every other session (and this one: sign in again)."""
    t = translator(request)
    with fleetdata.session(request) as db:
        account = fleetdata.account_of(db, user)
        if (refused := _refuse_own_post(request, user, csrf, t, account)) is not None:
            return refused
        try:
            accounts.authenticate(db, account.username, current)
            if new != repeat:
                raise accounts.AccountError("mismatch", "the two new passwords differ")
            accounts.set_password(db, account, new)
            db.commit()
        except accounts.AccountError as exc:
            db.rollback()
            return _account_page(request, user, t, flash=refusal(t, exc), flash_error=True, status=400)
    return RedirectResponse("/signin?next=/account", status_code=303)


# --- the admin's user management -------------------------------------------------------------------------
def _refuse_non_admin(request: Request, user: Principal, t: Translator):  # noqa: ANN202
    if user.role == "admin":
        return None
    return error_page(request, 403, t("error.forbidden"), t("users.admin_only"), user, t)


def _users_page(request: Request, user: Principal, t: Translator, status: int = 200, **extra: object):  # noqa: ANN202
    with fleetdata.session(request) as db:
        me = fleetdata.account_of(db, user)
        rows = [
            {
                "id": a.id,
                "username": a.username,
                "display_name": a.display_name,
                "role": a.role,
                "disabled": a.disabled_at is not None,
                "last_signin": a.last_signin_at,
                "me": me is not None and me.id == a.id,
            }
            for a in accounts.all_accounts(db)
        ]
    context = {"users": rows, "roles": ROLES, "form": {}, "password_min": accounts.PASSWORD_MIN}
    context.update(extra)
    return page(request, "admin_users.html", context, status_code=status, user=user, t=t)


@router.get("/admin/users")
def users_page(request: Request, flash: str = "", user: Principal = Depends(require_user)):
    t = translator(request)
    if (refused := _refuse_non_admin(request, user, t)) is not None:
        return refused
    shown = t(flash) if flash in ("users.added", "users.changed") else None
    return _users_page(request, user, t, flash=shown)


@router.post("/admin/users")
def add_user(
    request: Request,
    username: str = Form(""),
    display_name: str = Form(""),
    role: str = Form("technician"),
    password: str = Form(""),
    csrf: str = Form(""),
    user: Principal = Depends(require_user),
):
    t = translator(request)
    if (refused := _refuse_non_admin(request, user, t) or refuse_post(request, user, csrf, t)) is not None:
        return refused
    with fleetdata.session(request) as db:
        try:
            accounts.create(db, username=username, password=password, role=role, display_name=display_name)
            db.commit()
        except accounts.AccountError as exc:
            db.rollback()
            form = {"username": username, "display_name": display_name, "role": role}
            return _users_page(request, user, t, 400, flash=refusal(t, exc), flash_error=True, form=form)
    return RedirectResponse("/admin/users?flash=users.added", status_code=303)


@router.post("/admin/users/{user_id}")
def change_user(
    request: Request,
    user_id: int,
    action: str = Form(""),
    role: str = Form(""),
    password: str = Form(""),
    csrf: str = Form(""),
    user: Principal = Depends(require_user),
):
    """Disable or enable an account, give it another role, or set a new password (each ends its sessions)."""
    t = translator(request)
    if (refused := _refuse_non_admin(request, user, t) or refuse_post(request, user, csrf, t)) is not None:
        return refused
    with fleetdata.session(request) as db:
        account = db.get(UserAccount, user_id)
        if account is None:
            return error_page(request, 404, t("error.not_found"), t("users.no_such", id=user_id), user, t)
        me = fleetdata.account_of(db, user)
        try:
            if me is not None and me.id == account.id and action in ("disable", "role"):
                raise accounts.AccountError("self", "admins cannot disable or demote themselves")
            if action == "disable":
                accounts.disable(db, account, datetime.now(UTC))
            elif action == "enable":
                accounts.enable(db, account)
            elif action == "role":
                accounts.set_role(db, account, role)
            elif action == "password":
                accounts.set_password(db, account, password)
            else:
                raise accounts.AccountError("bad_action", f"unknown action {action!r}")
            db.commit()
        except accounts.AccountError as exc:
            db.rollback()
            return _users_page(request, user, t, 400, flash=refusal(t, exc), flash_error=True)
    return RedirectResponse("/admin/users?flash=users.changed", status_code=303)
