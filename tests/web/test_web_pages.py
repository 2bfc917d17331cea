"""Every page through HTTP (TestClient on the real fleet app, seeded through ChirpStack ingest)."""

import re

import pytest
import web_seed as seed

HEALTHY, SILENT, LOW = seed.HEALTHY, seed.SILENT, seed.LOW_BATTERY


def _main(html: str) -> str:
    return html.split('<main id="main">', 1)[1].split("</main>", 1)[0]


def _listed(html: str) -> set[str]:
    """DevEUIs in the overview's node list."""
    block = (
        html.split('<ul class="nodes">', 1)[1].split("</ul>", 1)[0] if '<ul class="nodes">' in html else ""
    )
    return set(re.findall(r'href="/nodes/([0-9A-F]{16})"', block))


def test_pages_need_sign_in_and_come_back_after_it(fleet, signed_in):
    r = fleet.anonymous.get("/nodes/" + HEALTHY + "?window=7d", follow_redirects=False)
    assert r.status_code == 303
    assert r.headers["location"] == "/signin?next=/nodes/" + HEALTHY + "%3Fwindow%3D7d"
    form = fleet.anonymous.get(r.headers["location"])
    assert form.status_code == 200 and 'name="token"' in form.text
    client = signed_in("viewer")
    back = client.post(
        "/signin",
        data={"token": fleet.tokens["viewer"], "next": "/nodes/" + HEALTHY, "csrf": client.signin_csrf},
        follow_redirects=False,
    )
    assert back.headers["location"] == "/nodes/" + HEALTHY
    cookie = back.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie and fleet.tokens["viewer"] not in cookie


@pytest.mark.parametrize(
    ("token", "status", "text"),
    [("", 400, "Enter your access token"), ("kmp_not-a-real-token", 401, "not valid")],
)
def test_sign_in_refuses_bad_tokens_with_a_clear_message(fleet, token, status, text):
    csrf = seed.signin_csrf(fleet.anonymous)
    r = fleet.anonymous.post(
        "/signin", data={"token": token, "csrf": csrf}, headers={"Accept-Language": "en"}
    )
    assert r.status_code == status and text in r.text
    assert "set-cookie" not in r.headers


def test_sign_in_never_redirects_off_site(fleet, signed_in):
    for target in ("https://evil.example/", "//evil.example/x", "/\\evil"):
        client = signed_in("viewer")
        r = client.post(
            "/signin",
            data={"token": fleet.tokens["viewer"], "next": target, "csrf": client.signin_csrf},
            follow_redirects=False,
        )
        assert r.headers["location"] == "/"


def test_a_tampered_or_revoked_session_is_signed_out(fleet, signed_in):
    client = signed_in("technician")
    value = client.cookies.get("kumpel_session")
    body, sig = value.split(".")
    client.cookies.set("kumpel_session", body[:-2] + "AA." + sig)
    assert client.get("/", follow_redirects=False).status_code == 303


def test_overview_counts_alerts_first_and_worst_first(fleet, as_role):
    r = as_role("viewer").get("/")
    assert r.status_code == 200
    html = r.text
    counts = dict(re.findall(r'data-state="(\w+)"><b>(\d+)</b>', html))
    assert counts == {"ok": "1", "warning": "0", "critical": "1", "offline": "1"}
    assert html.index("Open alerts") < html.index('<ul class="nodes">')
    order = re.findall(r'href="/nodes/([0-9A-F]{16})"><span class="state', html)
    assert order == [LOW, SILENT, HEALTHY]
    assert "no uplink for 5 h" in html  # the silent node's reason, in words


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("state=offline", {SILENT}),
        ("state=ok", {HEALTHY}),
        ("q=bahnhof", {SILENT}),
        ("q=70b3d57ed0000001", {HEALTHY}),
        ("q=Schillerplatz", {LOW}),
        ("group=Mitte-Nord", {HEALTHY, LOW}),
        ("group=S%C3%BCd", {SILENT}),
        ("battery_low=1", {LOW}),
        ("bin_full=1", {LOW}),
        ("silent_h=3", {SILENT}),
        ("silent_h=not-a-number", {HEALTHY, SILENT, LOW}),
        ("state=bogus", {HEALTHY, SILENT, LOW}),
        ("q=nothing-like-this", set()),
    ],
)
def test_overview_filters(as_role, query, expected):
    r = as_role("viewer").get("/?" + query)
    assert r.status_code == 200
    assert _listed(r.text) == expected


