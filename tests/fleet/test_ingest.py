"""Ingest through the real HTTP endpoints: ChirpStack (JSON and protobuf) and TTS webhooks."""

import json
from datetime import UTC, datetime, timedelta

from chirpstack_api import integration
from fastapi.testclient import TestClient
from fleet_helpers import INGEST, add_device, cs_up, post_up, tts_up
from google.protobuf import json_format
from sqlmodel import func, select

from fleet.models import Event, Reading, StatusReport, UnknownDevice, Uplink
from protocols import codec

READING = {"distance_cm": 30, "no_echo": False, "temperature_c": 21.5, "humidity_pct": 55.5}


def _count(db, model) -> int:  # noqa: ANN001
    return db.exec(select(func.count()).select_from(model)).one()


def test_uplink_stored_once_with_radio_metadata_and_fill(client, tech, db):
    dev = add_device(client, tech)["dev_eui"]
    frame = codec.encode_measurement({**READING, "battery_mv": 3700, "flags": ["bin_full"]})
    ev = cs_up(dev, 1, frame, fcnt=7, gateways=3, rssi=-88, snr=6.0, sf=10)
    r = post_up(client, ev)
    assert r.status_code == 200 and r.json()["result"] == "stored", r.text
    assert post_up(client, ev).json()["result"] == "duplicate"  # a retry from ChirpStack
    up = db.exec(select(Uplink)).one()
    assert bytes(up.data) == frame and up.fcnt == 7 and up.fport == 1
    assert (up.rssi, up.snr, up.gateways, up.sf, up.frequency) == (-88, 6.0, 3, 10, 868100000)
    reading = db.exec(select(Reading)).one()
    # applied bin height is the firmware default (120 cm) until the node confirms another
    assert reading.distance_cm == 30 and reading.fill_pct == codec.fill_percent(30, 120) == 75
    assert reading.flags == ["bin_full"] and reading.battery_mv == 3700
    health = client.get(f"/api/v1/devices/{dev}/health", headers=tech).json()
    assert health["alarms"]["bin_full"] and health["radio"]["gateways"] == 3
    assert any(a["kind"] == "bin_full" for a in client.get("/api/v1/alerts", headers=tech).json())


def test_batch_readings_get_their_own_times(client, tech, db):
    dev = add_device(client, tech)["dev_eui"]
    t = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
    readings = [{**READING, "distance_cm": 100 - 5 * i} for i in range(4)]
    frame = codec.encode_batch({"interval_min": 15, "battery_mv": 3600, "flags": 0, "readings": readings})
    assert post_up(client, cs_up(dev, 2, frame, time=t)).json()["frame_type"] == "batch"
    rows = db.exec(select(Reading).order_by(Reading.measured_at)).all()
    assert [r.distance_cm for r in rows] == [100, 95, 90, 85]
    assert [r.measured_at for r in rows] == [t - timedelta(minutes=15 * (3 - i)) for i in range(4)]
    assert [r.battery_mv for r in rows] == [None, None, None, 3600]


def test_undecodable_frame_is_stored_with_error_and_flags_health(client, tech, db):
    dev = add_device(client, tech)["dev_eui"]
    r = post_up(client, cs_up(dev, 1, b"\x20\x01\x02"))
    assert r.status_code == 200 and r.json()["decode_error"].startswith("length")
    up = db.exec(select(Uplink)).one()
    assert up.decoded is None and bytes(up.data) == b"\x20\x01\x02"
    h = client.get(f"/api/v1/devices/{dev}/health", headers=tech).json()
    assert h["decode_errors"] == 1 and h["status"] == "warning"
    assert any(r["code"] == "decode_errors" for r in h["reasons"])
    assert post_up(client, cs_up(dev, 99, b"\x20")).json()["decode_error"].startswith("port")
    assert post_up(client, cs_up(dev, None, b"")).json()["decode_error"].startswith("port")


