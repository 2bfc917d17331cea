"""Sign-in, sign-out and the language switch."""

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse

from fleet.web import fleetdata
from fleet.web.i18n import LANG_COOKIE, LANGUAGES
from fleet.web.render import optional_user, page, safe_next, translator
from fleet.web.session import SESSION_COOKIE, SESSION_SECONDS, Principal, sign

router = APIRouter()


def _secure(request: Request) -> bool:
    return fleetdata.settings(request).public_url.startswith("https://")


@router.get("/signin", include_in_schema=False)
def signin_form(request: Request, next: str = "/"):
    if optional_user(request) is not None:
        return RedirectResponse(safe_next(next), status_code=303)
    return page(request, "signin.html", {"next_url": safe_next(next), "error": None})


@router.post("/signin", include_in_schema=False)
def signin(
    request: Request,
    token: str = Form(""),
    next: str = Form("/"),
    username: str = Form(""),
    password: str = Form(""),
):
    t = translator(request)
    target = safe_next(next)
    if username.strip() or password:  # people sign in with an account; a token is for machines and admins
        from fleet.web.views import accounts  # (it starts sessions with this module's start_session)

        return accounts.password_signin(request, t, username, password, target)
    if not token.strip():
        return page(
            request,
            "signin.html",
            {"next_url": target, "error": t("signin.missing")},
            status_code=400,
            t=t,
        )
    principal = fleetdata.sign_in_token(request, token)
    if principal is None:
        return page(
            request,
            "signin.html",
            {"next_url": target, "error": t("signin.failed")},
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
        secure=_secure(request),
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
            LANG_COOKIE, code, max_age=365 * 86400, samesite="lax", path="/", secure=_secure(request)
        )
    return response
