"""Starting a staged rollout from /tech/rollouts, and the gateways on the node page, through HTTP: the form
as a technician, every refusal (in the reader's language, nothing created), viewers refused."""

import re
from datetime import UTC, datetime, timedelta
from html import unescape

import pytest
import web_seed as seed
from sqlalchemy import func
from sqlmodel import Session, select

from fleet.models import Downlink, Rollout


def _csrf(html: str) -> str:
    return re.search(r'name="csrf" value="([0-9a-f]+)"', html).group(1)


def _api(fleet, role: str = "technician") -> dict:  # noqa: ANN001
    return {"Authorization": f"Bearer {fleet.tokens[role]}"}


def _counts(fleet) -> tuple[int, int]:  # noqa: ANN001
    """Rollouts and downlinks stored: what a refused start must leave as it was."""
    with Session(fleet.engine) as db:
        return (
            db.exec(select(func.count()).select_from(Rollout)).one(),
            db.exec(select(func.count()).select_from(Downlink)).one(),
        )


def _start(client, csrf: str, **fields):  # noqa: ANN001, ANN003, ANN202
    data = {"csrf": csrf, "rollout_batch_size": "1", "rollout_threshold_pct": "50", **fields}
    return client.post("/tech/rollouts", data=data, follow_redirects=False)


def test_viewer_gets_no_form_and_a_viewer_post_is_refused(fleet, as_role):
    viewer = as_role("viewer")
    page = viewer.get("/tech/rollouts")
    assert page.status_code == 403 and 'action="/tech/rollouts"' not in page.text
    before = _counts(fleet)
    r = viewer.post(
        "/tech/rollouts",
        data={"csrf": "0" * 32, "group": "Bahnhof", "status_every": "6", "rollout_batch_size": "1"},
    )
    assert r.status_code == 403 and "may only read" in r.text
    assert _counts(fleet) == before


def test_form_offers_the_groups_and_prefills_a_groups_config(fleet, as_role):
    client = as_role("technician")
    html = client.get("/tech/rollouts").text
    assert 'action="/tech/rollouts"' in html and 'name="rollout_batch_size" value="10"' in html
    assert "Mitte-Nord (2 nodes)" in html and "Bahnhof (1 nodes)" in html
    csrf = _csrf(client.get("/tech/config?group=Bahnhof").text)
    saved = client.post(
        "/tech/config",
        data={"csrf": csrf, "group": "Bahnhof", "meas_interval_min": "30"},
        follow_redirects=False,
    )
    assert saved.status_code == 303
    link = re.search(
        r'href="(/tech/rollouts\?group=Bahnhof#start)">Roll out in batches instead<',
        client.get(saved.headers["location"]).text,
    )
    html = client.get(link.group(1)).text
    assert (
        '<option value="Bahnhof" selected>' in html
        and '<details id="start" class="start-rollout" open>' in html
    )
    assert 'name="meas_interval_min" value="30"' in html
    assert "Filled in from the current config of group Bahnhof." in html


def test_technician_starts_a_rollout_and_sees_its_progress(fleet, as_role):
    client = as_role("technician")
    csrf = _csrf(client.get("/tech/rollouts").text)
    rollouts_before, _ = _counts(fleet)
    r = _start(client, csrf, group="Mitte-Nord", status_every="6", meas_interval_min="")
    assert r.status_code == 303, r.text
    rollout_id = int(
        re.fullmatch(r"/tech/rollouts\?started=(\d+)#rollout-\d+", r.headers["location"]).group(1)
    )
    assert _counts(fleet)[0] == rollouts_before + 1
    html = unescape(client.get(r.headers["location"]).text)
    assert f"Rollout {rollout_id} to group Mitte-Nord started: the first batch is queued." in html
    section = re.search(
        rf'<section class="rollout" id="rollout-{rollout_id}" data-state="running">(.*?)</section>',
        html,
        re.S,
    )
    assert section and "running: batch 0, 0 of 2 nodes done, 0 failed" in section.group(1)
    assert "status_every=6" in section.group(1) and f"/tech/rollouts/{rollout_id}/abort" in section.group(1)
    # the same rollout as the API sees it: the first batch (one node) has its downlink, the other waits
    api = fleet.anonymous.get(f"/api/v1/rollouts/{rollout_id}", headers=_api(fleet)).json()
    assert api["settings"] == {"status_every": 6} and api["batch_size"] == 1
    assert api["failure_threshold_pct"] == 50 and api["counts"] == {"in_progress": 1, "pending": 1}

    # a second rollout for the same group is refused while this one runs; nothing is created for it
    before = _counts(fleet)
    again = _start(client, csrf, group="Mitte-Nord", status_every="12")
    assert again.status_code == 400
    assert (
        f"Group Mitte-Nord already has rollout {rollout_id} (running): resume or abort it first."
        in unescape(again.text)
    )
    assert _counts(fleet) == before


