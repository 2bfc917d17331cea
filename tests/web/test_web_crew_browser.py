"""What a field crew sees, in headless Chromium against the fleet under a real uvicorn: the label sheet
keeps names and DevEUIs whole, a phone signs in by scanning the QR code a signed-in page shows (decoded
from the screenshot by zxing-cpp, as a phone camera would), the map with and without the city's tiles,
and axe-core's accessibility rules on the main pages. Screenshots go to artifacts/screenshots/."""

import io
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest
import web_seed as seed
from sqlmodel import Session, select

from fleet.models import Device

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[2]
SHOTS = ROOT / "artifacts" / "screenshots"  # beside the other page tests' screenshots
AXE = ROOT / "node_modules" / "axe-core" / "axe.min.js"
LONG_NAME = "Wertstoffinsel Friedensplatz Nordseite"
LONG_EUI = "70B3D57ED00000A1"
PASSWORD = "Tonne-leeren-42"


@pytest.fixture(scope="module", autouse=True)
def _shots():  # noqa: ANN202
    SHOTS.mkdir(parents=True, exist_ok=True)


def _http(live_fleet, role: str = "technician") -> httpx.Client:  # noqa: ANN001
    """A signed-in HTTP client on the live fleet (the same form a browser posts)."""
    client = httpx.Client(base_url=live_fleet.url, timeout=10, follow_redirects=True)
    csrf = seed.signin_csrf(client)
    r = client.post("/signin", data={"token": live_fleet.tokens[role], "next": "/", "csrf": csrf})
    assert r.status_code in (200, 303)
    return client


def _csrf(html: str) -> str:
    return re.search(r'name="csrf" value="([0-9a-f]+)"', html).group(1)


@pytest.fixture(scope="module")
def located(live_fleet):  # noqa: ANN001, ANN201
    """A fourth node with a long name, and positions for all, set through the node page's form."""
    http = _http(live_fleet)
    try:
        page = http.get("/tech/devices")
        r = http.post(
            "/tech/devices",
            data={
                "csrf": _csrf(page.text),
                "dev_eui": LONG_EUI,
                "name": LONG_NAME,
                "street": "Friedensplatz 1",
            },
        )
        assert r.status_code == 200 and LONG_EUI in r.text
        for dev_eui, where in (
            (seed.HEALTHY, "51.51360, 7.46530"),
            (seed.SILENT, "51.51500, 7.47000"),
            (seed.LOW_BATTERY, "51.51000, 7.46000"),
            (LONG_EUI, "51.51250, 7.46800"),
        ):
            page = http.get(f"/nodes/{dev_eui}")
            r = http.post(f"/nodes/{dev_eui}/position", data={"position": where, "csrf": _csrf(page.text)})
            assert r.status_code == 200 and "position_error" not in str(r.url), r.url
        # a verify run whose details are long: the self-test table scrolls sideways on a phone
        checks = [
            {
                "name": "modem_deveui",
                "ok": True,
                "detail": "modem DevEUI 70b3d57ed0000001 = provision.json dev_eui",
            },
            {
                "name": "filesystem_free_space",
                "ok": True,
                "detail": "232943 kB free of 1441792 kB (littlefs2)",
            },
            {
                "name": "ultrasonic_a02yyuw_distance",
                "ok": False,
                "detail": "no echo within 60 ms: check the cable",
            },
            {
                "name": "firmware_files",
                "ok": True,
                "detail": "main.py sha256=9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
            },
        ]
        r = http.post(
            f"/api/v1/devices/{seed.HEALTHY}/verifications",
            json={
                "checks": checks,
                "micropython": "MicroPython v1.24.1 on 2024-11-29; ESP32",
                "tool": "kumpel 0.1",
            },
            headers={"Authorization": f"Bearer {live_fleet.tokens['technician']}"},
        )
        assert r.status_code == 201, r.text
    finally:
        http.close()
    return live_fleet


