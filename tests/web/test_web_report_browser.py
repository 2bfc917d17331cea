"""The citizen's report page in headless Chromium at 360 px with JavaScript OFF, against the fleet under
a real uvicorn: scan the label's QR, open the bin page, pick the problem, attach a photo, send, read the
reference number; the crew sees the report on the node page and closes it; the citizen reads the closing
note. Plus axe-core on the two public pages and the report page's weight."""

import json
from io import BytesIO
from pathlib import Path

import pytest
import web_seed as seed
from PIL import Image

zxingcpp = pytest.importorskip("zxingcpp")

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[2]
AXE = ROOT / "node_modules" / "axe-core" / "axe.min.js"
ARTIFACTS = ROOT / "artifacts"
REPORT_BUDGET_BYTES = 20_000  # the form and its stylesheet over a weak link: well under a second on 3G


@pytest.fixture
def no_js_phone(browser):  # noqa: ANN001, ANN201
    context = browser.new_context(
        viewport={"width": 360, "height": 780},
        device_scale_factor=2,
        has_touch=True,
        is_mobile=True,
        java_script_enabled=False,
        locale="de-DE",
        extra_http_headers={"Accept-Language": "de-DE,de"},
    )
    context.set_default_timeout(8000)
    yield context
    context.close()


def _photo(tmp_path: Path) -> Path:
    path = tmp_path / "tonne.jpg"
    exif = Image.Exif()
    exif[0x8825] = {1: "N", 2: (51.0, 28.0, 52.0), 3: "E", 4: (7.0, 12.0, 58.0)}  # GPSInfo
    Image.new("RGB", (1200, 900), (40, 120, 40)).save(path, "JPEG", exif=exif)
    return path


def test_citizen_reports_without_javascript_and_the_crew_closes_it(
    live_fleet, no_js_phone, browser, tmp_path
):
    base = live_fleet.url
    page = no_js_phone.new_page()
    # the citizen scans the sticker: the QR of the bin's label image, read by zxing-cpp, opens the public
    # bin page, whose one big link leads to the report form
    label = page.request.get(
        f"{base}/api/v1/devices/{seed.HEALTHY}/label.png",
        headers={"Authorization": f"Bearer {live_fleet.tokens['technician']}"},
    )
    codes = zxingcpp.read_barcodes(Image.open(BytesIO(label.body())).convert("L"))
    assert len(codes) == 1 and codes[0].text.startswith(f"{base}/b/"), [c.text for c in codes]
    page.goto(codes[0].text)
    page.get_by_role("link", name="Problem mit diesem Behälter melden").click()
    page.wait_for_load_state()
    assert page.locator("h1").inner_text() == "Problem mit diesem Behälter melden"
    page.get_by_label("Voll oder überfüllt").check()
    page.get_by_label("Ihr Hinweis").fill("Quillt seit gestern über")
    page.get_by_label("Foto").set_input_files(str(_photo(tmp_path)))
    box = page.get_by_role("button", name="Meldung senden").bounding_box()
    assert box["height"] >= 44 and box["width"] >= 44  # a thumb-sized target
    page.get_by_role("button", name="Meldung senden").click()
    page.wait_for_load_state()
    assert "/report/status/" in page.url
    ref = page.locator("b.ref").inner_text()
    assert page.get_by_role("status").inner_text() == "Danke! Ihre Meldung ist angekommen."
    assert page.locator("img.report-photo").count() == 1
    photo = page.request.get(f"{base}/report/photo/{ref}.jpg").body()
    assert b"Exif" not in photo  # the GPS position did not survive

    crew = browser.new_context(
        viewport={"width": 360, "height": 780}, locale="de-DE", java_script_enabled=False
    )
    try:
        crew_page = crew.new_page()
        crew_page.goto(f"{base}/signin")
        crew_page.fill("#token", live_fleet.tokens["technician"])
        crew_page.click("button[type=submit]")
        crew_page.wait_for_load_state()
        crew_page.goto(f"{base}/nodes/{seed.HEALTHY}#reports")
        reports = crew_page.locator("#reports")
        assert "Quillt seit gestern über" in reports.inner_text()
        crew_page.locator(f"#close-{ref}").fill("Geleert, danke für den Hinweis!")
        reports.get_by_role("button", name="Meldung schließen").click()
        crew_page.wait_for_load_state()
        assert "Keine offenen Bürgermeldungen." in crew_page.locator("#reports").inner_text()
    finally:
        crew.close()

    page.reload()
    assert "Geleert, danke für den Hinweis!" in page.locator("dl.facts").inner_text()
    assert "Erledigt" in page.locator("dl.facts").inner_text()


def test_report_page_weight_and_no_sideways_scrolling(live_fleet, browser):
    context = browser.new_context(viewport={"width": 360, "height": 780}, locale="de-DE")
    try:
        page = context.new_page()
        seen: list = []
        page.on("requestfinished", lambda request: seen.append(request))
        page.goto(f"{live_fleet.url}/report/{seed.HEALTHY}")
        page.wait_for_load_state("networkidle")
        total = sum(r.sizes()["responseBodySize"] + r.sizes()["responseHeadersSize"] for r in seen)
        assert page.evaluate("document.documentElement.scrollWidth") <= 360
        assert not any(r.url.endswith(".js") or ".js?" in r.url for r in seen)  # no script is loaded at all
        ARTIFACTS.mkdir(exist_ok=True)
        (ARTIFACTS / "report-page-weight.json").write_text(
            json.dumps({"bytes": total, "requests": len(seen), "urls": [r.url for r in seen]}, indent=1)
        )
        print(f"report page: {total} bytes in {len(seen)} requests")
        assert total <= REPORT_BUDGET_BYTES
    finally:
        context.close()


@pytest.mark.parametrize("path", [f"/report/{seed.HEALTHY}", "/report/status/{ref}"])
def test_public_pages_have_no_serious_accessibility_violations(live_fleet, browser, path):
    if not AXE.is_file():
        pytest.fail("node_modules/axe-core missing: run make setup")
    import httpx

    if "{ref}" in path:
        r = httpx.post(
            f"{live_fleet.url}/report/{seed.LOW_BATTERY}",
            data={"service_code": "lid_problem"},
            headers={"X-Forwarded-For": "198.51.100.7"},
        )
        assert r.status_code == 303, r.text
        path = r.headers["location"]
    context = browser.new_context(viewport={"width": 360, "height": 780}, locale="de-DE", bypass_csp=True)
    try:
        page = context.new_page()
        page.goto(live_fleet.url + path)
        page.add_script_tag(path=str(AXE))
        tags = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa", "best-practice"]
        result = page.evaluate(
            "tags => axe.run(document, {runOnly: {type: 'tag', values: tags}, resultTypes: ['violations']})",
            tags,
        )
        serious = [
            f"{v['id']}: {v['help']} {[n['target'] for n in v['nodes'][:3]]}"
            for v in result["violations"]
            if v["impact"] in ("serious", "critical")
        ]
        assert not serious, "\n".join(serious)
    finally:
        context.close()
