"""All field-crew pages as one APIRouter, exported as `fleet.web.router` for fleet.app.create_app."""

from fastapi import APIRouter, HTTPException
from fastapi.responses import Response

from fleet.web.render import STATIC_DIR, static_version
from fleet.web.views import auth, devices, node, overview, rollouts, tech, tokens

router = APIRouter(include_in_schema=False)
router.include_router(auth.router)
router.include_router(overview.router)
router.include_router(node.router)
router.include_router(tech.router)
router.include_router(rollouts.router)
router.include_router(devices.router)
router.include_router(tokens.router)

_TYPES = {".css": "text/css; charset=utf-8", ".js": "text/javascript; charset=utf-8", ".svg": "image/svg+xml"}


@router.get("/static/web/{name}")
def static_file(name: str, v: str = ""):
    """Our own few assets (no CDN: the depot may be offline); cached for a year when the URL is versioned."""
    path = STATIC_DIR / name
    if "/" in name or name.startswith(".") or not path.is_file() or path.suffix not in _TYPES:
        raise HTTPException(404, f"no static file {name!r}")
    cache = "public, max-age=31536000, immutable" if v == static_version(name) else "public, max-age=300"
    return Response(path.read_bytes(), media_type=_TYPES[path.suffix], headers={"Cache-Control": cache})
