"""Provisioning through HTTP: register, CSV import with a result per row, TR005 labels."""

import re

from fleet_helpers import add_device
from sqlmodel import select

from fleet.models import Device, Group

CSV = """dev_eui,join_eui,name,street,bin_height_cm,groups,board
70B3D57ED0000001,70B3D57ED0000000,Bin 1,Marktplatz 1,110,altstadt,devkit_rak3172
70B3D57ED0000002,70B3D57ED0000000,Bin 2,Marktplatz 2,9999,altstadt|nord,devkit_rak3172
70B3D57ED000000Z,70B3D57ED0000000,Bin 3,Marktplatz 3,100,altstadt,devkit_rak3172
70B3D57ED0000004,70B3D57ED0000000,Bin 4,Marktplatz 4,100,neustadt,no_such_board
70B3D57ED0000001,70B3D57ED0000000,Bin 1 again,Marktplatz 1,110,altstadt,devkit_rak3172
"""


def test_register_with_given_keys_and_registration(client, tech, lns):
    body = {
        "dev_eui": "70-b3-d5-7e-d0-00-00-aa",
        "join_eui": "70B3D57ED0000000",
        "app_key": "00112233445566778899AABBCCDDEEFF",
        "name": "Domplatz",
        "bin_height_cm": 130,
        "groups": ["altstadt"],
        "lat": 50.94,
        "lon": 6.96,
        "street": "Domplatz 1",
    }
    r = client.post("/api/v1/devices", json=body, headers=tech)
    assert r.status_code == 201, r.text
    doc = r.json()
    assert doc["dev_eui"] == "70B3D57ED00000AA" and doc["groups"] == ["altstadt"] and doc["lns_registered"]
    assert lns.registered[0]["app_key"] == "00112233445566778899AABBCCDDEEFF"
    # bin height becomes desired config, pending until the node reports it
    cfg = client.get("/api/v1/devices/70B3D57ED00000AA/config", headers=tech).json()
    assert cfg["pending"] == {"bin_height_cm": 130}
    assert client.post("/api/v1/devices", json=body, headers=tech).status_code == 409


def test_bad_device_input_is_refused_with_reason(client, tech):
    r = client.post("/api/v1/devices", json={"dev_eui": "12345"}, headers=tech)
    assert r.status_code == 400 and "16 hex" in r.json()["detail"]
    r = client.post("/api/v1/devices", json={"app_key": "xyz"}, headers=tech)
    assert r.status_code == 422 and "app_key" in r.text
    assert client.get("/api/v1/devices", headers=tech).json() == []


def test_csv_import_reports_each_row_and_keeps_nothing_half(client, tech, db):
    r = client.post("/api/v1/devices/import", content=CSV, headers={**tech, "Content-Type": "text/csv"})
    assert r.status_code == 200, r.text
    rows = r.json()["rows"]
    assert [x["result"] for x in rows] == ["created", "rejected", "rejected", "rejected", "rejected"]
    assert "bin_height_cm" in rows[1]["reason"]
    assert "16 hex" in rows[2]["reason"]
    assert "board" in rows[3]["reason"]
    assert "twice" in rows[4]["reason"]
    assert len(rows[0]["app_key"]) == 32
    assert [d.dev_eui for d in db.exec(select(Device)).all()] == ["70B3D57ED0000001"]
    # the rejected rows' groups were not created either (row 2 named "nord", row 4 "neustadt")
    assert sorted(g.name for g in db.exec(select(Group)).all()) == ["altstadt"]
    # importing again updates, without issuing a new key
    r = client.post(
        "/api/v1/devices/import",
        files={
            "file": (
                "d.csv",
                CSV.splitlines()[0] + "\n" + CSV.splitlines()[1].replace("Bin 1", "Bin One") + "\n",
            )
        },
        headers=tech,
    )
    assert r.json()["rows"][0]["result"] == "updated" and "app_key" not in r.json()["rows"][0]
    assert client.get("/api/v1/devices/70B3D57ED0000001", headers=tech).json()["name"] == "Bin One"


def test_csv_import_takes_a_vendor_sized_list(client, tech, db):
    """A list of 1,500 devices is far over the event body limit, and must still import (its own limit)."""
    header = CSV.splitlines()[0]
    template = CSV.splitlines()[1]
    rows = [
        template.replace("70B3D57ED0000001", f"70B3D57ED1{i:06X}").replace("Bin 1", f"Bin {i}")
        for i in range(1500)
    ]
    body = header + "\n" + "\n".join(rows) + "\n"
    assert len(body) > 64 * 1024
    r = client.post("/api/v1/devices/import", content=body, headers={**tech, "Content-Type": "text/csv"})
    assert r.status_code == 200, r.text[:300]
    assert {x["result"] for x in r.json()["rows"]} == {"created"}
    assert len(db.exec(select(Device)).all()) == 1500


def test_csv_import_refuses_unknown_columns(client, tech):
    r = client.post(
        "/api/v1/devices/import",
        content="dev_eui,colour\n70B3D57ED0000001,red\n",
        headers={**tech, "Content-Type": "text/csv"},
    )
    assert r.status_code == 400 and "colour" in r.json()["detail"]


def test_tr005_labels_never_carry_the_appkey(client, tech, viewer):
    created = add_device(client, tech, dev_eui="70B3D57ED00000AB", join_eui="70B3D57ED0000000", name="Ring 7")
    svg = client.get("/api/v1/devices/70B3D57ED00000AB/label.svg", headers=viewer)
    assert svg.status_code == 200 and svg.headers["content-type"].startswith("image/svg+xml")
    assert "Ring 7" in svg.text and re.search(r"https://fleet\.example/b/\d+<", svg.text)  # the sticker URL
    assert "LoRaWAN TR005" in svg.text  # the second code, labelled
    assert created["app_key"] not in svg.text
    png = client.get("/api/v1/devices/70B3D57ED00000AB/label.png", headers=viewer)
    assert png.content[:8] == b"\x89PNG\r\n\x1a\n"
    sheet = client.get("/api/v1/labels/sheet?dev_eui=70B3D57ED00000AB", headers=viewer)
    assert sheet.status_code == 200 and sheet.text.count("<svg") >= 2 and "@page" in sheet.text


def test_tr005_payload_format(client, tech, app, db):
    from fleet.services.labels import tr005

    add_device(client, tech, dev_eui="70B3D57ED00000AC", join_eui="70b3d57ed0000000")
    d = db.exec(select(Device).where(Device.dev_eui == "70B3D57ED00000AC")).one()
    assert tr005(d, app.state.settings) == "LW:D0:70B3D57ED0000000:70B3D57ED00000AC:00000000"


def test_rotate_key_shows_new_key_once(client, tech, lns):
    created = add_device(client, tech)
    r = client.post(f"/api/v1/devices/{created['dev_eui']}/keys", headers=tech)
    assert r.status_code == 200 and r.json()["app_key"] != created["app_key"]
    assert lns.registered[-1]["app_key"] == r.json()["app_key"]


def test_a_node_without_a_sensor_keeps_none(client, tech):
    """A climate-only node (no ultrasonic fitted) must not silently get the default ranger."""
    add_device(client, tech, dev_eui="70B3D57ED00000C1", ultrasonic=None, climate="sht4x")
    got = client.get("/api/v1/devices/70B3D57ED00000C1", headers=tech).json()
    assert got["ultrasonic"] is None and got["climate"] == "sht4x"
