"""The map through HTTP: a technician sets a node's position on its page (coordinates, or an address through
a Nominatim-compatible geocoder), the overview and the node page plot where nodes are, Leaflet comes from
the fleet itself (the npm package), and the city's tile server is the only other origin the page may load
images from."""

import json
import re
import threading
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
import web_seed as seed
from sqlmodel import Session, select

from fleet.models import Device
from fleet.web import nodemap
from fleet.web.i18n import catalog

ROOT = Path(__file__).resolve().parents[2]
HEALTHY, SILENT, LOW = seed.HEALTHY, seed.SILENT, seed.LOW_BATTERY


@pytest.mark.parametrize(
    ("typed", "lat", "lon"),
    [
        ("51.51360, 7.46530", 51.5136, 7.4653),
        ("51.5136,7.4653", 51.5136, 7.4653),
        ("51.5136 7.4653", 51.5136, 7.4653),
        ("51,5136; 7,4653", 51.5136, 7.4653),  # as a German keyboard types it
        ("51,5136 7,4653", 51.5136, 7.4653),
        ("geo:51.5136,7.4653;u=12", 51.5136, 7.4653),  # RFC 5870, a phone's "share location"
        ("-33.8568, 151.2153", -33.8568, 151.2153),
    ],
)
def test_coordinates_as_crews_type_them(typed, lat, lon):
    position = nodemap.parse_coordinates(typed)
    assert (position.lat, position.lon) == (lat, lon)


@pytest.mark.parametrize(
    ("typed", "code"),
    [
        ("91, 7", "out_of_range"),
        ("51, 181", "out_of_range"),
        ("0, 0", "null_island"),
        ("Marktplatz 1", "not_coordinates"),
        ("  ", "empty"),
    ],
)
def test_unusable_positions_say_why(fleet, typed, code):
    with pytest.raises(nodemap.PositionError) as refused:
        nodemap.parse_position(fleet.cfg, typed)
    assert refused.value.code == code
    for lang in ("de", "en"):
        assert f"map.error.{code}" in catalog(lang)


def _csrf(html: str) -> str:
    return re.search(r'name="csrf" value="([0-9a-f]+)"', html).group(1)


def _set_position(client, dev_eui: str, typed: str):  # noqa: ANN001, ANN202
    page = client.get(f"/nodes/{dev_eui}")
    return client.post(
        f"/nodes/{dev_eui}/position",
        data={"position": typed, "csrf": _csrf(page.text)},
        follow_redirects=False,
    )


def _stored(fleet, dev_eui: str) -> tuple:  # noqa: ANN001
    with Session(fleet.engine) as db:
        device = db.exec(select(Device).where(Device.dev_eui == dev_eui)).one()
        return device.lat, device.lon


def _points(html: str) -> dict:
    return json.loads(
        re.search(r'<script type="application/json" id="map-points">(.*?)</script>', html, re.S).group(1)
    )


def test_positions_set_on_the_node_page_show_on_the_map(fleet, signed_in):
    tech = signed_in("technician", "de")
    assert "Standort (Breite, Länge)" in tech.get(f"/nodes/{HEALTHY}").text  # no position yet: the form
    r = _set_position(tech, HEALTHY, "51,5136; 7,4653")
    assert r.status_code == 303 and r.headers["location"] == f"/nodes/{HEALTHY}?flash=map.position_saved#map"
    assert _stored(fleet, HEALTHY) == (51.5136, 7.4653)
    assert _set_position(tech, SILENT, "51.5150, 7.4700").status_code == 303
    assert _set_position(tech, LOW, "51.5100 7.4600").status_code == 303  # the node with the hostile name

    page = tech.get(f"/nodes/{HEALTHY}?flash=map.position_saved")
    assert "Standort gespeichert." in page.text and 'value="51.513600, 7.465300"' in page.text
    svg = re.search(r'<svg class="plot".*?</svg>', page.text, re.S).group(0)
    assert svg.count('<circle class="pt') == 3 and 'class="ring"' in svg  # itself marked among neighbours
    assert f'href="/nodes/{SILENT}"' in svg
    points = _points(page.text)["points"]
    assert {p[5] for p in points} == {HEALTHY, SILENT, LOW}

    overview = tech.get("/")
    html = overview.text
    assert "<script>alert" not in html  # the hostile name is escaped in the SVG and the JSON alike
    assert "\\u003cscript\\u003e" in html.split('id="map-points">')[1]
    by_eui = {p[5]: p for p in _points(html)["points"]}
    assert by_eui[SILENT][2] == "offline" and by_eui[LOW][2] == "critical" and by_eui[HEALTHY][2] == "ok"
    assert "Karte der 3 gelisteten Knoten" in html
    assert "leaflet.js" not in html  # no tile server configured: the plain point plot only
    filtered = tech.get("/?state=offline").text  # the map follows the list's filter
    assert [p[5] for p in _points(filtered)["points"]] == [SILENT]


