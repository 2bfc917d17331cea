"""Extreme and hostile network-server messages through the real ingest endpoints (issue 10).

The ChirpStack bodies are built with the official `chirpstack-api` protobuf messages and serialized with
protobuf's own MessageToJson / SerializeToString, exactly as ChirpStack's integrations produce them.
Every message here is one a network server or a careless script can send: the answer is a 4xx that says
what was wrong, or the uplink is stored (with the impossible value as "unknown"), never a 500.
"""

import json
import math
import re
import uuid
from datetime import UTC, datetime

import pytest
from chirpstack_api import integration
from fleet_helpers import INGEST, add_device, tts_up
from google.protobuf import json_format
from sqlmodel import select

from fleet.models import Device, Event, Uplink
from protocols import codec

FRAME = codec.encode_measurement(
    {
        "distance_cm": 30,
        "no_echo": False,
        "temperature_c": 21.5,
        "humidity_pct": 55.5,
        "battery_mv": 3700,
        "flags": 0,
    }
)


def cs_up_message(
    dev_eui: str,
    *,
    fcnt: int = 1,
    fport: int = 1,
    snr: float = 7.5,
    frequency: int = 868100000,
    dedup: str = "",
) -> integration.UplinkEvent:
    ev = integration.UplinkEvent(
        deduplication_id=dedup or str(uuid.uuid4()),
        device_info=integration.DeviceInfo(
            tenant_id="52f14cd4-c6f1-4fbd-8f87-4025e1d49242",
            application_id="ca739e26-7b67-4f14-b69e-d568c22a5a75",
            device_name="bin",
            dev_eui=dev_eui.lower(),
        ),
        dev_addr="01fa3b2c",
        dr=3,
        f_cnt=fcnt,
        f_port=fport,
        data=FRAME,
    )
    ev.time.FromDatetime(datetime.now(UTC))
    rx = ev.rx_info.add()
    rx.gateway_id, rx.rssi, rx.snr = "0016c001ff10a235", -90, snr
    ev.tx_info.frequency = frequency
    ev.tx_info.modulation.lora.spreading_factor = 9
    return ev


def post_json(client, msg, event: str = "up"):  # noqa: ANN001, ANN201
    return client.post(
        f"/integrations/chirpstack?event={event}",
        content=json_format.MessageToJson(msg),
        headers={**INGEST, "Content-Type": "application/json"},
    )


def post_protobuf(client, msg, event: str = "up"):  # noqa: ANN001, ANN201
    return client.post(
        f"/integrations/chirpstack?event={event}",
        content=msg.SerializeToString(),
        headers={**INGEST, "Content-Type": "application/octet-stream"},
    )


# --- full-range integers --------------------------------------------------------------------------------
def test_chirpstack_uint32_values_are_stored_in_full(client, tech, db):
    """fCnt, fPort, frequency are uint32 in the protobuf: 2^32-1 must be stored as sent (PostgreSQL INTEGER
    stops at 2^31-1: the uplink was lost with a 500)."""
    dev = add_device(client, tech)["dev_eui"]
    top = 2**32 - 1
    r = post_json(client, cs_up_message(dev, fcnt=2**31, frequency=2_450_000_000))
    assert r.status_code == 200 and r.json()["result"] == "stored", r.text
    r = post_protobuf(client, cs_up_message(dev, fcnt=top, fport=top))
    assert r.status_code == 200 and r.json()["result"] == "stored", r.text
    rows = db.exec(select(Uplink).order_by(Uplink.id)).all()
    assert [(u.fcnt, u.fport, u.frequency) for u in rows] == [
        (2**31, 1, 2_450_000_000),
        (top, top, 868100000),
    ]
    assert db.exec(select(Device.last_fcnt)).one() == top
    page = client.get(f"/api/v1/devices/{dev}/uplinks", headers=tech)
    assert page.status_code == 200 and page.json()[0]["fcnt"] == top


