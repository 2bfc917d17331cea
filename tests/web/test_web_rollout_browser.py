"""Starting a rollout and reading a node's gateways in headless Chromium at phone size, with JavaScript
off (the crews' pages must work without it), against the fleet under a real uvicorn on loopback."""

import re
from pathlib import Path

import pytest
import web_seed as seed

pytestmark = pytest.mark.browser

SCREENSHOTS = Path(__file__).resolve().parents[2] / "artifacts" / "screenshots"


@pytest.fixture
def phone_without_js(browser):  # noqa: ANN001, ANN201
    """A German phone (360 x 780) with JavaScript switched off."""
    context = browser.new_context(
        viewport={"width": 360, "height": 780},
        java_script_enabled=False,
        locale="de-DE",
        extra_http_headers={"Accept-Language": "de-DE,de"},
    )
    context.set_default_timeout(8000)
    yield context
    context.close()


def _signed_in_page(context, base: str, token: str, target: str):  # noqa: ANN001, ANN202
    page = context.new_page()
    page.goto(base + target)
    page.fill("#token", token)
    page.click("button[type=submit]")
    page.wait_for_load_state()
    assert page.url == base + target
    return page


def _fits(page) -> None:  # noqa: ANN001
    assert page.evaluate("document.documentElement.scrollWidth") <= 360  # no sideways scrolling


def test_technician_starts_a_rollout_from_the_phone(live_fleet, phone_without_js):
    base = live_fleet.url
    page = _signed_in_page(phone_without_js, base, live_fleet.tokens["technician"], "/tech/rollouts")
    assert page.locator("#start").get_attribute("open") is not None  # no rollouts yet: the form is open
    page.select_option("#rollout-group", "Mitte-Nord")
    page.fill("#s-status_every", "6")
    page.fill("#rollout-batch-size", "1")
    page.fill("#rollout-threshold", "50")
    _fits(page)
    page.click("text=Rollout starten >> nth=-1")
    page.wait_for_load_state()
    started = re.search(r"/tech/rollouts\?started=(\d+)#rollout-\d+$", page.url)
    assert started, page.url
    rollout_id = started.group(1)
    assert page.locator(".flash").inner_text() == (
        f"Rollout {rollout_id} an Gruppe Mitte-Nord gestartet: die erste Stufe ist eingereiht."
    )
    section = page.locator(f"#rollout-{rollout_id}")
    assert section.get_attribute("data-state") == "running"
    assert "läuft: Stufe 0, 0 von 2 Knoten fertig, 0 fehlgeschlagen" in section.inner_text()
    assert page.locator("#start").get_attribute("open") is None  # folded away once rollouts exist
    _fits(page)
    page.screenshot(path=str(SCREENSHOTS / "tech-rollouts-started-360.png"), full_page=True)

    # the same group again while it runs: refused with the reason, the form kept open, nothing new
    page.click("#start summary")
    page.select_option("#rollout-group", "Mitte-Nord")
    page.fill("#s-status_every", "12")
    page.click("text=Rollout starten >> nth=-1")
    page.wait_for_load_state()
    alert = page.locator("#start [role=alert]").inner_text()
    assert alert == (
        f"Die Gruppe Mitte-Nord hat schon Rollout {rollout_id} (läuft): "
        "diesen erst fortsetzen oder abbrechen."
    )
    assert page.locator("#s-status_every").input_value() == "12"
    assert page.locator("section.rollout").count() == 1
    _fits(page)
    page.screenshot(path=str(SCREENSHOTS / "tech-rollouts-refused-360.png"), full_page=True)


def test_viewer_sees_no_rollout_form(live_fleet, phone_without_js):
    page = _signed_in_page(phone_without_js, live_fleet.url, live_fleet.tokens["viewer"], "/")
    page.goto(live_fleet.url + "/tech/rollouts")
    assert "darf nur lesen" in page.locator("main").inner_text()
    assert page.locator("main form").count() == 0 and page.locator("#rollout-group").count() == 0


def test_node_page_lists_its_gateways_on_a_phone(live_fleet, phone_without_js):
    base = live_fleet.url
    page = _signed_in_page(phone_without_js, base, live_fleet.tokens["viewer"], f"/nodes/{seed.SILENT}")
    assert page.locator("h3", has_text="Gateways, die die letzten 30 Meldungen empfangen haben").count() == 1
    rows = page.locator("table.gateways tbody tr")
    assert rows.count() == 2
    first = [cell.inner_text() for cell in rows.first.locator("td").all()]
    assert first == ["b827ebfffe000001", "−115 dBm", "−7,5 dB", "30 von 30"]
    _fits(page)
    page.locator("table.gateways").screenshot(path=str(SCREENSHOTS / "node-gateways-360.png"))