@pytest.mark.parametrize(
    ("fields", "message", "kept"),
    [
        (
            {"group": "Nowhere", "status_every": "6"},
            "There is no group Nowhere. Choose one from the list.",
            None,
        ),
        ({"group": "", "status_every": "6"}, "Choose a group.", None),
        ({"group": "Bahnhof"}, "Fill in at least one setting to roll out.", None),
        (
            {"group": "Bahnhof", "status_every": "6", "rollout_batch_size": "0"},
            "Nodes per batch must be at least 1, not 0.",
            'name="rollout_batch_size" value="0"',
        ),
        (
            {"group": "Bahnhof", "status_every": "6", "rollout_threshold_pct": "101"},
            "The failure threshold must be between 0 and 100 %, not 101.",
            'name="rollout_threshold_pct" value="101"',
        ),
        (
            {"group": "Bahnhof", "status_every": "6", "rollout_threshold_pct": "-1"},
            "The failure threshold must be between 0 and 100 %, not -1.",
            None,
        ),
        (
            {"group": "Bahnhof", "status_every": "6", "rollout_batch_size": "two"},
            "Nodes per batch: two is not a whole number",
            'name="rollout_batch_size" value="two"',
        ),
        (
            {"group": "Bahnhof", "status_every": "99999"},
            "status_every = 99999: value out of range",
            'name="status_every" value="99999"',
        ),
        (
            {"group": "Leer", "status_every": "6"},
            "Group Leer has no nodes: there is nothing to roll out to.",
            None,
        ),
    ],
)
def test_bad_input_names_the_problem_and_creates_nothing(fleet, as_role, fields, message, kept):
    if fields["group"] == "Leer":  # a group without members, made the way an admin would (the API)
        created = fleet.anonymous.post("/api/v1/groups", json={"name": "Leer"}, headers=_api(fleet))
        assert created.status_code in (201, 409)
    client = as_role("technician")
    csrf = _csrf(client.get("/tech/rollouts").text)
    before = _counts(fleet)
    r = _start(client, csrf, **fields)
    assert r.status_code == 400
    html = unescape(r.text)
    assert re.search(r'<p class="flash error" role="alert">' + re.escape(message), html), html[:3000]
    assert '<details id="start" class="start-rollout" open>' in html  # the form is open, typed values back
    if kept:
        assert kept in html
    assert _counts(fleet) == before


def test_refusals_in_german(fleet, signed_in):
    client = signed_in("technician", "de")
    csrf = _csrf(client.get("/tech/rollouts").text)
    before = _counts(fleet)
    r = _start(client, csrf, group="Bahnhof", status_every="6", rollout_batch_size="0")
    assert r.status_code == 400 and "Knoten je Stufe muss mindestens 1 sein, nicht 0." in unescape(r.text)
    r = _start(client, csrf, group="Bahnhof", status_every="99999")
    assert "status_every = 99999: Wert außerhalb des Bereichs" in unescape(r.text)
    assert _counts(fleet) == before


def test_a_post_without_the_forms_csrf_token_is_refused(fleet, as_role):
    before = _counts(fleet)
    r = _start(as_role("technician"), "f" * 32, group="Bahnhof", status_every="6")
    assert r.status_code == 403 and "The form has expired" in r.text
    assert _counts(fleet) == before


def _up(dev_eui: str, when: datetime, fcnt: int, rx: list[tuple[str, int, float]]) -> dict:
    event = seed._up_event(dev_eui, when, fcnt, 1, seed._measurement(60, 12.0, 3600, []))
    event["rxInfo"] = [{"gatewayId": gw, "rssi": rssi, "snr": snr} for gw, rssi, snr in rx]
    return event


def test_node_page_lists_the_gateways_that_heard_it(fleet, as_role):
    """Five uplinks: the roof gateway heard four, the depot gateway two (its best RSSI is the better one),
    one uplink came with no radio metadata at all; the newest first, counted per uplink not per row."""
    dev_eui = "70B3D57ED0000A01"
    created = fleet.anonymous.post(
        "/api/v1/devices", json={"dev_eui": dev_eui, "name": "Funkloch"}, headers=_api(fleet)
    )
    assert created.status_code == 201, created.text
    roof, depot = "a840411dfe000001", "a840411dfe000002"
    start = datetime.now(UTC) - timedelta(hours=5)
    heard = [
        [(roof, -110, -3.0)],
        [(roof, -104, 1.5), (depot, -99, 4.0)],
        [],
        [(roof, -118, -9.25), (depot, -121, -12.0), (depot, -125, -14.0)],  # depot twice: one uplink
        [(roof, -107, 0.5)],
    ]
    for i, rx in enumerate(heard):
        seed.post_up(fleet.anonymous, _up(dev_eui, start + timedelta(hours=i), i + 1, rx))
    html = unescape(as_role("viewer").get(f"/nodes/{dev_eui}").text)
    assert "Gateways that heard the last 5 uplinks" in html
    rows = re.findall(
        r"<tr><td class=\"mono\">([0-9a-f]+)</td><td>([^<]+)</td><td>([^<]+)</td><td>([^<]+)</td></tr>", html
    )
    assert rows == [
        (roof, "−104 dBm", "1.5 dB", "4 of 5"),
        (depot, "−99 dBm", "4.0 dB", "2 of 5"),
    ]
    german = unescape(as_role("viewer").get(f"/nodes/{dev_eui}", headers={"Accept-Language": "de"}).text)
    assert "Gateways, die die letzten 5 Meldungen empfangen haben" in german and "4 von 5" in german


def test_node_without_uplinks_shows_no_gateway_table(fleet, as_role):
    dev_eui = "70B3D57ED0000A02"
    fleet.anonymous.post("/api/v1/devices", json={"dev_eui": dev_eui}, headers=_api(fleet))
    html = as_role("technician").get(f"/nodes/{dev_eui}").text
    assert 'class="gateways"' not in html and "Gateways that heard" not in html
