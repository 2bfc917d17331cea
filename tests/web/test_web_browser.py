"""The pages in headless Chromium at phone size, against the fleet under a real uvicorn on loopback:
what a crew member does at a bin, what a viewer may not see, and what the pages weigh."""

import json
import re
from pathlib import Path

import pytest
import web_seed as seed

pytestmark = pytest.mark.browser

SCREENSHOTS = Path(__file__).resolve().parents[2] / "artifacts" / "screenshots"
PAGE_BUDGET_BYTES = 40_000  # a slow 3G link moves this in about a second


def _sign_in(page, base: str, token: str, target: str = "/") -> None:  # noqa: ANN001
    page.goto(base + target)
    assert "/signin" in page.url  # the QR link of a signed-out phone lands on sign-in first...
    page.fill("#token", token)
    page.click("button[type=submit]")
    page.wait_for_load_state()
    assert page.url == base + target  # ...and comes back to where it was going


def _weigh(page, url: str) -> dict:  # noqa: ANN001
    """Bytes on the wire and requests for one page load (HTML plus everything it pulls in)."""
    seen: list = []

    def finished(request):  # noqa: ANN001, ANN202
        seen.append(request)

    page.on("requestfinished", finished)
    page.goto(url)
    page.wait_for_load_state("networkidle")
    page.remove_listener("requestfinished", finished)
    total = 0
    for request in seen:
        sizes = request.sizes()
        total += sizes["responseBodySize"] + sizes["responseHeadersSize"]
    return {"bytes": total, "requests": len(seen), "urls": [r.url for r in seen]}


def test_crew_member_at_a_bin(live_fleet, phone):
    page = phone.new_page()
    base = live_fleet.url
    _sign_in(page, base, live_fleet.tokens["technician"])
    assert page.locator("h1").inner_text() == "Flottenübersicht"  # German phone, German page
    assert page.evaluate("document.documentElement.scrollWidth") <= 360  # no sideways scrolling
    page.screenshot(path=str(SCREENSHOTS / "overview-360.png"))
    page.screenshot(path=str(SCREENSHOTS / "overview-360-full.png"), full_page=True)

    page.fill("#q", "bahnhof")
    page.click("form.filters button[type=submit]")
    page.wait_for_load_state()
    links = page.locator("ul.nodes a")
    assert links.count() == 1
    links.first.click()
    page.wait_for_load_state()
    assert page.url == f"{base}/nodes/{seed.SILENT}"
    assert page.locator(".light .word").inner_text() == "Offline"
    reason = page.locator(".light .reasons li").first.inner_text()
    assert re.fullmatch(r"keine Meldung seit 5 Std\.( \d+ Min\.)?, erwartet alle 2 Std\.", reason), reason
    assert page.evaluate("document.documentElement.scrollWidth") <= 360
    page.screenshot(path=str(SCREENSHOTS / "node-360.png"))
    page.screenshot(path=str(SCREENSHOTS / "node-360-full.png"), full_page=True)

    for button in page.locator("main button").all():  # thumbs, not mouse pointers
        assert button.bounding_box()["height"] >= 44
    page.fill("#note", "Batterie getauscht, Sensor gereinigt")
    page.click("text=Eintrag speichern")
    page.wait_for_load_state()
    assert page.locator(".flash").inner_text() == "Eintrag gespeichert."
    entry = page.locator("ol.log li").first.inner_text()
    assert "Batterie getauscht, Sensor gereinigt" in entry and "Crew technician" in entry

    page.click("header .lang a[hreflang=en]")
    page.wait_for_load_state()
    assert page.url.startswith(f"{base}/nodes/{seed.SILENT}")
    assert page.locator("html").get_attribute("lang") == "en"
    assert re.match(
        r"no uplink for 5 h( \d+ min)?, expected every 2 h",
        page.locator(".light .reasons li").first.inner_text(),
    )
    page.goto(base + "/")
    assert page.locator("h1").inner_text() == "Fleet overview"  # the choice is remembered