def _sign_in(page, base: str, token: str, target: str = "/") -> None:  # noqa: ANN001
    page.goto(base + target)
    page.fill("#token", token)
    page.click("button[type=submit]")
    page.wait_for_load_state()


# --- the label sheet --------------------------------------------------------------------------------------
_SPLIT_WORDS = """() => {
  // every word of a label's name, and the whole DevEUI, must sit on one line (one client rect each),
  // unless the word alone is wider than the label's text column (then breaking it is the last resort)
  const fits = (el, word) => {
    const probe = document.createElement('span');
    probe.style.whiteSpace = 'nowrap'; probe.textContent = word; el.appendChild(probe);
    const wide = probe.getBoundingClientRect().width; probe.remove();
    return wide <= el.closest('.text').clientWidth;
  };
  const split = [];
  for (const label of document.querySelectorAll('.label')) {
    const name = label.querySelector('b'), eui = label.querySelector('.eui');
    const walker = document.createTreeWalker(name, NodeFilter.SHOW_TEXT);
    for (let node = walker.nextNode(); node; node = walker.nextNode()) {
      const re = /\\S+/g; let m;
      while ((m = re.exec(node.data))) {
        const range = document.createRange();
        range.setStart(node, m.index); range.setEnd(node, m.index + m[0].length);
        if (range.getClientRects().length > 1 && fits(name, m[0])) split.push(m[0]);
      }
    }
    const range = document.createRange(); range.selectNodeContents(eui);
    if (range.getClientRects().length > 1) split.push(eui.textContent);
  }
  return split;
}"""


@pytest.mark.parametrize(
    ("width", "media"), [(1280, "screen"), (1920, "screen"), (360, "screen"), (794, "print")]
)
def test_label_sheet_keeps_names_and_deveuis_whole(located, browser, width, media):
    context = browser.new_context(viewport={"width": width, "height": 900})
    try:
        page = context.new_page()
        _sign_in(page, located.url, located.tokens["technician"], "/tech/labels")
        page.emulate_media(media=media)
        assert page.locator(".label").count() == 4
        assert page.evaluate(_SPLIT_WORDS) == []
        assert page.evaluate("document.documentElement.scrollWidth") <= width
        page.screenshot(path=str(SHOTS / f"labels-{width}-{media}.png"), full_page=True)
    finally:
        context.close()


# --- a phone signs in by scanning ---------------------------------------------------------------------
def _decode_qr(png: bytes) -> str:
    """What a phone camera reads off the screen: zxing-cpp on the rendered pixels."""
    import zxingcpp
    from PIL import Image

    found = zxingcpp.read_barcodes(Image.open(io.BytesIO(png)))
    assert len(found) == 1, found
    assert found[0].format == zxingcpp.BarcodeFormat.QRCode
    return found[0].text