def test_bad_input_is_a_clear_4xx_and_stores_nothing(client, tech, db):
    dev = add_device(client, tech)["dev_eui"]
    good = cs_up(dev, 1, codec.encode_measurement({**READING, "battery_mv": 3700, "flags": 0}))
    cases = [
        ("malformed JSON", b"{not json", "up", INGEST, 400),
        ("bad base64", json.dumps({**good, "data": "%%%not base64"}).encode(), "up", INGEST, 400),
        ("wrong event", json.dumps(good).encode(), "upp", INGEST, 400),
        ("no devEui", json.dumps({**good, "deviceInfo": {}}).encode(), "up", INGEST, 400),
        ("bad devEui", json.dumps({**good, "deviceInfo": {"devEui": "xyz"}}).encode(), "up", INGEST, 400),
        ("oversized", b"{" + b" " * 70_000 + b"}", "up", INGEST, 413),
        ("no token", json.dumps(good).encode(), "up", {}, 401),
        ("wrong token", json.dumps(good).encode(), "up", {"Authorization": "Bearer nope"}, 401),
    ]
    for what, body, event, headers, status in cases:
        r = client.post(
            f"/integrations/chirpstack?event={event}",
            content=body,
            headers={**headers, "Content-Type": "application/json"},
        )
        assert r.status_code == status, (what, r.status_code, r.text)
        assert isinstance(r.json()["detail"], str) and r.json()["detail"], what
    assert _count(db, Uplink) == 0 and _count(db, Reading) == 0
    assert post_up(client, good).json()["result"] == "stored"  # and the service still serves


def test_unknown_device_is_recorded_not_dropped(client, tech, db):
    r = post_up(client, cs_up("A1B2C3D4E5F60708", 1, b"\x21\xed\x33\xb7\xd5\x40"))
    assert r.status_code == 200 and r.json()["result"] == "unknown_device"
    post_up(client, cs_up("A1B2C3D4E5F60708", 1, b"\x21\xed\x33\xb7\xd5\x40", fcnt=2))
    row = db.exec(select(UnknownDevice)).one()
    assert row.dev_eui == "A1B2C3D4E5F60708" and row.count == 2 and row.last_payload_hex == "21ed33b7d540"
    listed = client.get("/api/v1/unknown-devices", headers=tech).json()
    assert listed[0]["dev_eui"] == "A1B2C3D4E5F60708"
    assert _count(db, Uplink) == 0


def test_protobuf_body_and_other_events(client, tech, db):
    dev = add_device(client, tech)["dev_eui"]
    frame = codec.encode_measurement({**READING, "battery_mv": 3650, "flags": 0})
    msg = json_format.ParseDict(
        cs_up(dev, 1, frame, fcnt=3), integration.UplinkEvent(), ignore_unknown_fields=True
    )
    r = client.post(
        "/integrations/chirpstack?event=up",
        content=msg.SerializeToString(),
        headers={**INGEST, "Content-Type": "application/octet-stream"},
    )
    assert r.status_code == 200 and r.json()["result"] == "stored", r.text
    r = client.post(
        "/integrations/chirpstack?event=up",
        content=b"\xff\xff\xff",
        headers={**INGEST, "Content-Type": "application/x-protobuf"},
    )
    assert r.status_code == 400 and "protobuf" in r.json()["detail"]
    info = {"devEui": dev.lower(), "applicationId": "a"}
    for event, body in [
        ("join", {"deviceInfo": info, "devAddr": "01020304"}),
        ("log", {"deviceInfo": info, "level": "ERROR", "code": "UPLINK_CODEC", "description": "js error"}),
        ("status", {"deviceInfo": info, "margin": 7, "batteryLevel": 87.5}),
    ]:
        r = client.post(f"/integrations/chirpstack?event={event}", json=body, headers=INGEST)
        assert r.status_code == 200 and r.json()["result"] == "stored", (event, r.text)
    kinds = {e.kind for e in db.exec(select(Event)).all()}
    assert {"chirpstack:join", "chirpstack:log", "chirpstack:status"} <= kinds
    assert client.get(f"/api/v1/devices/{dev}/health", headers=tech).json()["packet_loss"]["rejoins"] == 1


def test_status_frame_counts_reboots(client, tech, db):
    dev = add_device(client, tech)["dev_eui"]
    for i, cause in enumerate(["power_on", "watchdog", "deepsleep"]):
        frame = codec.encode_status(
            {
                "fw_version": "1.2.3",
                "config_version": 0,
                "reset_cause": cause,
                "wake_count": 10 + i,
                "sensor_errors": 0,
                "radio_errors": 0,
                "watchdog_resets": 1 if cause == "watchdog" else 0,
                "battery_mv": 3700,
                "rssi": None,
                "snr": None,
                "join_count": 1,
            }
        )
        assert post_up(client, cs_up(dev, 3, frame, fcnt=i + 1)).json()["frame_type"] == "status"
    assert _count(db, StatusReport) == 3
    h = client.get(f"/api/v1/devices/{dev}/health", headers=tech).json()
    assert h["reboots"]["by_cause"] == {"power_on": 1, "watchdog": 1}
    assert any(r["code"] == "reboots" for r in h["reasons"])


