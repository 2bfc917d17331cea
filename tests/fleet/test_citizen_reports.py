"""The public report page behind the bin's QR code, through HTTP as a browser without JavaScript
sends it (the form is read from the page's own HTML), and the crew closing a report on the node page.

Runs on SQLite and PostgreSQL (tests/fleet fixtures)."""

import io
import re
from html.parser import HTMLParser

import pytest
from fastapi.testclient import TestClient
from fleet_helpers import add_device
from PIL import Image
from sqlmodel import select

from fleet.models import CitizenReport

EUI = "70B3D57ED0000AB1"
GPS_IFD = 0x8825  # EXIF GPSInfo pointer (EXIF 2.3, section 4.6.3)


class FormReader(HTMLParser):
    """The page's forms as a browser sees them: action, method, enctype, fields, labels; and scripts."""

    def __init__(self) -> None:
        super().__init__()
        self.forms: list[dict] = []
        self.labels: dict[str, str] = {}
        self.scripts = 0
        self._label_for: str | None = None

    def handle_starttag(self, tag: str, attrs: list) -> None:
        a = dict(attrs)
        if tag == "script":
            self.scripts += 1
        elif tag == "form":
            self.forms.append({**a, "fields": []})
        elif tag in ("input", "textarea", "select") and self.forms:
            self.forms[-1]["fields"].append({"tag": tag, **a})
        elif tag == "label":
            self._label_for = a.get("for")
            if self._label_for:
                self.labels[self._label_for] = ""

    def handle_data(self, data: str) -> None:
        if self._label_for:
            self.labels[self._label_for] += data

    def handle_endtag(self, tag: str) -> None:
        if tag == "label":
            self._label_for = None


def read(html: str) -> FormReader:
    reader = FormReader()
    reader.feed(html)
    return reader


def jpeg_with_gps() -> bytes:
    """A phone-like photo: EXIF with a GPS position, a camera make and an orientation."""
    image = Image.new("RGB", (2400, 1800), (200, 30, 30))
    exif = Image.Exif()
    exif[0x010F] = "PhoneMaker"  # Make
    exif[0x0112] = 6  # Orientation: rotate 90° CW to show
    exif[GPS_IFD] = {1: "N", 2: (51.0, 28.0, 52.0), 3: "E", 4: (7.0, 12.0, 58.0)}
    out = io.BytesIO()
    image.save(out, "JPEG", exif=exif)
    return out.getvalue()


@pytest.fixture
def bin_eui(client, tech) -> str:  # noqa: ANN001
    add_device(client, tech, dev_eui=EUI, lat=51.48, lon=7.21, street="Husemannplatz 3", district="Mitte")
    return EUI


def report_form(client, lang: str = "de") -> tuple[dict, FormReader, str]:  # noqa: ANN001
    r = client.get(f"/report/{EUI}", headers={"Accept-Language": lang})
    assert r.status_code == 200, r.text
    reader = read(r.text)
    (form,) = [f for f in reader.forms if f.get("action", "").startswith("/report/")]
    return form, reader, r.text


def submit(client, form: dict, *, photo: bytes | None = None, **values) -> object:  # noqa: ANN001, ANN003
    """Send the form the way a browser without JavaScript does: its method, action and encoding."""
    assert form["method"] == "post" and form["enctype"] == "multipart/form-data"
    names = {f.get("name") for f in form["fields"]}
    assert set(values) <= names, f"fields not on the page: {set(values) - names}"
    files = {"photo": ("bin.jpg", photo, "image/jpeg")} if photo is not None else None
    return client.post(form["action"], data=values, files=files, follow_redirects=False)