def test_tts_f_cnt_full_uint32_and_beyond(client, tech, db):
    dev = add_device(client, tech)["dev_eui"]
    r = client.post("/integrations/ttn", json=tts_up(dev, 2**32 - 1, FRAME), headers=INGEST)
    assert r.status_code == 200 and r.json()["result"] == "stored", r.text
    assert db.exec(select(Uplink.fcnt)).one() == 2**32 - 1
    r = client.post("/integrations/ttn", json=tts_up(dev, 2**64, FRAME, corr="as:up:other"), headers=INGEST)
    assert r.status_code == 422 and "f_cnt" in r.text, r.text


# --- non-finite numbers ---------------------------------------------------------------------------------
@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf])
def test_chirpstack_non_finite_snr_is_unknown_and_pages_keep_working(client, tech, db, bad):
    dev = add_device(client, tech)["dev_eui"]
    body = json_format.MessageToJson(cs_up_message(dev, snr=bad))
    assert '"snr": "' in body  # protobuf JSON writes NaN / Infinity as strings
    r = client.post(
        "/integrations/chirpstack?event=up",
        content=body,
        headers={**INGEST, "Content-Type": "application/json"},
    )
    assert r.status_code == 200 and r.json()["result"] == "stored", r.text
    r = post_protobuf(client, cs_up_message(dev, fcnt=2, snr=bad))
    assert r.status_code == 200 and r.json()["result"] == "stored", r.text
    ups = db.exec(select(Uplink)).all()
    assert len(ups) == 2 and all(u.snr is None and u.rx_info[0]["snr"] is None for u in ups)
    assert all(u.rx_info[0]["rssi"] == -90 for u in ups)
    for path in (f"/api/v1/devices/{dev}/uplinks", f"/api/v1/devices/{dev}/health", f"/api/v1/devices/{dev}"):
        assert client.get(path, headers=tech).status_code == 200, path
    form = client.get("/signin")
    client.cookies.set("kumpel_signin", form.cookies["kumpel_signin"])  # Secure cookie over plain http
    csrf = re.search(r'name="csrf" value="([^"]+)"', form.text).group(1)
    token = tech["Authorization"].split()[1]
    signin = client.post("/signin", data={"token": token, "csrf": csrf}, follow_redirects=False)
    client.cookies.set("kumpel_session", signin.cookies["kumpel_session"])  # Secure cookie over http
    page = client.get(f"/nodes/{dev}")
    assert "signin" not in str(page.url)
    assert page.status_code == 200, page.text[:300]


def test_chirpstack_non_finite_in_events_is_stored_as_unknown(client, tech, db):
    dev = add_device(client, tech)["dev_eui"]
    status = integration.StatusEvent(
        deduplication_id=str(uuid.uuid4()),
        device_info=integration.DeviceInfo(dev_eui=dev.lower()),
        margin=7,
        battery_level=math.nan,
    )
    location = integration.LocationEvent(
        deduplication_id=str(uuid.uuid4()), device_info=integration.DeviceInfo(dev_eui=dev.lower())
    )
    location.location.latitude, location.location.longitude = math.inf, 8.5
    for event, msg in (("status", status), ("location", location)):
        assert post_json(client, msg, event).status_code == 200
        assert post_protobuf(client, msg, event).status_code == 200
    events = db.exec(select(Event).where(Event.kind.in_(["chirpstack:status", "chirpstack:location"]))).all()
    assert len(events) == 4
    text = json.dumps([e.data for e in events], allow_nan=False)  # strict JSON: no NaN token anywhere
    assert "NaN" not in text and "Infinity" not in text
    assert client.get(f"/api/v1/devices/{dev}/events", headers=tech).status_code == 200


def test_tts_non_finite_numbers_are_unknown(client, tech, db):
    """Python's json module (and some JSON encoders) read and write NaN / Infinity tokens."""
    dev = add_device(client, tech)["dev_eui"]
    body = (
        json.dumps(tts_up(dev, 3, FRAME))
        .replace('"snr": 3.25', '"snr": NaN')
        .replace('"rssi": -101', '"rssi": -Infinity')
    )
    assert "NaN" in body
    r = client.post("/integrations/ttn", content=body, headers={**INGEST, "Content-Type": "application/json"})
    assert r.status_code == 200 and r.json()["result"] == "stored", r.text
    up = db.exec(select(Uplink)).one()
    assert up.snr is None and up.rssi == -101 and up.rx_info[0]["snr"] is None  # channel_rssi stands in
    assert client.get(f"/api/v1/devices/{dev}/uplinks", headers=tech).status_code == 200