def test_a_bad_position_is_refused_with_the_reason_and_nothing_changes(fleet, signed_in):
    tech = signed_in("technician", "de")
    before = _stored(fleet, SILENT)
    for typed, text in (
        ("95, 7", "Die Breite muss zwischen -90 und 90 liegen"),
        ("0, 0", "0, 0 ist kein Standort"),
        ("Marktplatz 1", "keine Adresssuche eingerichtet"),
    ):
        r = _set_position(tech, SILENT, typed)
        assert r.status_code == 303 and "position_error=" in r.headers["location"]
        page = tech.get(r.headers["location"])
        assert text in page.text and f'value="{typed}"' in page.text  # what was typed stays in the field
        assert _stored(fleet, SILENT) == before


def test_viewers_see_the_map_but_cannot_move_nodes(fleet, signed_in):
    viewer = signed_in("viewer")
    page = viewer.get(f"/nodes/{HEALTHY}")
    assert 'id="position"' not in page.text
    r = viewer.post(f"/nodes/{HEALTHY}/position", data={"position": "52.0, 8.0", "csrf": "x"})
    assert r.status_code == 403
    tech = signed_in("technician")
    r = tech.post(f"/nodes/{HEALTHY}/position", data={"position": "52.0, 8.0"})  # no CSRF token
    assert r.status_code == 403 and _stored(fleet, HEALTHY) != (52.0, 8.0)


class _Nominatim(BaseHTTPRequestHandler):
    """Answers /search as Nominatim's documented jsonv2 output does (lat/lon are strings); see
    https://nominatim.org/release-docs/latest/api/Output/ . Knows one address."""

    seen: list = []

    def do_GET(self):  # noqa: N802
        query = parse_qs(urlsplit(self.path).query)
        type(self).seen.append((urlsplit(self.path).path, query, self.headers.get("User-Agent")))
        found = []
        if query.get("q", [""])[0].lower().startswith("friedensplatz 1"):
            found = [
                {
                    "place_id": 1234,
                    "licence": "Data © OpenStreetMap contributors, ODbL 1.0. http://osm.org/copyright",
                    "osm_type": "way",
                    "osm_id": 5678,
                    "lat": "51.5125",
                    "lon": "7.4680",
                    "category": "building",
                    "type": "yes",
                    "place_rank": 30,
                    "importance": 0.1,
                    "addresstype": "building",
                    "name": "",
                    "display_name": "1, Friedensplatz, Dortmund, Nordrhein-Westfalen, 44135, Deutschland",
                    "boundingbox": ["51.5124", "51.5126", "7.4679", "7.4681"],
                }
            ]
        body = json.dumps(found).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):  # noqa: ANN002
        pass


@contextmanager
def _geocoder(fleet):  # noqa: ANN001, ANN202
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Nominatim)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    fleet.app.state.settings.geocoder_url = f"http://127.0.0.1:{server.server_address[1]}/search"
    try:
        yield
    finally:
        fleet.app.state.settings.geocoder_url = ""
        server.shutdown()
        server.server_close()


