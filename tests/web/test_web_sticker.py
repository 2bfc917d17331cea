"""One sticker, two audiences (issue 16 §1): the label's QR, decoded by zxing-cpp (a decoder we did not
write), is a short URL that a signed-in crew member follows to the node page and anyone else to the bin's
public page; the TR005 string stays on the label as a second, smaller, labelled code."""

from io import BytesIO
from urllib.parse import urlsplit

import pytest
import web_seed as seed
from fastapi.testclient import TestClient

zxingcpp = pytest.importorskip("zxingcpp")
Image = pytest.importorskip("PIL.Image")


def _decode(png: bytes) -> list:
    return zxingcpp.read_barcodes(Image.open(BytesIO(png)).convert("L"))


def _sticker_url(fleet, dev_eui: str) -> str:  # noqa: ANN001
    token = {"Authorization": f"Bearer {fleet.tokens['viewer']}"}
    png = fleet.anonymous.get(f"/api/v1/devices/{dev_eui}/label.png", headers=token)
    assert png.status_code == 200 and png.headers["content-type"] == "image/png"
    codes = _decode(png.content)
    assert len(codes) == 1 and codes[0].format == zxingcpp.BarcodeFormat.QRCode
    return codes[0].text


def test_label_qr_is_a_short_url_a_phone_opens(fleet):
    url = _sticker_url(fleet, seed.HEALTHY)
    parts = urlsplit(url)
    assert url.startswith(fleet.cfg.public_url.rstrip("/") + "/b/")
    assert parts.path.removeprefix("/b/").isdigit() and len(url) < 40  # short: a small, robust QR
    assert url == _sticker_url(fleet, seed.HEALTHY)  # stable


def test_sticker_url_without_a_session_shows_the_public_bin_page(fleet):
    path = urlsplit(_sticker_url(fleet, seed.HEALTHY)).path
    citizen = TestClient(fleet.app, headers={"Accept-Language": "de"})
    page = citizen.get(path, follow_redirects=False)
    assert page.status_code == 200, page.text
    assert "Marktplatz" in page.text  # which bin this is: its place
    assert seed.HEALTHY not in page.text and "mV" not in page.text  # nothing for the crew only
    assert "<form" not in page.text  # no report form until §2 exists
    english = TestClient(fleet.app, headers={"Accept-Language": "en"}).get(path)
    assert "This is the waste bin at" in english.text


def test_sticker_url_with_a_session_goes_to_the_node_page(fleet, as_role):
    path = urlsplit(_sticker_url(fleet, seed.HEALTHY)).path
    for role in ("viewer", "technician"):
        hop = as_role(role).get(path, follow_redirects=False)
        assert hop.status_code == 303 and hop.headers["location"] == f"/nodes/{seed.HEALTHY}"
    assert seed.HEALTHY in as_role("viewer").get(path).text  # the node page itself


def test_unknown_sticker_number_is_a_plain_404(fleet):
    citizen = TestClient(fleet.app, headers={"Accept-Language": "en"})
    for path in ("/b/999999", "/b/abc", "/b/" + "9" * 40):
        page = citizen.get(path)
        assert page.status_code == 404 and "sticker" in page.text


@pytest.mark.browser
def test_label_sheet_image_holds_the_url_and_the_smaller_tr005_code(live_fleet, browser):
    """Print view of the label sheet as Chromium renders it; zxing-cpp finds both codes per label."""
    from test_web_browser import _sign_in

    context = browser.new_context(viewport={"width": 900, "height": 1200}, device_scale_factor=2)
    try:
        page = context.new_page()
        _sign_in(page, live_fleet.url, live_fleet.tokens["technician"], "/tech/labels")
        page.emulate_media(media="print")
        label = page.locator(".label").first
        codes = _decode(label.screenshot())
        texts = {c.text for c in codes}
        urls = [c for c in codes if c.text.startswith(live_fleet.url + "/b/")]
        tr005 = [c for c in codes if c.text.startswith("LW:D0:")]
        assert len(urls) == 1 and len(tr005) == 1, texts

        def width(code):  # noqa: ANN001, ANN202
            xs = [code.position.top_left.x, code.position.top_right.x]
            return max(xs) - min(xs)

        assert width(tr005[0]) < width(urls[0])  # the second code is the smaller one
        assert "LoRaWAN TR005" in label.inner_text()
        url = urls[0].text
    finally:
        context.close()
    citizen = browser.new_context(java_script_enabled=False, viewport={"width": 360, "height": 780})
    try:
        page = citizen.new_page()
        page.goto(url)
        assert page.url == url and "/signin" not in page.url
        assert page.locator("h1").is_visible()
    finally:
        citizen.close()