# --- wrong shapes: 4xx before anything is stored ----------------------------------------------------------
def _set(doc: dict, path: str, value) -> dict:  # noqa: ANN001
    *parents, last = path.split(".")
    node = doc
    for p in parents:
        node = node[int(p)] if p.isdigit() else node[p]
    node[int(last) if last.isdigit() else last] = value
    return doc


TTS_BAD = [
    ("correlation_ids", None, "correlation_ids"),
    ("correlation_ids", 5, "correlation_ids"),
    ("uplink_message.rx_metadata", 7, "rx_metadata"),
    ("uplink_message.rx_metadata.0.gateway_ids", "gw-1", "gateway_ids"),
    ("uplink_message.rx_metadata.0.rssi", "-101", "rssi"),
    ("uplink_message.rx_metadata.0.snr", "3.25", "snr"),
    ("uplink_message.settings", "fast", "settings"),
    ("uplink_message.settings.data_rate", "SF7BW125", "data_rate"),
    ("end_device_ids.application_ids", "bins", "application_ids"),
    ("uplink_message.f_cnt", 2**64, "f_cnt"),
    ("uplink_message.f_cnt", -1, "f_cnt"),
    ("uplink_message.f_port", 256, "f_port"),
    ("received_at", "2026-11-28T10:00:00", "received_at"),
    ("uplink_message.settings.data_rate.lora.spreading_factor", "SF7", "spreading_factor"),
    ("correlation_ids", ["as:up:" + "x" * 200], "correlation_ids"),
    ("uplink_message.settings.frequency", "fast", "frequency"),
]


@pytest.mark.parametrize(
    ("path", "value", "named"), TTS_BAD, ids=[f"{p}={str(v)[:12]}" for p, v, _ in TTS_BAD]
)
def test_tts_wrong_types_are_4xx_naming_the_field(client, tech, db, path, value, named):
    dev = add_device(client, tech)["dev_eui"]
    r = client.post("/integrations/ttn", json=_set(tts_up(dev, 4, FRAME), path, value), headers=INGEST)
    assert r.status_code == 422, r.text
    assert named in r.json()["detail"], r.text
    assert db.exec(select(Uplink)).all() == []


def test_tts_events_validated_too(client, tech, db):
    dev = add_device(client, tech)["dev_eui"]
    body = {"end_device_ids": {"dev_eui": dev}, "correlation_ids": 3, "downlink_ack": {}}
    r = client.post("/integrations/ttn", json=body, headers=INGEST)
    assert r.status_code == 422 and "correlation_ids" in r.json()["detail"]
    body = {
        "end_device_ids": {"dev_eui": dev},
        "correlation_ids": ["as:downlink:01"],
        "downlink_ack": {"f_port": 2},
    }
    assert client.post("/integrations/ttn", json=body, headers=INGEST).status_code == 200


def test_chirpstack_long_dedup_id_and_out_of_range_time_are_4xx(client, tech, db):
    dev = add_device(client, tech)["dev_eui"]
    r = post_json(client, cs_up_message(dev, dedup="d" * 200))
    assert r.status_code == 422 and "deduplicationId" in r.json()["detail"], r.text
    msg = cs_up_message(dev)
    msg.time.seconds = 2**40  # beyond year 9999: not a valid protobuf Timestamp
    r = post_protobuf(client, msg)
    assert r.status_code == 422 and "time" in r.json()["detail"], r.text
    msg.time.seconds, msg.time.nanos = 1_700_000_000, 2_000_000_000
    assert post_protobuf(client, msg).status_code == 422
    assert db.exec(select(Uplink)).all() == []
    assert post_json(client, cs_up_message(dev, dedup="d" * 100)).json()["result"] == "stored"