def test_a_phone_signs_in_by_scanning_the_qr_code_a_signed_in_page_shows(live_fleet, browser, phone):
    desk = browser.new_context(viewport={"width": 360, "height": 780}, device_scale_factor=2, locale="de-DE")
    try:
        page = desk.new_page()
        _sign_in(page, live_fleet.url, live_fleet.tokens["admin"], "/admin/users")  # the depot's admin
        page.fill("#new-username", "anna")
        page.fill("#new-name", "Anna Kowalski")
        page.select_option("#new-role", "technician")
        page.fill("#new-password", PASSWORD)
        page.click("form.stack button[type=submit]")
        page.wait_for_load_state()
        assert page.locator(".flash").inner_text() == "Benutzer angelegt."
        assert page.evaluate("document.documentElement.scrollWidth") <= 360
        page.screenshot(path=str(SHOTS / "admin-users-360.png"), full_page=True)

        page.goto(live_fleet.url + "/signout")
        page.goto(live_fleet.url + "/account")
        page.fill("#username", "anna")  # Anna at the depot laptop, with her password
        page.fill("#password", PASSWORD)
        page.screenshot(path=str(SHOTS / "signin-360.png"), full_page=True)
        page.click("button[type=submit]")
        page.wait_for_load_state()
        assert page.url == live_fleet.url + "/account"
        page.click("text=Anmelde-QR-Code zeigen")
        page.wait_for_load_state()
        qr = page.locator("[data-signin-link] svg")
        url = _decode_qr(qr.screenshot())
        assert url == page.locator("[data-signin-link] a").get_attribute("href")
        assert re.fullmatch(re.escape(live_fleet.url) + r"/signin/link/[A-Za-z0-9_-]{43}", url)
        page.screenshot(path=str(SHOTS / "account-qr-360.png"), full_page=True)
    finally:
        desk.close()

    handset = phone.new_page()  # the phone's camera app opens what it read
    handset.goto(url)
    assert handset.locator("main p").first.inner_text() == "Als Anna Kowalski (Technik) anmelden?"
    handset.screenshot(path=str(SHOTS / "signin-link-360.png"), full_page=True)
    handset.click("main button[type=submit]")
    handset.wait_for_load_state()
    assert handset.url == live_fleet.url + "/"
    assert "Anna Kowalski" in handset.locator("footer").inner_text()
    assert handset.locator("nav.main a[href='/tech/devices']").count() == 1  # a technician's menu

    second = phone.browser.new_context(viewport={"width": 360, "height": 780}, locale="de-DE").new_page()
    try:
        second.goto(url)  # someone else scans the same code afterwards
        assert "schon benutzt" in second.locator("main").inner_text()
        assert second.locator("main button").count() == 0
    finally:
        second.context.close()


# --- the map ------------------------------------------------------------------------------------------
def test_map_is_a_point_plot_without_tiles_and_without_javascript(located, phone, browser):
    page = phone.new_page()
    _sign_in(page, located.url, located.tokens["technician"])
    plot = page.locator("svg.plot")
    assert plot.is_visible() and plot.locator("circle.pt").count() == 4
    assert page.evaluate("document.documentElement.scrollWidth") <= 360
    page.locator("section.nodemap").screenshot(path=str(SHOTS / "map-plot-overview-360.png"))
    page.locator(f'svg.plot a[href="/nodes/{seed.SILENT}"]').click()
    page.wait_for_load_state()
    assert page.url == f"{located.url}/nodes/{seed.SILENT}"
    assert page.locator("svg.plot .ring").count() == 1  # this node, among its neighbours
    page.locator("section.nodemap").screenshot(path=str(SHOTS / "map-plot-node-360.png"))

    context = browser.new_context(java_script_enabled=False, viewport={"width": 360, "height": 780})
    try:
        plain = context.new_page()
        _sign_in(plain, located.url, located.tokens["viewer"])
        assert plain.locator("svg.plot circle.pt").count() == 4
    finally:
        context.close()


class _Tiles(BaseHTTPRequestHandler):
    """The city's tile server: any /tiles/{z}/{x}/{y}.png is a 256 px PNG (a light square with a border)."""

    served: list = []

    def do_GET(self):  # noqa: N802
        from PIL import Image, ImageDraw

        match = re.fullmatch(r"/tiles/(\d+)/(\d+)/(\d+)\.png", self.path)
        if not match:
            self.send_error(404)
            return
        type(self).served.append(self.path)
        image = Image.new("RGB", (256, 256), (236, 236, 228))
        ImageDraw.Draw(image).rectangle((0, 0, 255, 255), outline=(190, 190, 180))
        buf = io.BytesIO()
        image.save(buf, format="PNG")
        self.send_response(200)
        self.send_header("Content-Type", "image/png")
        self.send_header("Content-Length", str(buf.tell()))
        self.end_headers()
        self.wfile.write(buf.getvalue())

    def log_message(self, *args):  # noqa: ANN002
        pass