def test_node_page_status_in_plain_words_english_and_german(fleet, as_role, signed_in):
    en = as_role("viewer").get(f"/nodes/{SILENT}").text
    assert 'data-state="offline"' in en
    assert re.search(r"no uplink for 5 h( \d+ min)?, expected every 2 h", en)
    de = signed_in("viewer", "de").get(f"/nodes/{SILENT}").text
    assert re.search(r"keine Meldung seit 5 Std\.( \d+ Min\.)?, erwartet alle 2 Std\.", de)
    assert '<html lang="de">' in de and "Zeiten in Europe/Berlin" in de


def test_node_page_battery_days_left_fill_gauge_signal_and_charts(as_role):
    html = as_role("viewer").get(f"/nodes/{LOW}").text
    assert 'data-state="critical"' in html
    assert re.search(r"battery 3\.2\d V", html)
    assert 'role="meter"' in html and 'aria-valuenow="87"' in html  # 16 cm below the sensor, 120 cm bin
    assert "FIRE" not in html and "bin full" in html
    assert "watchdog reset" in html  # from the status frame
    assert "−97 dBm" in html and "SF9" in html
    assert html.count('<svg class="chart"') == 3
    assert html.count("<polyline") == 3


@pytest.mark.parametrize("window", ["24h", "7d", "30d", "bogus"])
def test_chart_windows(as_role, window):
    html = as_role("viewer").get(f"/nodes/{HEALTHY}?window={window}").text
    current = re.search(r'<a href="\?window=(\w+)#charts" aria-current', html).group(1)
    assert current == (window if window != "bogus" else "24h")
    assert html.count("<polyline") == 3


def test_viewer_sees_no_buttons_no_forms_no_keys(as_role):
    html = _main(as_role("viewer").get(f"/nodes/{HEALTHY}").text)
    assert "<button" not in html and "<form" not in html
    assert "JoinEUI" not in html and "70B3D57ED0FFFFFF" not in html
    tech = _main(as_role("technician").get(f"/nodes/{HEALTHY}").text)
    assert "Request status uplink" in tech and "Save note" in tech and "70B3D57ED0FFFFFF" in tech


def test_maintenance_note_by_a_technician(as_role):
    client = as_role("technician")
    page = client.get(f"/nodes/{HEALTHY}").text
    csrf = re.search(r'name="csrf" value="([0-9a-f]+)"', page).group(1)
    r = client.post(
        f"/nodes/{HEALTHY}/maintenance",
        data={"note": "Sensor gereinigt <b>", "csrf": csrf},
        follow_redirects=False,
    )
    assert r.status_code == 303
    after = client.get(r.headers["location"]).text
    assert "Note saved." in after and "Sensor gereinigt &lt;b&gt;" in after and "Crew technician" in after


@pytest.mark.parametrize(
    ("role", "note", "csrf_ok", "status"),
    [
        ("viewer", "cleaned", True, 403),
        ("technician", "cleaned", False, 403),
        ("technician", "   ", True, 400),
        ("technician", "x" * 501, True, 400),
    ],
)
def test_maintenance_note_refusals(as_role, role, note, csrf_ok, status):
    client = as_role(role)
    page = client.get(f"/nodes/{SILENT}").text
    found = re.search(r'name="csrf" value="([0-9a-f]+)"', page)
    csrf = found.group(1) if (found and csrf_ok) else ("0" * 32 if not csrf_ok else "")
    if role == "viewer":
        csrf = "0" * 32
    before = page.count('<ol class="log">')
    r = client.post(f"/nodes/{SILENT}/maintenance", data={"note": note, "csrf": csrf}, follow_redirects=False)
    assert r.status_code == status
    assert client.get(f"/nodes/{SILENT}").text.count('<ol class="log">') == before


