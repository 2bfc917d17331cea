"""Technician pages through HTTP: add and import devices, QR labels, unknown devices, config, rollouts."""

import re
from html import unescape

import pytest
import web_seed as seed

from protocols.hardware import BOARDS

TECH_PAGES = (
    "/tech/devices",
    "/tech/unknown",
    "/tech/rollouts",
    "/tech/labels",
    f"/tech/config?dev_eui={seed.HEALTHY}",
)


def _csrf(html: str) -> str:
    return re.search(r'name="csrf" value="([0-9a-f]+)"', html).group(1)


@pytest.mark.parametrize("path", TECH_PAGES)
def test_viewers_are_refused_technicians_served(as_role, path):
    refused = as_role("viewer").get(path)
    assert refused.status_code == 403 and "may only read" in refused.text
    assert as_role("technician").get(path).status_code == 200


def test_add_a_device_shows_its_app_key_once(as_role):
    client = as_role("technician")
    csrf = _csrf(client.get("/tech/devices").text)
    r = client.post(
        "/tech/devices",
        data={
            "csrf": csrf,
            "dev_eui": "70-b3-d5-7e-d0-00-00-10",
            "name": "Rathaus",
            "street": "Rathausplatz 1",
            "groups": "Mitte-Nord, Neu",
            "bin_height_cm": "110",
        },
    )
    assert r.status_code == 200, r.text
    app_key = re.search(r'class="mono app-key">([0-9A-F]{32})<', r.text).group(1)
    node = client.get("/nodes/70B3D57ED0000010").text
    assert "Rathaus" in node and app_key not in node  # shown once, never again
    assert app_key not in client.get("/tech/labels?dev_eui=70B3D57ED0000010").text


@pytest.mark.parametrize(
    ("fields", "status", "message"),
    [
        ({"dev_eui": "70B3D57ED0000010"}, 409, "already exists"),
        ({"dev_eui": "not-hex"}, 400, "not 16 hex digits"),
        ({"dev_eui": "70B3D57ED0000011", "app_key": "1234"}, 400, "app_key must be 32 hex digits"),
        ({"dev_eui": "70B3D57ED0000012", "bin_height_cm": "5"}, 400, "bin_height_cm"),
    ],
)
def test_a_refused_device_names_the_problem_and_keeps_the_form(as_role, fields, status, message):
    client = as_role("technician")
    csrf = _csrf(client.get("/tech/devices").text)
    r = client.post("/tech/devices", data={"csrf": csrf, "name": "Typed name kept", **fields})
    assert r.status_code == status and message in r.text
    assert 'value="Typed name kept"' in r.text


def test_csv_import_reports_every_row(as_role):
    client = as_role("technician")
    csrf = _csrf(client.get("/tech/devices").text)
    csv_text = (
        "dev_eui,join_eui,name,street,district,groups\n"
        "70B3D57ED0000020,70B3D57ED0FFFFFF,Kirchplatz,Kirchplatz 2,Nord,Nord\n"
        "70B3D57ED000002X,70B3D57ED0FFFFFF,Broken,,,\n"
        f"{seed.HEALTHY},,Marktplatz Nord (neu),,,\n"
    )
    r = client.post(
        "/tech/devices/import",
        data={"csrf": csrf},
        files={"file": ("geraete.csv", csv_text.encode(), "text/csv")},
    )
    assert r.status_code == 200, r.text
    rows = re.findall(
        r"<tr><td>(\d+)</td><td class=\"mono\">([^<]*)</td>\s*<td class=\"(\w+)\">([^<]*)", r.text
    )
    assert [(n, unescape(result)) for n, _eui, _css, result in rows] == [
        ("2", "created"),
        ("3", "rejected: dev_eui: “70B3D57ED000002X” is not 16 hex digits"),
        ("4", "updated"),
    ]
    assert "Kirchplatz" in client.get("/nodes/70B3D57ED0000020").text