def test_tts_webhook_uplink_idempotent(client, tech, db):
    dev = add_device(client, tech)["dev_eui"]
    frame = codec.encode_measurement({**READING, "battery_mv": 3700, "flags": 0})
    body = tts_up(dev, 5, frame)
    r = client.post("/integrations/ttn", json=body, headers=INGEST)
    assert r.status_code == 200 and r.json()["result"] == "stored", r.text
    assert client.post("/integrations/ttn", json=body, headers=INGEST).json()["result"] == "duplicate"
    up = db.exec(select(Uplink)).one()
    assert (up.source, up.rssi, up.snr, up.sf, up.frequency, up.fcnt) == ("ttn", -101, 3.25, 11, 868300000, 5)
    bad = tts_up(dev, 6, frame, corr="as:up:other")
    bad["uplink_message"]["frm_payload"] = "!!"
    r = client.post("/integrations/ttn", json=bad, headers=INGEST)
    assert r.status_code == 400 and "base64" in r.json()["detail"]
    r = client.post(
        "/integrations/ttn", json={"end_device_ids": {"dev_eui": dev}, "what": {}}, headers=INGEST
    )
    assert r.status_code == 400 and "no known message" in r.json()["detail"]
    r = client.post(
        "/integrations/ttn", json={"end_device_ids": {"dev_eui": dev}, "join_accept": {}}, headers=INGEST
    )
    assert r.status_code == 200
    assert _count(db, Uplink) == 1


def test_metrics_exposes_counts(client, tech):
    dev = add_device(client, tech)["dev_eui"]
    post_up(client, cs_up(dev, 1, b"\x00"))
    local = TestClient(client.app, client=("127.0.0.1", 50000))  # in KUMPEL_METRICS_NETWORKS' default
    text = local.get("/metrics").text
    assert 'kumpel_uplinks_total{result="stored",source="chirpstack"} 1.0' in text
    assert 'kumpel_decode_errors_total{source="chirpstack"} 1.0' in text
    assert "kumpel_nodes{status=" in text and "kumpel_downlinks_pending" in text


def test_readings_since_accepts_utc_with_or_without_zone(client, tech):
    dev = add_device(client, tech)["dev_eui"]
    t = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
    for i in range(3):
        frame = codec.encode_measurement({**READING, "battery_mv": 3700, "flags": 0})
        post_up(client, cs_up(dev, 1, frame, fcnt=i + 1, time=t + timedelta(hours=i)))
    for since in ("2026-11-28T13:00:00", "2026-11-28T13:00:00Z", "2026-11-28T14:00:00+01:00"):
        r = client.get(f"/api/v1/devices/{dev}/readings", params={"since": since}, headers=tech)
        assert r.status_code == 200 and len(r.json()) == 2, (since, r.text)


def test_a_slow_network_server_does_not_hold_up_ingest(client, tech, db, app, lns):
    """The writer thread only writes: the downlink a node is due after its uplink goes out on another
    thread, so an LNS that takes seconds to answer never delays the next uplink's storage."""
    import threading
    import time

    from fleet.models import Device
    from fleet.services import downlinks

    release, called = threading.Event(), threading.Event()
    callers = []
    fast_enqueue = lns.enqueue

    def slow_enqueue(**kw):  # noqa: ANN003, ANN202
        callers.append(threading.get_ident())
        called.set()
        release.wait(10)
        return fast_enqueue(**kw)

    lns.enqueue = slow_enqueue
    a, b = add_device(client, tech)["dev_eui"], add_device(client, tech)["dev_eui"]
    device = db.exec(select(Device).where(Device.dev_eui == a)).one()
    downlinks.queue_command(db, device, "status_now", app.state.settings)  # due at a's next uplink
    db.commit()
    frame = codec.encode_measurement({**READING, "battery_mv": 3700, "flags": []})
    try:
        assert post_up(client, cs_up(a, 1, frame)).json()["result"] == "stored"
        assert called.wait(5), "the due command was not sent after the uplink"
        t0 = time.monotonic()
        assert post_up(client, cs_up(b, 1, frame)).json()["result"] == "stored"
        assert time.monotonic() - t0 < 3, "the second uplink waited for the network server"
    finally:
        release.set()
    assert callers and callers[0] != app.state.batcher.writer_ident