def test_request_status_queues_a_command_downlink(as_role):
    client = as_role("technician")
    csrf = re.search(r'name="csrf" value="([0-9a-f]+)"', client.get(f"/nodes/{LOW}").text).group(1)
    r = client.post(
        f"/nodes/{LOW}/command", data={"command": "status_now", "csrf": csrf}, follow_redirects=False
    )
    assert r.status_code == 303
    html = client.get(r.headers["location"]).text
    assert "Request queued" in html and "command status_now, waiting for its turn" in html
    bad = client.post(f"/nodes/{LOW}/command", data={"command": "reboot", "csrf": csrf})
    assert bad.status_code == 400


def test_language_switch_is_remembered(fleet, signed_in):
    client = signed_in("viewer", "en")
    assert "Fleet overview" in client.get("/").text
    r = client.get("/lang/de?next=/nodes/" + HEALTHY, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/nodes/" + HEALTHY
    assert "Letzte Messung" in client.get(r.headers["location"]).text
    assert "Flottenübersicht" in client.get("/").text  # remembered, despite Accept-Language: en
    assert client.get("/lang/de?next=https://evil.example", follow_redirects=False).headers["location"] == "/"


def test_unknown_node_and_eui_spellings(as_role):
    client = as_role("viewer")
    missing = client.get("/nodes/0011223344556677")
    assert missing.status_code == 404 and "No node with DevEUI 0011223344556677" in missing.text
    r = client.get("/nodes/70:b3:d5:7e:d0:00:00:01", follow_redirects=False)
    assert r.status_code == 301 and r.headers["location"] == "/nodes/" + HEALTHY


def test_hostile_names_are_escaped_everywhere(as_role):
    client = as_role("technician")
    for path in ("/", f"/nodes/{LOW}", "/tech/labels", "/?q=Schiller"):
        html = client.get(path).text
        assert '<script>alert("x")</script>' not in html, path
        assert "&lt;script&gt;" in html, path


def test_static_assets_are_ours_and_cacheable(as_role):
    html = as_role("viewer").get("/").text
    css = re.search(r'href="(/static/web/kumpel\.css\?v=[0-9a-f]+)"', html).group(1)
    r = as_role("viewer").get(css)
    assert r.status_code == 200 and "immutable" in r.headers["cache-control"]
    assert re.search(r'(src|href)="https?://', html) is None  # no CDN, nothing from elsewhere
    assert as_role("viewer").get("/static/web/../app.py").status_code == 404
    headers = as_role("viewer").get("/").headers
    assert "frame-ancestors 'none'" in headers["content-security-policy"]
    assert headers["cache-control"] == "no-store" and headers["content-language"] == "en"


def test_resend_config_only_when_something_is_pending(as_role):
    client = as_role("technician")
    csrf = re.search(r'name="csrf" value="([0-9a-f]+)"', client.get(f"/nodes/{HEALTHY}").text).group(1)
    in_sync = client.post(f"/nodes/{HEALTHY}/resend-config", data={"csrf": csrf})
    assert "Nothing to resend" in in_sync.text and "waiting for its turn" not in in_sync.text
    client.post("/tech/config", data={"csrf": csrf, "dev_eui": HEALTHY, "status_every": "24"})
    again = client.post(f"/nodes/{HEALTHY}/resend-config", data={"csrf": csrf})
    assert "Config queued again" in again.text
    assert len(re.findall(r"config version \d+, waiting for its turn", again.text)) == 1  # not a second copy