def test_csv_import_reasons_in_german(signed_in):
    """Every refusal is worded from its code and parameters in the reader's language, not the fleet's
    English: a German technician reads German."""
    client = signed_in("technician", "de")
    csrf = _csrf(client.get("/tech/devices").text)
    csv_text = (
        "dev_eui;name;bin_height_cm;board;lat\n"
        "70B3D57ED000002X;Kaputt;;;\n"
        "70B3D57ED0000031;Zu flach;5;;\n"
        "70B3D57ED0000032;Falsches Board;;esp8266;\n"
        "70B3D57ED0000033;Keine Zahl;;;nordwest\n"
        "70B3D57ED0000034;Gut;;;\n"
        "70B3D57ED0000034;Doppelt;;;\n"
        ";Ohne EUI;;;\n"
    )
    r = client.post(
        "/tech/devices/import", data={"csrf": csrf}, files={"file": ("g.csv", csv_text.encode(), "text/csv")}
    )
    assert r.status_code == 200, r.text
    cells = [
        unescape(c)
        for c in re.findall(
            r"<tr><td>\d+</td><td class=\"mono\">[^<]*</td>\s*<td class=\"\w+\">([^<]*)", r.text
        )
    ]
    assert cells == [
        "abgelehnt: dev_eui: „70B3D57ED000002X“ ist keine 16-stellige Hexzahl",
        "abgelehnt: bin_height_cm: mindestens 20",
        f"abgelehnt: board: „esp8266“ unbekannt, möglich: {', '.join(BOARDS)}",
        "abgelehnt: lat: „nordwest“ ist keine Zahl",
        "angelegt",
        "abgelehnt: dev_eui: 70B3D57ED0000034 steht zweimal in der Datei",
        "abgelehnt: dev_eui: leer",
    ], cells


def test_csv_import_refuses_junk_files(as_role):
    client = as_role("technician")
    csrf = _csrf(client.get("/tech/devices").text)
    bad = client.post(
        "/tech/devices/import",
        data={"csrf": csrf},
        files={"file": ("x.csv", b"\xff\xfe\x00garbage", "text/csv")},
    )
    assert bad.status_code == 400 and "not UTF-8" in bad.text
    wrong = client.post(
        "/tech/devices/import",
        data={"csrf": csrf},
        files={"file": ("x.csv", b"name,street\nA,B\n", "text/csv")},
    )
    assert wrong.status_code == 400 and "dev_eui column" in wrong.text


def test_label_sheet_has_a_tr005_qr_per_node_and_no_keys(as_role):
    html = as_role("technician").get("/tech/labels?group=Mitte-Nord").text
    labels = re.findall(r'<div class="label">', html)
    assert len(labels) >= 2
    assert html.count("<svg") >= len(labels)
    assert "/b/" in html and "LoRaWAN TR005" in html  # the sticker URL, and the TR005 code labelled
    single = as_role("technician").get(f"/nodes/{seed.HEALTHY}/label.svg")
    assert single.headers["content-type"].startswith("image/svg+xml") and "Marktplatz" in single.text


def test_unknown_devices_are_listed(as_role):
    html = as_role("technician").get("/tech/unknown").text
    assert seed.UNKNOWN in html


def test_config_edit_for_a_node(as_role):
    client = as_role("technician")
    form = client.get(f"/tech/config?dev_eui={seed.SILENT}").text
    csrf = _csrf(form)
    assert 'name="meas_interval_min"' in form and 'max="1440"' in form
    bad = client.post(
        "/tech/config",
        data={
            "csrf": csrf,
            "dev_eui": seed.SILENT,
            "meas_interval_min": "5000",
            "batch_size": "abc",
            "full_threshold_pct": "75",
        },
    )
    assert bad.status_code == 400
    assert "batch_size: abc is not a whole number" in bad.text
    assert 'value="75"' in bad.text  # what was typed is kept
    bad2 = client.post(
        "/tech/config", data={"csrf": csrf, "dev_eui": seed.SILENT, "meas_interval_min": "5000"}
    )
    assert bad2.status_code == 400 and "meas_interval_min=5000" in bad2.text
    ok = client.post(
        "/tech/config",
        data={"csrf": csrf, "dev_eui": seed.SILENT, "meas_interval_min": "30"},
        follow_redirects=False,
    )
    assert ok.status_code == 303
    node = client.get(ok.headers["location"]).text
    assert "Config saved" in node
    assert re.search(r'meas_interval_min</td><td>30</td><td>15</td>\s*<td class="pending">pending', node)
    assert "config version 1, waiting for its turn" in node  # the downlink waiting for the node's next uplink