def test_report_page_is_a_plain_accessible_form(client, bin_eui) -> None:  # noqa: ANN001
    form, reader, html = report_form(client, "de")
    assert reader.scripts == 0  # nothing to run: the form is the whole page
    assert "Husemannplatz 3, Mitte" in html  # the bin's place is filled in
    radios = [f for f in form["fields"] if f.get("type") == "radio"]
    assert [r["value"] for r in radios] == [
        "bin_full", "bin_damaged", "lid_problem", "smell_pests", "dumped_waste", "sensor_damaged"
    ]  # fmt: skip
    assert "Voll oder überfüllt" in html and "<legend>Was ist los?</legend>" in html
    for name in ("note", "photo", "email"):  # every free field has a visible label tied to it
        field = next(f for f in form["fields"] if f.get("name") == name)
        assert reader.labels.get(field["id"], "").strip()
    honeypot = next(f for f in form["fields"] if f.get("name") == "website")
    assert honeypot["tabindex"] == "-1"  # keyboard users never land in it; screen readers skip its box
    assert 'class="hp" aria-hidden="true"' in html
    assert "E-Mail" in html and "Gelöscht, sobald die Meldung erledigt ist" in html
    _, _, english = report_form(client, "en")
    assert "Full or overflowing" in english and 'lang="en"' in english


def test_a_citizen_files_a_report_with_a_photo(client, bin_eui, db) -> None:  # noqa: ANN001
    form, _, _ = report_form(client)
    r = submit(
        client,
        form,
        photo=jpeg_with_gps(),
        service_code="bin_full",
        note="Quillt über",
        email="oma@example.de",
    )
    assert r.status_code == 303
    status_url = r.headers["location"]
    ref = int(re.search(r"/report/status/(\d+)", status_url).group(1))
    page = client.get(status_url, headers={"Accept-Language": "de"}).text
    assert "Danke!" in page and f'<b class="ref">{ref}</b>' in page and "Voll oder überfüllt" in page
    assert "oma@example.de" not in page
    stored = db.exec(select(CitizenReport).where(CitizenReport.id == ref)).one()
    assert stored.email == "oma@example.de" and stored.source == "web" and stored.has_photo
    # The photo as served: JPEG, no EXIF at all (no GPS, no camera), turned upright, at most 1600 px.
    photo = client.get(f"/report/photo/{ref}.jpg")
    assert photo.headers["content-type"] == "image/jpeg"
    assert b"Exif" not in photo.content and b"PhoneMaker" not in photo.content
    with Image.open(io.BytesIO(photo.content)) as shown:
        assert shown.format == "JPEG" and not shown.getexif()
        assert shown.size == (1200, 1600)  # 2400x1800 rotated by its orientation tag, then scaled
    # An Open311 client sees the same report, with the photo's URL.
    (req,) = client.get(f"/open311/v2/requests/{ref}.json").json()
    assert req["media_url"] == f"https://fleet.example/report/photo/{ref}.jpg"
    assert req["description"] == "Quillt über"


@pytest.mark.parametrize(
    ("photo", "words"),
    [
        (b"GIF89a" + b"\0" * 64, "JPEG, PNG oder WebP"),
        (b"<html>not a photo</html>", "konnte nicht gelesen werden"),
        (jpeg_with_gps()[:4000], "konnte nicht gelesen werden"),  # cut off in transfer
    ],
)
def test_bad_photos_are_refused_and_the_note_is_kept(client, bin_eui, photo, words) -> None:  # noqa: ANN001
    form, _, _ = report_form(client)
    r = submit(client, form, photo=photo, service_code="smell_pests", note="Ratten gesehen")
    assert r.status_code == 400
    assert words in r.text
    assert "Ratten gesehen</textarea>" in r.text and 'value="smell_pests" required checked' in r.text
    assert client.get("/open311/v2/requests.json").json() == []


def test_gif_disguised_as_jpeg_is_refused(client, bin_eui) -> None:  # noqa: ANN001
    out = io.BytesIO()
    Image.new("RGB", (40, 40)).save(out, "GIF")
    form, _, _ = report_form(client)
    r = submit(client, form, photo=out.getvalue(), service_code="bin_full")
    assert r.status_code == 400 and "JPEG, PNG oder WebP" in r.text


def test_a_photo_over_the_size_limit_is_refused(app, client, bin_eui) -> None:  # noqa: ANN001
    app.state.settings.report_photo_max_bytes = 20_000
    form, _, _ = report_form(client)
    r = submit(client, form, photo=jpeg_with_gps() + b"\0" * 30_000, service_code="bin_full")
    assert r.status_code == 400 and "zu groß" in r.text


