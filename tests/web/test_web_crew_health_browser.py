"""What a field crew saw on their first day (issue 12), at 360 px in headless Chromium, German first:
a bin that gives no echo, a node with no data yet, an alarm that cleared yesterday."""

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import web_seed as seed
from sqlmodel import Session

from fleet.lns.base import NetworkServer
from fleet.services import provisioning
from protocols import codec

pytestmark = pytest.mark.browser

SHOTS = Path(__file__).resolve().parents[2] / "artifacts" / "screenshots"
NO_ECHO = "70B3D57ED0000E01"
NEVER = "70B3D57ED0000E02"
FIRE = "70B3D57ED0000E03"


def _frame(distance_cm, temperature_c=12.0, flags=(), no_echo=False) -> bytes:  # noqa: ANN001
    return codec.encode_measurement(
        {
            "distance_cm": None if no_echo else distance_cm,
            "no_echo": no_echo,
            "temperature_c": temperature_c,
            "humidity_pct": 60.0,
            "battery_mv": 3700,
            "flags": list(flags),
        }
    )


@pytest.fixture(scope="module")
def crew(live_fleet):  # noqa: ANN001, ANN201
    """The web tests' fleet plus three nodes from the crew's first day, put in through the real paths."""
    import httpx

    cfg = live_fleet.app.state.settings
    with Session(live_fleet.engine) as db:
        for eui, name in ((NO_ECHO, "Lindenplatz 4"), (NEVER, "Neubau Ost"), (FIRE, "Schulhof")):
            data = provisioning.DeviceIn(dev_eui=eui, name=name, street=name, bin_height_cm=120)
            provisioning.create_device(db, cfg, NetworkServer(), data)
        db.commit()
    now = datetime.now(UTC)
    with httpx.Client(base_url=live_fleet.url, timeout=10) as http:
        # a bin filling up until the lid is too close for an echo; the node keeps its bin_full flag
        for i, (distance, flags) in enumerate(((60, ()), (20, ("bin_full",)), (10, ("bin_full",)))):
            when = now - timedelta(hours=6 - 2 * i)
            seed.post_up(http, seed._up_event(NO_ECHO, when, i + 1, 1, _frame(distance, flags=flags)))
        seed.post_up(
            http,
            seed._up_event(
                NO_ECHO, now - timedelta(minutes=5), 4, 1, _frame(0, flags=("bin_full",), no_echo=True)
            ),
        )
        # a fire alarm yesterday (82 °C), cleared by the next reading; normal since
        when = now - timedelta(hours=26, minutes=30)
        seed.post_up(http, seed._up_event(FIRE, when, 1, 1, _frame(70, 82.0, ("fire_alarm",))))
        for i in range(1, 14):
            seed.post_up(
                http, seed._up_event(FIRE, when + timedelta(hours=2 * i), i + 1, 1, _frame(70 - i, 14.0))
            )
    SHOTS.mkdir(parents=True, exist_ok=True)
    return live_fleet


def _open(page, crew, target: str) -> None:  # noqa: ANN001
    page.goto(crew.url + target)
    if "/signin" in page.url:
        page.fill("#token", crew.tokens["technician"])
        page.click("button[type=submit]")
        page.wait_for_load_state()
    assert page.url.startswith(crew.url + target.split("#")[0])
    assert page.evaluate("document.documentElement.scrollWidth") <= 360


def test_a_bin_with_no_echo_says_what_is_known(crew, phone):
    page = phone.new_page()
    _open(page, crew, f"/nodes/{NO_ECHO}")
    reasons = page.locator(".light .reasons").inner_text()
    assert "kein Echo: Behälter vielleicht übervoll oder Sensor verdeckt" in reasons, reasons
    body = page.locator("main").inner_text()
    assert "None" not in body
    gauge = page.locator(".gauge")
    assert gauge.is_visible()
    assert "kein Echo" in gauge.inner_text() and "zuletzt 92 %" in gauge.inner_text(), gauge.inner_text()
    assert gauge.get_attribute("aria-valuetext")
    page.screenshot(path=str(SHOTS / "no-echo-node-360.png"), full_page=True)

    _open(page, crew, "/?q=Lindenplatz")
    row = page.locator("ul.nodes li").first.inner_text()
    assert "kein Echo" in row and "None" not in row, row
    _open(page, crew, "/")
    alert = page.locator(f'ul.alerts li:has(a[href="/nodes/{NO_ECHO}"])')
    assert alert.locator("[title]").get_attribute("title") == (
        "kein Echo: Behälter vielleicht übervoll oder Sensor verdeckt"
    )
    offline = page.locator(f'ul.alerts li:has(a[href="/nodes/{seed.SILENT}"])').locator("[title]")
    assert offline.get_attribute("title").startswith("keine Meldung seit"), offline.get_attribute("title")
    page.screenshot(path=str(SHOTS / "no-echo-overview-360.png"))


def test_a_node_without_data_is_not_an_empty_white_box(crew, phone):
    page = phone.new_page()
    _open(page, crew, f"/nodes/{NEVER}")
    light = page.locator(".light")
    assert light.get_attribute("data-state") == "unknown"
    background = light.evaluate("e => getComputedStyle(e).backgroundColor")
    assert background not in ("rgba(0, 0, 0, 0)", "rgb(255, 255, 255)", "transparent"), background
    assert light.locator(".word").inner_text() == "Noch keine Daten"
    page.screenshot(path=str(SHOTS / "unknown-node-360.png"))


def test_a_cleared_alarm_stays_visible_for_a_week(crew, phone):
    page = phone.new_page()
    _open(page, crew, f"/nodes/{FIRE}")
    assert page.locator(".light").get_attribute("data-state") == "ok", page.locator(".light").inner_text()
    recent = page.locator("#alarms")
    assert recent.is_visible()
    text = recent.inner_text()
    assert "BRANDALARM" in text and "behoben" in text, text
    page.screenshot(path=str(SHOTS / "recent-alarm-node-360.png"), full_page=True)

    _open(page, crew, "/")
    cleared = page.locator("#recent-alarms")
    assert cleared.is_visible()
    item = cleared.locator(f'li:has(a[href="/nodes/{FIRE}"])', has_text="BRANDALARM")
    assert "behoben" in item.inner_text(), item.inner_text()
    page.screenshot(path=str(SHOTS / "recent-alarms-overview-360.png"), full_page=True)