def test_config_edit_for_a_group_and_missing_targets(as_role):
    client = as_role("technician")
    csrf = _csrf(client.get("/tech/config?group=Bahnhof").text)
    ok = client.post(
        "/tech/config",
        data={"csrf": csrf, "group": "Bahnhof", "full_threshold_pct": "70"},
        follow_redirects=False,
    )
    assert ok.status_code == 303
    assert "Group config saved" in client.get(ok.headers["location"]).text
    assert client.get("/tech/config?group=Nowhere").status_code == 404
    assert client.get("/tech/config").status_code == 404


def test_rollouts_page_shows_progress(fleet, as_role):
    from sqlmodel import Session, select

    from fleet.models import Group
    from fleet.services import rollout

    with Session(fleet.engine) as db:
        group = db.exec(select(Group).where(Group.name == "Mitte-Nord")).one()
        rollout.create(db, group, {"status_every": 6}, fleet.cfg, batch_size=1, failure_threshold_pct=50)
        db.commit()
    client = as_role("technician")
    html = client.get("/tech/rollouts").text
    assert "Rollout" in html and "Mitte-Nord" in html and 'role="progressbar"' in html
    assert "status_every=6" in html and "running: batch 0" in html
    rollout_id = re.search(r'action="/tech/rollouts/(\d+)/abort"', html).group(1)
    resume = client.post(f"/tech/rollouts/{rollout_id}/resume", data={"csrf": _csrf(html)})
    assert resume.status_code == 409 and "only a halted rollout can resume" in resume.text
    abort = client.post(
        f"/tech/rollouts/{rollout_id}/abort", data={"csrf": _csrf(html)}, follow_redirects=False
    )
    assert abort.status_code == 303
    after = client.get("/tech/rollouts").text
    assert "aborted: batch 0" in after and f"/tech/rollouts/{rollout_id}/abort" not in after
    assert as_role("viewer").post(f"/tech/rollouts/{rollout_id}/abort", data={"csrf": "x"}).status_code == 403


def test_technician_acknowledges_an_alert_viewer_cannot(as_role):
    viewer_page = as_role("viewer").get("/").text
    assert "Seen, on my way" not in viewer_page
    client = as_role("technician")
    page = client.get("/").text
    alert_id = re.search(r'action="/alerts/(\d+)/ack"', page).group(1)
    assert as_role("viewer").post(f"/alerts/{alert_id}/ack", data={"csrf": "0" * 32}).status_code == 403
    r = client.post(f"/alerts/{alert_id}/ack", data={"csrf": _csrf(page)}, follow_redirects=False)
    assert r.status_code == 303
    assert "seen by Crew technician" in client.get("/").text
    assert client.post("/alerts/999999/ack", data={"csrf": _csrf(page)}).status_code == 404


def test_config_report_with_a_rejected_key_shows_why(fleet, as_role):
    """The node's own config report (fPort 4, through ingest) is what marks keys applied or rejected."""
    client = as_role("technician")
    csrf = _csrf(client.get(f"/tech/config?dev_eui={seed.LOW_BATTERY}").text)
    saved = client.post(
        "/tech/config",
        data={"csrf": csrf, "dev_eui": seed.LOW_BATTERY, "meas_interval_min": "20", "status_every": "6"},
        follow_redirects=False,
    )
    assert saved.status_code == 303
    node = client.get(f"/nodes/{seed.LOW_BATTERY}").text
    version = int(re.search(r"config version (\d+), waiting", node).group(1))
    report = seed.codec.encode_config_report(version, [(1, "ok"), (8, "out_of_range")])
    when = seed.datetime.now(seed.UTC)
    seed.post_up(fleet.anonymous, seed._up_event(seed.LOW_BATTERY, when, 200, 4, report))
    node = client.get(f"/nodes/{seed.LOW_BATTERY}").text
    assert re.search(r'meas_interval_min</td><td>20</td><td>20</td>\s*<td class="good">applied', node)
    assert re.search(
        r'status_every</td><td>6</td><td>12</td>\s*<td class="bad">rejected: value out of range', node
    )
    assert "node rejected: status_every (value out of range)" in node  # and it is a health reason