@pytest.fixture
def city_tiles(located):  # noqa: ANN001, ANN201
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Tiles)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    cfg = located.app.state.settings
    origin = f"http://127.0.0.1:{server.server_address[1]}"
    cfg.map_tile_url, cfg.map_tile_attribution = origin + "/tiles/{z}/{x}/{y}.png", "Stadtplan © Stadt"
    try:
        yield origin
    finally:
        cfg.map_tile_url = cfg.map_tile_attribution = ""
        server.shutdown()
        server.server_close()


def test_leaflet_over_the_city_tiles_and_a_tap_sets_the_position(located, phone, city_tiles):
    page = phone.new_page()
    asked: list = []
    page.on("request", lambda request: asked.append(request.url))
    _sign_in(page, located.url, located.tokens["technician"])
    page.wait_for_selector(".leaflet-tile-loaded")
    assert page.locator("path.leaflet-interactive").count() == 4  # one marker per located node
    assert not page.locator("svg.plot").is_visible()  # Leaflet took its place
    assert "Stadtplan © Stadt" in page.locator(".leaflet-control-attribution").inner_text()
    assert _Tiles.served, "no tile was fetched from the city's tile server"
    assert all(u.startswith((located.url, city_tiles)) for u in asked), [
        u for u in asked if "127.0.0.1" not in u
    ]
    page.locator("section.nodemap").screenshot(path=str(SHOTS / "map-leaflet-overview-360.png"))

    page.goto(f"{located.url}/nodes/{LONG_EUI}")
    page.wait_for_selector(".leaflet-tile-loaded")
    holder = page.locator(".leaflet-holder")
    holder.scroll_into_view_if_needed()
    box = holder.bounding_box()
    holder.click(position={"x": box["width"] - 6, "y": box["height"] / 2})  # a spot away from every marker
    typed = page.input_value("#position")
    lat, lon = (float(v) for v in typed.split(", "))
    assert 51.50 < lat < 51.52 and 7.46 < lon < 7.48 and (lat, lon) != (51.5125, 7.468)
    page.locator("section.nodemap").screenshot(path=str(SHOTS / "map-leaflet-node-tap-360.png"))
    page.click("text=Standort speichern")
    page.wait_for_load_state()
    assert page.locator(".flash").inner_text() == "Standort gespeichert."
    with Session(located.engine) as db:
        device = db.exec(select(Device).where(Device.dev_eui == LONG_EUI)).one()
        assert (device.lat, device.lon) == (lat, lon)
    page.goto(f"{located.url}/nodes/{LONG_EUI}")  # put it back for the other tests
    page.fill("#position", "51.51250, 7.46800")
    page.click("text=Standort speichern")


def test_the_phone_location_fills_the_position_on_a_secure_page(located, browser):
    context = browser.new_context(
        viewport={"width": 360, "height": 780},
        locale="de-DE",
        geolocation={"latitude": 51.514213, "longitude": 7.466132, "accuracy": 8},
        permissions=["geolocation"],
    )
    cfg = located.app.state.settings
    try:
        page = context.new_page()
        _sign_in(page, located.url, located.tokens["technician"])
        page.goto(f"{located.url}/nodes/{LONG_EUI}")
        assert not page.locator("[data-locate]").is_visible()  # served over plain http: no location button
        cfg.public_url = (
            "https://fleet.stadt.example"  # as the fleet runs in the field (127.0.0.1 is a secure context)
        )
        page.goto(f"{located.url}/nodes/{LONG_EUI}")
        page.click("text=Standort dieses Telefons")
        page.wait_for_function("document.getElementById('position').value.startsWith('51.514213')")
        assert page.input_value("#position") == "51.514213, 7.466132"
    finally:
        cfg.public_url = located.url
        context.close()


