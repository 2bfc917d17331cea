"""Fill forecast: learned from the emulator's district physics (emptying Tuesday and Friday 07:00, fill
rate by hour and weekday, ultrasonic noise), and through HTTP: tomorrow's collection list (page and CSV)
and the node page's "full in ~N" line."""

import re
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from fleet_helpers import add_device
from sqlmodel import select

from fleet.models import Device, Reading, Uplink
from fleet.services.forecast import forecast
from tools.emulator import scenario as scenarios
from tools.emulator.physics import NodeWorld


def _district_bin(name: str, days: float):  # noqa: ANN202
    scen = scenarios.load("district")
    scen = replace(scen, days=days)
    spec = next(n for n in scen.nodes if n.name == name)
    seen, truth = NodeWorld(spec, scen), NodeWorld(spec, scen)
    rows = []
    for i in range(int(days * 96)):
        t_us = i * 15 * 60_000_000
        level = max(0.0, min(100.0, 100 * (1 - seen.distance_cm(t_us) / spec.bin.height_cm)))
        rows.append((scen.start + timedelta(microseconds=t_us), round(level), truth.fill_pct(t_us)))
    return rows


def test_forecast_learns_the_emptying_days_and_hits_the_true_crossing():
    rows = _district_bin("ehrenfeld-001", 28)
    origin = 21 * 96 + 4 * 12  # Monday of the fourth week, 12:00
    fc = forecast([(t, f) for t, f, _ in rows[origin - 21 * 96 : origin + 1]], 80)
    assert fc.emptying_slots == ((1, 7), (4, 7))  # Tuesday and Friday 07:00, as the scenario says
    truth = next(t for t, _, true in rows[origin:] if true >= 80)
    assert abs((fc.full_at - truth).total_seconds()) / 3600 < 3
    assert fc.last_emptied_at.weekday() == 4  # the last emptying before a Monday: Friday


def test_forecast_needs_some_history():
    now = datetime(2026, 12, 1, tzinfo=UTC)
    assert forecast([(now, 10.0)], 80) is None


def _history(db, dev_eui: str, level_now: float, rate_per_h: float) -> None:  # noqa: ANN001
    device = db.exec(select(Device).where(Device.dev_eui == dev_eui)).one()
    uplink = Uplink(device_id=device.id, dedup_key=f"fc-{dev_eui}", source="chirpstack")
    db.add(uplink)
    db.flush()
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    for h in range(48, -1, -1):
        level = max(0.0, level_now - rate_per_h * h)
        db.add(Reading(device_id=device.id, uplink_id=uplink.id, measured_at=now - timedelta(hours=h),
                       fill_pct=round(level), distance_cm=50))  # fmt: skip
    db.commit()


@pytest.fixture
def crew(client, app):  # noqa: ANN001, ANN201
    """A signed-in viewer (over https: the fleet's public URL is https, so its cookie is Secure)."""
    from fastapi.testclient import TestClient
    from fleet_helpers import make_token

    token = make_token(app, "viewer")["Authorization"].removeprefix("Bearer ")
    browser = TestClient(app, base_url="https://testserver", headers={"Accept-Language": "en"})
    form = browser.get("/signin")  # the form's login-CSRF token and its cookie
    csrf = re.search(r'name="csrf" value="([^"]+)"', form.text).group(1)
    r = browser.post("/signin", data={"token": token, "next": "/", "csrf": csrf}, follow_redirects=False)
    assert r.status_code == 303
    return browser


def test_tomorrows_collection_list_as_page_and_csv(client, tech, db, crew):
    add_device(
        client, tech, dev_eui="70B3D57ED0000F01", name="Filling", street="Kortumstr. 1", groups=["Nord"]
    )
    add_device(client, tech, dev_eui="70B3D57ED0000F02", name="Quiet", street="Kortumstr. 2", groups=["Nord"])
    _history(db, "70B3D57ED0000F01", 70, 1.2)  # 80 % in about 8 hours
    _history(db, "70B3D57ED0000F02", 10, 0.0)
    csv_text = crew.get("/collection.csv?group=Nord")
    assert csv_text.status_code == 200 and csv_text.headers["content-type"].startswith("text/csv")
    lines = csv_text.text.strip().splitlines()
    assert lines[0] == "name,dev_eui,street,fill_pct_now,full_at,last_emptied"
    assert len(lines) == 2 and lines[1].startswith("Filling,70B3D57ED0000F01,Kortumstr. 1,70,")
    page = crew.get("/collection?group=Nord")
    assert page.status_code == 200 and "Kortumstr. 1" in page.text and "Quiet" not in page.text
    node = crew.get("/nodes/70B3D57ED0000F01")
    assert "Full in ~8 hours" in node.text
    quiet = crew.get("/nodes/70B3D57ED0000F02")
    assert "Not full within 7 days" in quiet.text
    assert crew.get("/collection?group=Nowhere").status_code == 404
