"""All field-crew pages as one APIRouter, exported as `fleet.web.router` for fleet.app.create_app."""

from fastapi import APIRouter, HTTPException
from fastapi.responses import Response

from fleet.web import nodemap
from fleet.web.render import STATIC_DIR, leaflet_version, static_version
from fleet.web.views import (
    accounts,
    auth,
    collection,
    devices,
    node,
    overview,
    public,
    report,
    rollouts,
    tech,
    tokens,
    where,
)

router = APIRouter(include_in_schema=False)
router.include_router(auth.router)
router.include_router(overview.router)
router.include_router(node.router)
router.include_router(tech.router)
router.include_router(rollouts.router)
router.include_router(devices.router)
router.include_router(accounts.router)
router.include_router(where.router)
router.include_router(public.router)
router.include_router(collection.router)
router.include_router(report.router)
router.include_router(tokens.router)

_TYPES = {
    ".css": "text/css; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".svg": "image/svg+xml",
    ".png": "image/png",
}
_LEAFLET_IMAGES = ("layers", "layers-2x", "marker-icon", "marker-icon-2x", "marker-shadow")
_LEAFLET = {"leaflet.js", "leaflet.css"} | {f"images/{n}.png" for n in _LEAFLET_IMAGES}


@router.get("/static/web/leaflet/{name:path}")
def leaflet_file(name: str, v: str = ""):
    """Leaflet, as npm installed it (BSD-2-Clause; its licence file travels with it): never from a CDN."""
    folder = nodemap.leaflet_dir()
    if name not in _LEAFLET or folder is None or not (folder / name).is_file():
        raise HTTPException(404, f"no Leaflet file {name!r} (run make setup: it copies Leaflet from npm)")
    path = folder / name
    fresh = v and v == leaflet_version(name)
    cache = "public, max-age=31536000, immutable" if fresh else "public, max-age=300"
    return Response(path.read_bytes(), media_type=_TYPES[path.suffix], headers={"Cache-Control": cache})


@router.get("/static/web/{name}")
def static_file(name: str, v: str = ""):
    """Our own few assets (no CDN: the depot may be offline); cached for a year when the URL is versioned."""
    path = STATIC_DIR / name
    if "/" in name or name.startswith(".") or not path.is_file() or path.suffix not in _TYPES:
        raise HTTPException(404, f"no static file {name!r}")
    cache = "public, max-age=31536000, immutable" if v == static_version(name) else "public, max-age=300"
    return Response(path.read_bytes(), media_type=_TYPES[path.suffix], headers={"Cache-Control": cache})
