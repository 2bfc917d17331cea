"""Rendering and request context shared by every page: language, signed-in user, CSRF, templates.

Pages call `page(request, "node.html", {...})`; the base context (translator, user, language links,
static URLs with a content hash for long caching) is filled in here, once.
"""

import hashlib
import hmac
from functools import cache
from pathlib import Path
from urllib.parse import quote, urlsplit

from fastapi import HTTPException, Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment, FileSystemLoader, select_autoescape

from fleet.web import fleetdata, nodemap
from fleet.web.i18n import CITY_TZ, LANG_COOKIE, LANGUAGES, Translator, negotiate
from fleet.web.session import SESSION_COOKIE, Principal, verify

HERE = Path(__file__).parent
STATIC_DIR = HERE / "static"
STATIC_PREFIX = "/static/web/"

# Only our own assets; inline style attributes (gauge widths) but no inline or foreign script; no framing.
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
    "script-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}

_env = Environment(
    loader=FileSystemLoader(HERE / "templates"),
    autoescape=select_autoescape(("html", "svg")),
    trim_blocks=True,
    lstrip_blocks=True,
)


@cache
def static_version(name: str) -> str:
    """A short content hash, so a changed stylesheet gets a new URL and old ones can be cached for a year."""
    return hashlib.sha256((STATIC_DIR / name).read_bytes()).hexdigest()[:10]


def static_url(name: str) -> str:
    return f"{STATIC_PREFIX}{name}?v={static_version(name)}"


@cache
def leaflet_version(name: str) -> str:
    folder = nodemap.leaflet_dir()
    return hashlib.sha256((folder / name).read_bytes()).hexdigest()[:10] if folder else ""


def leaflet_url(name: str) -> str:
    """Leaflet's own files, served by the fleet from the npm package (see nodemap.LEAFLET_DIRS)."""
    return f"{STATIC_PREFIX}leaflet/{name}?v={leaflet_version(name)}"


def translator(request: Request) -> Translator:
    return Translator(negotiate(request.cookies.get(LANG_COOKIE), request.headers.get("accept-language")))


def safe_next(target: str | None) -> str:
    """Only ever redirect to a path on this site (no open redirect through ?next=)."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    parts = urlsplit(target)
    if parts.scheme or parts.netloc:
        return "/"
    return target


def current_path(request: Request) -> str:
    query = request.url.query
    return request.url.path + (f"?{query}" if query else "")


def optional_user(request: Request) -> Principal | None:
    """The signed-in principal, re-checked against the fleet (a revoked token ends the session)."""
    principal = verify(fleetdata.secret_key(request), request.cookies.get(SESSION_COOKIE))
    if principal is None:
        return None
    return fleetdata.still_valid(request, principal)


def require_user(request: Request) -> Principal:
    """Dependency: the signed-in principal, or a redirect to the sign-in page that comes back here."""
    principal = optional_user(request)
    if principal is None:
        raise HTTPException(
            status_code=303, headers={"Location": f"/signin?next={quote(current_path(request))}"}
        )
    return principal


def csrf_token(request: Request) -> str:
    """Bound to the session cookie: a form from another site cannot know it."""
    session_value = request.cookies.get(SESSION_COOKIE, "")
    digest = hmac.new(
        fleetdata.secret_key(request).encode(), b"csrf:" + session_value.encode(), hashlib.sha256
    )
    return digest.hexdigest()[:32]


def check_csrf(request: Request, submitted: str | None) -> bool:
    return bool(submitted) and hmac.compare_digest(submitted, csrf_token(request))


def page(
    request: Request,
    template: str,
    context: dict | None = None,
    status_code: int = 200,
    user: Principal | None = None,
    t: Translator | None = None,
) -> HTMLResponse:
    """Render a page with the shared context; `t` and `user` may be passed when the view already has them."""
    t = t or translator(request)
    here = current_path(request)
    ctx = {
        "t": t,
        "user": user,
        "languages": LANGUAGES,
        "lang_url": lambda code: f"/lang/{code}?next={quote(here)}",
        "static_url": static_url,
        "leaflet_url": leaflet_url,
        "tz_name": str(CITY_TZ),
        "csrf": csrf_token(request) if user else "",
        "flash": None,
        "flash_error": False,
    }
    ctx.update(context or {})
    html = _env.get_template(template).render(ctx)
    response = HTMLResponse(html, status_code=status_code)
    response.headers.update(SECURITY_HEADERS)
    if tiles := nodemap.tile_origin(fleetdata.settings(request)):  # the city's tile server may send images
        response.headers["Content-Security-Policy"] = SECURITY_HEADERS["Content-Security-Policy"].replace(
            "img-src 'self' data:", f"img-src 'self' data: {tiles}"
        )
    response.headers["Cache-Control"] = "no-store"
    response.headers["Content-Language"] = t.lang
    response.headers["Vary"] = "Accept-Language, Cookie"
    return response


def error_page(
    request: Request,
    status_code: int,
    heading: str,
    message: str,
    user: Principal | None = None,
    t: Translator | None = None,
) -> HTMLResponse:
    return page(request, "error.html", {"heading": heading, "message": message}, status_code, user, t)


def refuse_viewer(request: Request, user: Principal, t: Translator) -> HTMLResponse | None:
    """The 403 page for a viewer on a technician page, or None for technicians and admins."""
    if user.can_operate:
        return None
    return error_page(
        request, 403, t("error.forbidden"), t("error.forbidden_text", role=t("role." + user.role)), user, t
    )


def refuse_post(request: Request, user: Principal, csrf: str, t: Translator) -> HTMLResponse | None:
    """Every form that changes something passes the same two gates, role first, then the CSRF token:
    the refusal page, or None when the POST may go through."""
    refused = refuse_viewer(request, user, t)
    if refused is None and not check_csrf(request, csrf):
        refused = error_page(request, 403, t("error.forbidden"), t("error.csrf"), user, t)
    return refused
