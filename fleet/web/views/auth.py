"""Sign-in, sign-out and the language switch.

Sign-in (token or password) is protected against login CSRF (another site's form signing the victim into
the attacker's account) like every other form, with a token: before sign-in there is no session to bind
it to, so the sign-in page sets its own random cookie (SameSite=Strict) and the form carries an HMAC of
it. A POST without both, or from another origin, is refused."""

import hashlib
import hmac
import secrets
from urllib.parse import urlsplit

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse

from fleet.web import fleetdata
from fleet.web.i18n import LANG_COOKIE, LANGUAGES
from fleet.web.render import error_page, optional_user, page, safe_next, translator
from fleet.web.session import SESSION_COOKIE, SESSION_SECONDS, Principal, sign

router = APIRouter()
SIGNIN_COOKIE = "kumpel_signin"


def secure_cookies(request: Request) -> bool:
    """Cookies carry Secure when the fleet is served over https (its public URL says so)."""
    return fleetdata.settings(request).public_url.startswith("https://")


def _signin_csrf(request: Request, nonce: str) -> str:
    key = fleetdata.secret_key(request).encode()
    return hmac.new(key, b"signin-csrf:" + nonce.encode(), hashlib.sha256).hexdigest()[:32]


def signin_csrf(request: Request) -> str:
    """The sign-in form's token for this browser (its sign-in cookie), for a form shown again."""
    return _signin_csrf(request, request.cookies.get(SIGNIN_COOKIE, ""))


def _same_origin(request: Request) -> bool:
    """A browser names the page a POST comes from; absent (old clients, scripts) is left to the token."""
    origin = request.headers.get("origin")
    if not origin or origin == "null":
        return origin is None
    ours = {urlsplit(fleetdata.settings(request).public_url).netloc, request.headers.get("host", "")}
    return urlsplit(origin).netloc in ours


@router.get("/signin", include_in_schema=False)
def signin_form(request: Request, next: str = "/"):
    if optional_user(request) is not None:
        return RedirectResponse(safe_next(next), status_code=303)
    nonce = request.cookies.get(SIGNIN_COOKIE) or secrets.token_urlsafe(24)
    response = page(
        request,
        "signin.html",
        {"next_url": safe_next(next), "error": None, "signin_csrf": _signin_csrf(request, nonce)},
    )
    response.set_cookie(
        SIGNIN_COOKIE,
        nonce,
        max_age=3600,
        httponly=True,
        samesite="strict",
        secure=secure_cookies(request),
        path="/",
    )
    return response


@router.post("/signin", include_in_schema=False)
def signin(
    request: Request,
    token: str = Form(""),
    next: str = Form("/"),
    username: str = Form(""),
    password: str = Form(""),
    csrf: str = Form(""),
):
    t = translator(request)
    target = safe_next(next)
    nonce = request.cookies.get(SIGNIN_COOKIE, "")
    if not (nonce and csrf and hmac.compare_digest(csrf, _signin_csrf(request, nonce))) or not _same_origin(
        request
    ):
        return error_page(request, 403, t("error.forbidden"), t("error.csrf"), None, t)
    if username.strip() or password:  # people sign in with an account; a token is for machines and admins
        from fleet.web.views import accounts  # (it starts sessions with this module's start_session)

        return accounts.password_signin(request, t, username, password, target)
    if not token.strip():
        return page(
            request,
            "signin.html",
            {"next_url": target, "error": t("signin.missing"), "signin_csrf": csrf},
            status_code=400,
            t=t,
        )
    principal = fleetdata.sign_in_token(request, token)
    if principal is None:
        return page(
            request,
            "signin.html",
            {"next_url": target, "error": t("signin.failed"), "signin_csrf": csrf},
            status_code=401,
            t=t,
        )
    return start_session(request, principal, target)


def start_session(request: Request, principal: Principal, target: str) -> RedirectResponse:
    """The signed session cookie for a principal who just proved who they are, and on to `target`."""
    response = RedirectResponse(target, status_code=303)
    response.set_cookie(
        SESSION_COOKIE,
        sign(fleetdata.secret_key(request), principal),
        max_age=SESSION_SECONDS,
        httponly=True,
        samesite="lax",
        secure=secure_cookies(request),
        path="/",
    )
    return response


@router.get("/signout", include_in_schema=False)
def signout(request: Request):
    response = RedirectResponse("/signin", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


@router.get("/lang/{code}", include_in_schema=False)
def switch_language(request: Request, code: str, next: str = "/"):
    """Remember the chosen language for a year and go back to the page the user was on."""
    response = RedirectResponse(safe_next(next), status_code=303)
    if code in LANGUAGES:
        response.set_cookie(
            LANG_COOKIE, code, max_age=365 * 86400, samesite="lax", path="/", secure=secure_cookies(request)
        )
    return response
