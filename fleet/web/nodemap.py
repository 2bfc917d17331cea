"""Where the nodes are: the map on the overview and the node page, and reading a typed position.

The map is a server-rendered SVG point plot first (works without JavaScript, without tiles, offline at
the depot): each node a dot in its state's colour, a link to its page. When the city's tile server is
configured (`KUMPEL_MAP_TILE_URL`) and Leaflet is installed (`make setup` copies it from npm into
`static/leaflet/`), `static/kumpel-map.js` turns the same points into a Leaflet map over those tiles.
Nothing is fetched from anywhere else: no CDN, no public tile server unless the city names one.

A position is typed as coordinates ("51.51360, 7.46530", German "51,5136; 7,4653", a phone's
"geo:51.5136,7.4653") or, when a Nominatim-compatible geocoder is configured (`KUMPEL_GEOCODER_URL`), an
address; on the map page a technician can also tap the map or use the phone's own location.
"""

import json
import math
import re
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import httpx
from sqlmodel import Session, col, select

from fleet.models import Device
from fleet.settings import Settings

HERE = Path(__file__).parent
# Where Leaflet's files are served from: copied here by `make setup` (ignored by git, shipped in a built
# package), else straight from the checkout's node_modules.
LEAFLET_DIRS = (HERE / "static" / "leaflet", HERE.parents[1] / "node_modules" / "leaflet" / "dist")
LEAFLET_FILES = ("leaflet.js", "leaflet.css")

WIDTH, HEIGHT, PAD = 360, 240, 14  # SVG user units; the plot scales to the page width
NEIGHBOUR_DEG = 0.02  # the node page also shows nodes within about 2 km
NEIGHBOUR_LIMIT = 60
GEOCODER_TIMEOUT_S = 6.0


class PositionError(ValueError):
    """A typed position the fleet cannot use; `code` names why for the page's wording."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code


@dataclass
class Position:
    lat: float
    lon: float
    label: str = ""  # what the geocoder found, to show the crew which place it picked


# --- reading a typed position --------------------------------------------------------------------------
_NUM = r"[-+]?\d{1,3}(?:[.,]\d+)?"
_DOT_PAIR = re.compile(r"\s*([-+]?\d{1,3}(?:\.\d+)?)\s*[,;\s]\s*([-+]?\d{1,3}(?:\.\d+)?)\s*")
_COMMA_PAIR = re.compile(rf"\s*({_NUM})\s*(?:;|\s)\s*({_NUM})\s*")


def parse_coordinates(text: str) -> Position | None:
    """Coordinates as crews type or share them, or None when the text is not a coordinate pair."""
    text = text.strip()
    if text.lower().startswith("geo:"):  # RFC 5870, what a phone's "share location" gives
        text = text[4:].split(";", 1)[0].split("?", 1)[0]
    match = _DOT_PAIR.fullmatch(text) or _COMMA_PAIR.fullmatch(text)
    if match is None:
        return None
    lat, lon = (float(part.replace(",", ".")) for part in match.groups())
    return check(lat, lon)


def check(lat: float, lon: float) -> Position:
    if not (-90 <= lat <= 90 and -180 <= lon <= 180) or math.isnan(lat) or math.isnan(lon):
        raise PositionError("out_of_range", "latitude must be within -90..90 and longitude within -180..180")
    if lat == 0 and lon == 0:  # what a GPS without a fix reports
        raise PositionError("null_island", "0, 0 is not a position (a GPS without a fix reports it)")
    return Position(round(lat, 6), round(lon, 6))


def geocode(cfg: Settings, address: str) -> Position:
    """The first match of a Nominatim-compatible /search (JSON, `lat`/`lon` as strings, `display_name`),
    as https://nominatim.org/release-docs/latest/api/Search/ documents it."""
    try:
        response = httpx.get(
            cfg.geocoder_url,
            params={"q": address, "format": "jsonv2", "limit": 1},
            headers={"User-Agent": "kumpel-fleet (city sensor network)", "Accept-Language": "de,en"},
            timeout=GEOCODER_TIMEOUT_S,
        )
        response.raise_for_status()
        found = response.json()
    except (httpx.HTTPError, ValueError) as exc:
        raise PositionError("geocoder_down", f"the address search did not answer: {exc}") from exc
    if not isinstance(found, list) or not found:
        raise PositionError("not_found", f"no place found for {address!r}")
    try:
        position = check(float(found[0]["lat"]), float(found[0]["lon"]))
    except (KeyError, TypeError, ValueError) as exc:
        raise PositionError("geocoder_down", "the address search answered something unreadable") from exc
    position.label = str(found[0].get("display_name", ""))[:200]
    return position


def parse_position(cfg: Settings, text: str) -> Position:
    """Coordinates first; anything else is an address for the geocoder, when one is configured."""
    if not text.strip():
        raise PositionError("empty", "type coordinates or an address")
    position = parse_coordinates(text)
    if position is not None:
        return position
    if not cfg.geocoder_url:
        raise PositionError("not_coordinates", "type coordinates like 51.51360, 7.46530")
    return geocode(cfg, text.strip())


# --- drawing -------------------------------------------------------------------------------------------
def point(device: Device, state: str, name: str, url: str) -> dict | None:
    if device.lat is None or device.lon is None:
        return None
    eui = device.dev_eui
    return {"lat": device.lat, "lon": device.lon, "state": state, "name": name, "url": url, "eui": eui}