def test_viewer_sees_no_keys_and_no_buttons(live_fleet, phone):
    page = phone.new_page()
    _sign_in(page, live_fleet.url, live_fleet.tokens["viewer"], f"/nodes/{seed.HEALTHY}")
    assert page.locator(".light .word").inner_text() == "OK"
    main = page.locator("main")
    assert main.locator("button").count() == 0
    assert main.locator("form").count() == 0
    assert "JoinEUI" not in main.inner_text() and "70B3D57ED0FFFFFF" not in page.content()
    assert page.locator("nav.main a[href='/tech/devices']").count() == 0
    page.goto(live_fleet.url + "/tech/devices")
    assert "darf nur lesen" in page.locator("main").inner_text()


def test_reading_works_without_javascript(live_fleet, browser):
    context = browser.new_context(java_script_enabled=False, viewport={"width": 360, "height": 780})
    try:
        page = context.new_page()
        _sign_in(page, live_fleet.url, live_fleet.tokens["viewer"], f"/nodes/{seed.LOW_BATTERY}")
        assert page.locator(".light").get_attribute("data-state") == "critical"
        assert page.locator("svg.chart polyline").count() == 3
        page.click(".windows a:has-text('7')")
        assert "window=7d" in page.url and page.locator("svg.chart polyline").count() == 3
    finally:
        context.close()


def test_page_weight(live_fleet, phone):
    """Cold (empty cache) and warm weight of the two pages a crew opens most; the figures go to
    artifacts/page-weight.json for the README."""
    page = phone.new_page()
    _sign_in(page, live_fleet.url, live_fleet.tokens["technician"])
    cdp = phone.new_cdp_session(page)
    urls = {"overview": live_fleet.url + "/", "node": f"{live_fleet.url}/nodes/{seed.HEALTHY}?window=30d"}
    figures = {}
    for name, url in urls.items():
        cdp.send("Network.clearBrowserCache")
        cold = _weigh(page, url)
        warm = _weigh(page, url)
        figures[name] = {
            "cold_bytes": cold["bytes"],
            "cold_requests": cold["requests"],
            "warm_bytes": warm["bytes"],
        }
        print(
            f"page weight {name}: {cold['bytes']} bytes in {cold['requests']} requests cold, "
            f"{warm['bytes']} bytes warm"
        )
        assert all(u.startswith(live_fleet.url) for u in cold["urls"]), cold["urls"]  # nothing from a CDN
        assert cold["bytes"] < PAGE_BUDGET_BYTES, (name, cold)
        assert cold["requests"] == 2, (name, cold["urls"])  # the page and its stylesheet, nothing else
        assert warm["bytes"] < cold["bytes"] * 0.8  # the versioned stylesheet comes from the cache (gzip on)
    (SCREENSHOTS.parent / "page-weight.json").write_text(json.dumps(figures, indent=2) + "\n")


def test_technician_pages_fit_a_phone(live_fleet, phone):
    page = phone.new_page()
    _sign_in(page, live_fleet.url, live_fleet.tokens["technician"], "/tech/devices")
    for path in (
        "/tech/devices",
        "/tech/unknown",
        "/tech/rollouts",
        "/tech/labels",
        f"/tech/config?dev_eui={seed.HEALTHY}",
    ):
        page.goto(live_fleet.url + path)
        assert page.evaluate("document.documentElement.scrollWidth") <= 360, path
        name = path.strip("/").split("?")[0].replace("/", "-")
        page.screenshot(path=str(SCREENSHOTS / f"{name}-360.png"), full_page=True)


def test_label_sheet_print_button_appears_only_with_javascript(live_fleet, phone, browser):
    page = phone.new_page()
    _sign_in(page, live_fleet.url, live_fleet.tokens["technician"], "/tech/labels")
    assert page.locator("button[data-print]").is_visible()
    assert page.locator(".label").count() == 3
    page.emulate_media(media="print")
    assert not page.locator("header.top").is_visible()  # only the labels go to paper
    context = browser.new_context(java_script_enabled=False)
    try:
        plain = context.new_page()
        _sign_in(plain, live_fleet.url, live_fleet.tokens["technician"], "/tech/labels")
        assert not plain.locator("button[data-print]").is_visible()
    finally:
        context.close()