# --- accessibility: axe-core (npm) on the main pages ---------------------------------------------------
AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa", "best-practice"]
AXE_PAGES = (
    ("viewer", "/signin", False),
    ("viewer", "/", False),
    ("technician", "/", False),
    ("technician", f"/nodes/{seed.HEALTHY}", False),  # with the self-test table
    ("viewer", f"/nodes/{seed.LOW_BATTERY}", False),
    ("technician", "/tech/devices", False),
    ("technician", "/tech/labels", False),
    ("technician", "/tech/unknown", False),
    ("technician", "/tech/rollouts", False),
    ("technician", f"/tech/config?dev_eui={seed.HEALTHY}", False),
    ("technician", "/account", False),
    ("admin", "/admin/users", False),
    ("technician", "/", True),  # Leaflet over the city's tiles
    ("technician", f"/nodes/{seed.HEALTHY}", True),
)


def _axe(page) -> list[dict]:  # noqa: ANN001
    """axe-core's violations on the page as it is now (the script is injected; the page's CSP is bypassed
    for that injection only, in this test's browser context)."""
    page.add_script_tag(path=str(AXE))
    result = page.evaluate(
        "tags => axe.run(document, {runOnly: {type: 'tag', values: tags}, resultTypes: ['violations']})",
        AXE_TAGS,
    )
    return result["violations"]


def test_main_pages_have_no_serious_accessibility_violations(located, browser, request):
    if not AXE.is_file():
        pytest.fail("node_modules/axe-core missing: run make setup")
    contexts = {}
    serious, minor = [], []
    tiles = None
    try:
        for role, path, with_tiles in AXE_PAGES:
            if role not in contexts:
                contexts[role] = browser.new_context(
                    viewport={"width": 360, "height": 780}, locale="de-DE", bypass_csp=True
                )
                if role != "viewer" or path != "/signin":
                    _sign_in(contexts[role].new_page(), located.url, located.tokens[role])
            if with_tiles and tiles is None:
                tiles = request.getfixturevalue("city_tiles")
            page = contexts[role].new_page()
            page.goto(located.url + path)
            page.wait_for_load_state("networkidle")
            if with_tiles:
                page.wait_for_selector(".leaflet-tile-loaded")
            for v in _axe(page):
                entry = (
                    f"{path}{' (tiles)' if with_tiles else ''} [{v['impact']}] {v['id']}: {v['help']} "
                    + "; ".join(
                        n["target"][0] if isinstance(n["target"][0], str) else str(n["target"])
                        for n in v["nodes"][:3]
                    )
                )
                (serious if v["impact"] in ("serious", "critical") else minor).append(entry)
            page.close()
    finally:
        for context in contexts.values():
            context.close()
    print("axe-core moderate/minor findings:", *minor, sep="\n  ")
    assert not serious, "\n".join(serious)


_FOCUS_ON_CHECKS = (
    "(el => el.matches('.scroll') && !!el.querySelector('table.checks'))(document.activeElement)"
)


def test_the_self_test_table_scrolls_from_the_keyboard_at_360_px(located, phone):
    page = phone.new_page()
    _sign_in(page, located.url, located.tokens["technician"], f"/nodes/{seed.HEALTHY}")
    region = page.locator(".scroll:has(table.checks)")
    assert page.evaluate("el => el.scrollWidth > el.clientWidth", region.element_handle())  # it does scroll
    for _ in range(80):  # Tab through the page as a keyboard user would, until the table's region has focus
        page.keyboard.press("Tab")
        if page.evaluate(_FOCUS_ON_CHECKS):
            break
    else:
        pytest.fail("the self-test table's scroll region is not reachable with Tab")
    assert region.get_attribute("role") == "region" and region.get_attribute(
        "aria-label"
    )  # named for readers
    page.keyboard.press("ArrowRight")
    page.keyboard.press("ArrowRight")
    page.wait_for_function("el => el.scrollLeft > 0", arg=region.element_handle())  # (smooth scrolling)
    region.screenshot(path=str(SHOTS / "node-selftest-focused-360.png"))