def _bounds(points: list[dict]) -> tuple[float, float, float, float]:
    south, north = min(p["lat"] for p in points), max(p["lat"] for p in points)
    west, east = min(p["lon"] for p in points), max(p["lon"] for p in points)
    pad = 0.002  # a lone node still gets a few hundred metres around it
    return south - pad, north + pad, west - pad, east + pad


def plot_svg(points: list[dict], title: str, state_words: dict[str, str], focus: str = "") -> str:
    """An SVG point plot, north up, metres the same both ways (equirectangular at the mean latitude);
    each node a link to its page. The bounds ride along as data attributes for the map script."""
    south, north, west, east = _bounds(points)
    x_scale = math.cos(math.radians((south + north) / 2))
    span_x, span_y = (east - west) * x_scale, north - south
    scale = min((WIDTH - 2 * PAD) / span_x, (HEIGHT - 2 * PAD) / span_y)
    off_x = (WIDTH - span_x * scale) / 2
    off_y = (HEIGHT - span_y * scale) / 2

    def xy(p: dict) -> tuple[float, float]:
        return (off_x + (p["lon"] - west) * x_scale * scale, off_y + (north - p["lat"]) * scale)

    def esc(text: str) -> str:
        return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")

    parts = [
        f'<svg class="plot" viewBox="0 0 {WIDTH} {HEIGHT}" role="group" aria-labelledby="map-title" '
        f'data-south="{south:.6f}" data-north="{north:.6f}" data-west="{west:.6f}" data-east="{east:.6f}">',
        f'<title id="map-title">{esc(title)}</title>',
        f'<rect class="frame" x="0.5" y="0.5" width="{WIDTH - 1}" height="{HEIGHT - 1}"/>',
        '<text class="north" x="10" y="18">N ↑</text>',
    ]
    # the focused node last, so it is drawn on top
    for p in sorted(points, key=lambda p: p["eui"] == focus):
        x, y = xy(p)
        radius = 9 if p["eui"] == focus else 6
        label = f"{p['name']}: {state_words.get(p['state'], p['state'])}"
        ring = f'<circle class="ring" cx="{x:.1f}" cy="{y:.1f}" r="13"/>' if p["eui"] == focus else ""
        parts.append(
            f'<a href="{esc(p["url"])}" aria-label="{esc(label)}">{ring}'
            f'<circle class="pt state-{esc(p["state"])}" cx="{x:.1f}" cy="{y:.1f}" r="{radius}">'
            f"<title>{esc(label)}</title></circle></a>"
        )
    parts.append("</svg>")
    return "".join(parts)


def tile_origin(cfg: Settings) -> str:
    """scheme://host[:port] of the tile server, for the page's Content-Security-Policy (img-src)."""
    if not cfg.map_tile_url:
        return ""
    parts = urlsplit(cfg.map_tile_url.replace("{s}", "s-placeholder"))
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return ""
    # Leaflet's {s} picks a subdomain (a., b., c.): CSP's wildcard host covers them all
    return f"{parts.scheme}://{parts.netloc.replace('s-placeholder', '*')}"


def leaflet_dir() -> Path | None:
    for folder in LEAFLET_DIRS:
        if all((folder / name).is_file() for name in LEAFLET_FILES):
            return folder
    return None


def _center(cfg: Settings) -> Position | None:
    try:
        return parse_coordinates(cfg.map_center) if cfg.map_center else None
    except PositionError:
        return None


def view(cfg: Settings, points: list[dict], title: str, state_words: dict[str, str], focus: str = "") -> dict:
    """What the map partial renders: the SVG plot, the points for Leaflet, and the tile settings. With
    tiles but no located node yet, an empty Leaflet map at the city's centre (to tap a first position)."""
    tiles = cfg.map_tile_url if tile_origin(cfg) and leaflet_dir() is not None else ""
    center = _center(cfg)
    if not points and not (tiles and center):
        return {"show": False, "points": [], "svg": "", "tiles": "", "json": "{}"}
    return {
        "show": True,
        "points": points,
        "svg": plot_svg(points, title, state_words, focus) if points else "",
        "tiles": tiles,
        "attribution": cfg.map_tile_attribution,
        "max_zoom": cfg.map_tile_max_zoom,
        "focus": focus,
        "json": _script_json(
            {
                "points": [[p["lat"], p["lon"], p["state"], p["name"], p["url"], p["eui"]] for p in points],
                "center": [center.lat, center.lon] if center else None,
            }
        ),
    }


def _script_json(data: object) -> str:
    """JSON safe inside <script type="application/json">: a node named "</script>" cannot end the block."""
    text = json.dumps(data, separators=(",", ":"))
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def neighbours(db: Session, device: Device, limit: int = NEIGHBOUR_LIMIT) -> list[Device]:
    """Located nodes around `device` (itself included), nearest first by a flat-earth distance. A node
    without a position yet gets located nodes of the fleet, to find its own spot among them."""
    if device.lat is None or device.lon is None:
        return list(db.exec(select(Device).where(col(Device.lat).is_not(None)).limit(limit)))
    rows = db.exec(
        select(Device).where(
            col(Device.lat).between(device.lat - NEIGHBOUR_DEG, device.lat + NEIGHBOUR_DEG),
            col(Device.lon).between(device.lon - NEIGHBOUR_DEG, device.lon + NEIGHBOUR_DEG),
        )
    ).all()
    rows.sort(key=lambda d: (d.lat - device.lat) ** 2 + ((d.lon - device.lon) * 0.6) ** 2)
    return rows[:limit]