def test_no_problem_chosen_or_bad_email(client, bin_eui) -> None:  # noqa: ANN001
    form, _, _ = report_form(client)
    assert "Bitte wählen Sie" in submit(client, form, note="hm").text
    r = submit(client, form, service_code="bin_full", email="oma at home")
    assert r.status_code == 400 and "E-Mail-Adresse" in r.text and 'value="oma at home"' in r.text


def test_honeypot_filled_files_nothing(client, bin_eui) -> None:  # noqa: ANN001
    form, _, _ = report_form(client)
    r = submit(client, form, service_code="bin_full", website="http://spam.example")
    assert r.status_code == 400
    assert client.get("/open311/v2/requests.json").json() == []


def test_rate_limit_per_sender(app, client, bin_eui, tech) -> None:  # noqa: ANN001
    app.state.settings.report_limit_per_client_hour = 2
    other = add_device(client, tech, street="Anderswo 1")["dev_eui"]
    form, _, _ = report_form(client)
    assert submit(client, form, service_code="bin_full").status_code == 303
    assert submit(client, form, service_code="lid_problem").status_code == 303
    r = client.post(f"/report/{other}", data={"service_code": "bin_full"}, follow_redirects=False)
    assert r.status_code == 429 and "in der letzten Stunde" in r.text  # the same sender, another bin


def test_rate_limit_per_bin(app, client, bin_eui) -> None:  # noqa: ANN001
    app.state.settings.report_limit_per_bin_hour = 2
    form, _, _ = report_form(client)
    for _ in range(2):
        assert submit(client, form, service_code="bin_full").status_code == 303
    r = submit(client, form, service_code="bin_full")
    assert r.status_code == 429 and "die Kolonne weiß Bescheid" in r.text
    assert len(client.get("/open311/v2/requests.json").json()) == 2


def test_unknown_bin_and_report(client) -> None:  # noqa: ANN001
    assert client.get("/report/0000000000000000").status_code == 404
    assert client.post("/report/0000000000000000", data={"service_code": "bin_full"}).status_code == 404
    assert client.get("/report/status/424242").status_code == 404
    assert client.get("/report/photo/424242.jpg").status_code == 404


def _signed_in(app, headers: dict) -> TestClient:  # noqa: ANN001
    crew = TestClient(app, base_url="https://testserver", headers={"Accept-Language": "en"})
    token = headers["Authorization"].split()[1]
    csrf = re.search(r'name="csrf" value="([^"]+)"', crew.get("/signin").text).group(1)  # login-CSRF token
    data = {"token": token, "next": "/", "csrf": csrf}
    assert crew.post("/signin", data=data, follow_redirects=False).status_code == 303
    return crew