def test_an_address_is_found_through_the_configured_geocoder(fleet, signed_in):
    tech = signed_in("technician", "de")
    with _geocoder(fleet):
        assert "Standort: Koordinaten oder Adresse" in tech.get(f"/nodes/{SILENT}").text
        assert _set_position(tech, SILENT, "Friedensplatz 1, Dortmund").status_code == 303
        assert _stored(fleet, SILENT) == (51.5125, 7.468)
        path, query, agent = _Nominatim.seen[-1]
        assert path == "/search" and query["format"] == ["jsonv2"] and query["limit"] == ["1"]
        assert agent.startswith("kumpel-fleet")  # Nominatim's usage policy wants a real User-Agent
        r = _set_position(tech, SILENT, "Nirgendwo 99")
        assert "Zu dieser Adresse wurde kein Ort gefunden" in tech.get(r.headers["location"]).text
        assert _stored(fleet, SILENT) == (51.5125, 7.468)
    fleet.app.state.settings.geocoder_url = "http://127.0.0.1:9/search"  # nothing listens there
    try:
        r = _set_position(tech, SILENT, "Friedensplatz 1, Dortmund")
        assert "Die Adresssuche antwortet nicht" in tech.get(r.headers["location"]).text
    finally:
        fleet.app.state.settings.geocoder_url = ""


def test_leaflet_is_served_by_the_fleet_from_the_npm_package(fleet):
    npm = ROOT / "node_modules" / "leaflet" / "dist"
    for name in ("leaflet.js", "leaflet.css", "images/layers.png"):
        r = fleet.anonymous.get(f"/static/web/leaflet/{name}")
        assert r.status_code == 200 and r.content == (npm / name).read_bytes()
    assert "Leaflet 1.9" in fleet.anonymous.get("/static/web/leaflet/leaflet.js").text[:200]
    for bad in ("leaflet-src.js", "%2e%2e/%2e%2e/pyproject.toml", "images%2f..%2fleaflet.js", "LICENSE"):
        assert fleet.anonymous.get(f"/static/web/leaflet/{bad}").status_code == 404


def test_a_city_tile_server_turns_the_plot_into_a_leaflet_map(fleet, signed_in):
    tech = signed_in("technician")
    assert _set_position(tech, HEALTHY, "51.5136, 7.4653").status_code == 303
    cfg = fleet.app.state.settings
    cfg.map_tile_url, cfg.map_tile_attribution = (
        "https://tiles.stadt.example:8443/osm/{z}/{x}/{y}.png",
        "© Stadt",
    )
    try:
        r = tech.get("/")
        csp = r.headers["content-security-policy"]
        assert "img-src 'self' data: https://tiles.stadt.example:8443;" in csp and "script-src 'self';" in csp
        assert 'data-tiles="https://tiles.stadt.example:8443/osm/{z}/{x}/{y}.png"' in r.text
        leaflet = re.search(r'src="(/static/web/leaflet/leaflet\.js\?v=[0-9a-f]{10})"', r.text).group(1)
        cached = tech.get(leaflet)
        assert cached.status_code == 200 and "immutable" in cached.headers["cache-control"]
        assert '<svg class="plot"' in r.text  # still there for a browser without JavaScript
    finally:
        cfg.map_tile_url = cfg.map_tile_attribution = ""
    assert "img-src 'self' data:;" in tech.get("/").headers["content-security-policy"]


@pytest.mark.parametrize(
    ("tiles", "origin"),
    [
        ("https://tiles.stadt.example/{z}/{x}/{y}.png", "https://tiles.stadt.example"),
        ("https://{s}.tiles.stadt.example:8443/{z}/{x}/{y}.png", "https://*.tiles.stadt.example:8443"),
        ("http://10.0.0.5/osm/{z}/{x}/{y}.png", "http://10.0.0.5"),
        ("tiles/{z}/{x}/{y}.png", ""),  # not an absolute http(s) URL: no map tiles, the plot stays
        ("javascript:alert(1)//{z}", ""),
    ],
)
def test_the_tile_origin_for_the_content_security_policy(tiles, origin):
    assert (
        nodemap.tile_origin(seed.web_settings("sqlite://").model_copy(update={"map_tile_url": tiles}))
        == origin
    )