def test_crew_sees_and_closes_a_report_the_citizen_reads(app, client, bin_eui, tech, viewer, db) -> None:  # noqa: ANN001
    form, _, _ = report_form(client)
    ref = int(
        submit(client, form, service_code="dumped_waste", note="Sofa", email="a@b.de")
        .headers["location"]
        .split("/")[-1]
        .split("?")[0]
    )
    crew = _signed_in(app, tech)
    node_page = crew.get(f"/nodes/{EUI}").text
    assert "Citizen reports (1 open)" in node_page and "Waste dumped next to it" in node_page
    assert "a@b.de" not in node_page
    csrf = re.search(r'name="csrf" value="([0-9a-f]+)"', node_page).group(1)
    close = f"/nodes/{EUI}/reports/{ref}/close"
    # A viewer may look but not close; a forged form without the CSRF token is refused.
    onlooker = _signed_in(app, viewer)
    assert "Close report" not in onlooker.get(f"/nodes/{EUI}").text
    assert onlooker.post(close, data={"note": "x", "csrf": csrf}).status_code == 403
    assert crew.post(close, data={"note": "Abgeholt"}).status_code == 403
    assert crew.post(close, data={"note": " ", "csrf": csrf}).status_code == 400
    r = crew.post(close, data={"note": "Sofa abgeholt, danke!", "csrf": csrf}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == f"/nodes/{EUI}#reports"
    assert "Citizen reports (0 open)" in crew.get(f"/nodes/{EUI}").text
    status = client.get(f"/report/status/{ref}", headers={"Accept-Language": "de"}).text
    assert "Sofa abgeholt, danke!" in status and "Erledigt" in status
    (req,) = client.get(f"/open311/v2/requests/{ref}.json").json()
    assert req["status"] == "closed" and req["status_notes"] == "Sofa abgeholt, danke!"
    db.expire_all()
    stored = db.get(CitizenReport, ref)
    assert stored.email is None and stored.client_key is None  # personal data gone at close
    assert stored.closed_by == "test-technician"


def test_the_label_url_leads_a_citizen_to_the_form(client, bin_eui, db) -> None:  # noqa: ANN001
    """`/b/<asset id>` (the label's QR) shows the bin's public page; its link opens this bin's form, which
    names the bin by its place, never by its DevEUI, and files the report for that bin."""
    from fleet.models import Device

    asset_id = db.exec(select(Device).where(Device.dev_eui == EUI)).one().id
    public = client.get(f"/b/{asset_id}", headers={"Accept-Language": "de"})
    assert public.status_code == 200
    (link,) = re.findall(r'href="(/report/[^"]+)"', public.text)
    assert link == f"/report/{asset_id}"
    page = client.get(link, headers={"Accept-Language": "de"})
    assert "Husemannplatz 3, Mitte" in page.text and EUI not in page.text
    (form,) = [f for f in read(page.text).forms if f.get("action") == link]
    r = submit(client, form, service_code="lid_problem")
    assert r.status_code == 303
    (req,) = client.get("/open311/v2/requests.json?extensions=true").json()
    assert req["extended_attributes"]["dev_eui"] == EUI and req["service_code"] == "lid_problem"


# --- reports meet the sensor ------------------------------------------------------------------------------
def _measure(client, dev_eui: str, fcnt: int, distance_cm: int, flags: list, when) -> None:  # noqa: ANN001
    from fleet_helpers import cs_up, post_up

    from protocols import codec

    frame = codec.encode_measurement(
        {"distance_cm": distance_cm, "no_echo": False, "temperature_c": 12.0, "humidity_pct": 60.0,
         "battery_mv": 3700, "flags": flags}
    )  # fmt: skip
    r = post_up(client, cs_up(dev_eui, 1, frame, fcnt=fcnt, time=when))
    assert r.json()["result"] == "stored", r.text


def _file_full(client, dev_eui: str) -> int:  # noqa: ANN001
    r = client.post(f"/report/{dev_eui}", data={"service_code": "bin_full"}, follow_redirects=False)
    assert r.status_code == 303, r.text
    return int(r.headers["location"].split("/")[-1].split("?")[0])


def test_full_report_against_a_nearly_empty_sensor_marks_it_suspect(client, tech) -> None:  # noqa: ANN001
    from datetime import timedelta

    from fleet.models import utcnow

    dev = add_device(client, tech)["dev_eui"]  # the default 120 cm bin
    _measure(client, dev, 1, 100, [], utcnow() - timedelta(hours=2))  # 17 % before the report
    _file_full(client, dev)
    health = client.get(f"/api/v1/devices/{dev}/health", headers=tech).json()
    assert "sensor_suspect" not in [r["code"] for r in health["reasons"]]  # the bin may have filled since
    _measure(client, dev, 2, 105, [], utcnow())  # and after it: 13 %
    health = client.get(f"/api/v1/devices/{dev}/health", headers=tech).json()
    assert health["last_reading"]["fill_pct"] == 13
    (suspect,) = [r for r in health["reasons"] if r["code"] == "sensor_suspect"]
    assert suspect["severity"] == "warning" and suspect["params"] == {"reports": 1, "fill_pct": 13}
    assert "sensor says 13 %" in suspect["message"]
    crew = _signed_in(client.app, tech)
    assert "1 citizen report(s) say full, the sensor says 13 %" in crew.get(f"/nodes/{dev}").text
    # The sensor agrees (the bin really is full): no suspicion, only the full alarm.
    _measure(client, dev, 3, 10, ["bin_full"], utcnow())
    codes = [r["code"] for r in client.get(f"/api/v1/devices/{dev}/health", headers=tech).json()["reasons"]]
    assert "sensor_suspect" not in codes and "bin_full" in codes


def test_full_reports_close_when_the_full_alarm_closes(client, tech, db) -> None:  # noqa: ANN001
    from datetime import timedelta

    from fleet.models import Alert, utcnow

    dev = add_device(client, tech)["dev_eui"]
    _measure(client, dev, 1, 8, ["bin_full"], utcnow() - timedelta(minutes=30))
    assert db.exec(select(Alert).where(Alert.kind == "bin_full")).one().closed_at is None
    full = _file_full(client, dev)
    smell = client.post(f"/report/{dev}", data={"service_code": "smell_pests", "email": "x@y.de"})
    assert smell.status_code == 200  # followed to the status page
    _measure(client, dev, 2, 110, [], utcnow())  # emptied
    db.expire_all()
    assert db.exec(select(Alert).where(Alert.kind == "bin_full")).one().closed_at is not None
    (closed,) = client.get(f"/open311/v2/requests/{full}.json").json()
    assert closed["status"] == "closed" and "Geleert" in closed["status_notes"]
    others = client.get("/open311/v2/requests.json?status=open").json()
    assert [r["service_code"] for r in others] == ["smell_pests"]  # emptying does not fix a smell


def test_sensor_box_damaged_opens_a_maintenance_task_until_the_crew_closes_it(app, client, tech, db) -> None:  # noqa: ANN001
    """A citizen's "sensor box damaged" report opens the node's maintenance alert at once (no uplink
    needed): the crew sees it on the node page and the overview; closing the report closes the alert."""
    from fleet.models import Alert

    dev = add_device(client, tech, street="Kirchplatz 2")["dev_eui"]
    r = client.post(f"/report/{dev}", data={"service_code": "sensor_damaged", "note": "Kasten hängt lose"},
                    follow_redirects=False)  # fmt: skip
    assert r.status_code == 303
    ref = int(r.headers["location"].split("/")[-1].split("?")[0])
    (alert,) = db.exec(select(Alert).where(Alert.kind == "maintenance")).all()
    assert alert.closed_at is None and alert.severity == "warning"
    health = client.get(f"/api/v1/devices/{dev}/health", headers=tech).json()
    (reason,) = [x for x in health["reasons"] if x["code"] == "sensor_reported_damaged"]
    assert reason["params"] == {"reports": 1} and "sensor box is damaged" in reason["message"]
    crew = _signed_in(app, tech)
    node_page = crew.get(f"/nodes/{dev}").text
    assert "1 citizen report(s) say the sensor box is damaged: inspect it" in node_page
    open_alerts = crew.get("/").text.split('id="recent-alarms"')[0]
    assert 'id="alerts"' in open_alerts and "maintenance: sensor box" in open_alerts
    # A "full" report is no maintenance task.
    assert client.post(f"/report/{dev}", data={"service_code": "bin_full"}).status_code == 200
    assert len(db.exec(select(Alert).where(Alert.kind == "maintenance")).all()) == 1
    csrf = re.search(r'name="csrf" value="([0-9a-f]+)"', node_page).group(1)
    close = crew.post(f"/nodes/{dev}/reports/{ref}/close", data={"note": "Neu verschraubt", "csrf": csrf},
                      follow_redirects=False)  # fmt: skip
    assert close.status_code == 303
    db.expire_all()
    assert db.get(Alert, alert.id).closed_at is not None
    codes = [x["code"] for x in client.get(f"/api/v1/devices/{dev}/health", headers=tech).json()["reasons"]]
    assert "sensor_reported_damaged" not in codes and "alert_open" not in codes
    assert "maintenance: sensor box" not in crew.get("/").text.split('id="recent-alarms"')[0]


def test_open311_sensor_damaged_opens_the_maintenance_task(client, tech, admin, db) -> None:  # noqa: ANN001
    from fleet.models import Alert

    dev = add_device(client, tech)["dev_eui"]
    key = client.post("/api/v1/tokens", json={"name": "maengelmelder", "role": "viewer"}, headers=admin)
    assert key.status_code in (200, 201), key.text
    data = {"api_key": key.json()["token"], "service_code": "sensor_damaged", "attribute[dev_eui]": dev}
    assert client.post("/open311/v2/requests.json", data=data).status_code in (200, 201)
    (alert,) = db.exec(select(Alert).where(Alert.kind == "maintenance")).all()
    assert alert.closed_at is None


def test_overview_lists_the_open_citizen_reports(app, client, tech, db) -> None:  # noqa: ANN001
    """The crew's overview counts every open report and lists the newest with bin, place and problem;
    a closed report leaves the list."""
    import fleet.web.views.overview as overview

    first = add_device(client, tech, name="Markt 1", street="Marktplatz 1", district="Mitte")["dev_eui"]
    second = add_device(client, tech, name="Ring 7", street="Ring 7", district="Süd")["dev_eui"]
    refs = [_file_full(client, first)]
    for code in ("dumped_waste", "lid_problem"):
        r = client.post(f"/report/{second}", data={"service_code": code}, follow_redirects=False)
        refs.append(int(r.headers["location"].split("/")[-1].split("?")[0]))
    crew = _signed_in(app, tech)
    page = crew.get("/").text
    section = page.split('id="citizen-reports"')[1].split("</section>")[0]
    assert "Citizen reports (3 open)" in section
    assert "Markt 1</a> (Marktplatz 1, Mitte): Full or overflowing" in section
    assert "Ring 7</a> (Ring 7, Süd): Waste dumped next to it" in section
    assert f'href="/nodes/{first}#reports"' in section and f'href="/report/status/{refs[0]}"' in section
    # More than the list holds: the heading still counts all, a line says how many are not listed.
    old = overview.OVERVIEW_REPORTS
    overview.OVERVIEW_REPORTS = 2
    try:
        section = crew.get("/").text.split('id="citizen-reports"')[1].split("</section>")[0]
    finally:
        overview.OVERVIEW_REPORTS = old
    assert "Citizen reports (3 open)" in section and "1 older open reports" in section
    assert "Marktplatz 1" not in section  # the oldest is the one left out
    csrf = re.search(r'name="csrf" value="([0-9a-f]+)"', crew.get(f"/nodes/{first}").text).group(1)
    crew.post(f"/nodes/{first}/reports/{refs[0]}/close", data={"note": "geleert", "csrf": csrf})
    section = crew.get("/").text.split('id="citizen-reports"')[1].split("</section>")[0]
    assert "Citizen reports (2 open)" in section and "Marktplatz 1" not in section


def test_the_demo_files_its_citizen_reports_through_open311(client, admin, tech, db) -> None:  # noqa: ANN001
    """`kumpel demo` seeds its district with reports (tools/demo.py: file_citizen_reports) through the real
    Open311 POST: "full" on the fullest bin, "sensor box damaged" (a maintenance alert) on the next."""
    from fleet.models import Alert, utcnow
    from tools.demo import file_citizen_reports

    euis = [add_device(client, tech, street=f"Demo {i}")["dev_eui"] for i in range(4)]
    for n, (eui, distance) in enumerate(zip(euis, (90, 12, 60, 100), strict=True), start=1):
        _measure(client, eui, n, distance, [], utcnow())  # the second bin is the fullest (90 %)
    filed = file_citizen_reports(client, admin["Authorization"].split()[1], euis)
    assert filed == [f"bin_full {euis[1]}", f"sensor_damaged {euis[2]}", f"dumped_waste {euis[0]}"]
    requests = {r["service_code"]: r for r in client.get("/open311/v2/requests.json?extensions=true").json()}
    assert requests["bin_full"]["extended_attributes"]["dev_eui"] == euis[1]
    assert requests["sensor_damaged"]["description"].startswith("Der graue Kasten")
    assert all(r["status"] == "open" for r in requests.values())
    (alert,) = db.exec(select(Alert).where(Alert.kind == "maintenance")).all()
    assert alert.closed_at is None
