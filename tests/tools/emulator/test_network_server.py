"""The simulated network server: events parse back as ChirpStack v4 messages, sessions and queues behave."""

import json
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from chirpstack_api import integration
from google.protobuf import json_format

from tools.emulator.network_server import HttpEventPoster, MemorySink, NetworkServer

T0 = datetime(2026, 6, 1, 8, 0, tzinfo=UTC)
EUI = "70b3d57ed0050101"
GWS = [("0016c001ff10a235", -97, 6.5), ("0016c001ff10a236", -104, 2.0)]


def make_ns():
    sink = MemorySink()
    ns = NetworkServer(sink, application_id="app-1", device_profile_id="prof-1")
    ns.register(EUI, name="ehrenfeld-001", app_key="00112233445566778899aabbccddeeff")
    return ns, sink


def parse(body: str, message):
    return json_format.Parse(body, message, ignore_unknown_fields=False)


def test_join_then_uplink_event_is_chirpstack_json():
    ns, sink = make_ns()
    dev_addr = ns.join(EUI, "0000000000000000", T0, GWS)
    assert dev_addr and len(dev_addr) == 8
    reply = ns.uplink(
        EUI,
        f_port=1,
        data=bytes.fromhex("21ed33b7d540"),
        f_cnt=0,
        dr=0,
        confirmed=False,
        at=T0 + timedelta(seconds=5),
        heard=GWS,
    )
    assert reply == {"ok": True, "ack": False, "downlink": None}
    join = parse(sink.named("join")[0], integration.JoinEvent())
    assert join.dev_addr == dev_addr and join.device_info.dev_eui == EUI
    body = sink.named("up")[0]
    raw = json.loads(body)
    # proto3 JSON mapping: camelCase keys, bytes as base64, fCnt 0 omitted as a default value
    assert {"deduplicationId", "deviceInfo", "devAddr", "fPort", "data", "rxInfo", "txInfo", "time"} <= set(
        raw
    )
    assert "fCnt" not in raw and raw["data"] == "Ie0zt9VA"
    up = parse(body, integration.UplinkEvent())
    assert up.device_info.application_id == "app-1" and up.device_info.device_name == "ehrenfeld-001"
    assert up.f_port == 1 and up.data == bytes.fromhex("21ed33b7d540")
    assert [(r.gateway_id, r.rssi, r.snr) for r in up.rx_info] == [(g, r, s) for g, r, s in GWS]
    assert (
        up.tx_info.modulation.lora.spreading_factor == 12 and up.tx_info.modulation.lora.bandwidth == 125000
    )
    assert up.time.ToDatetime(tzinfo=UTC) == T0 + timedelta(seconds=5)


def test_frame_counters_replay_duplicates_and_rejoin_reset():
    ns, sink = make_ns()
    ns.join(EUI, "0000000000000000", T0, GWS)
    for fcnt in (0, 1, 1, 0, 5):
        ns.uplink(EUI, f_port=1, data=b"\x21", f_cnt=fcnt, dr=5, confirmed=False, at=T0, heard=GWS)
    ups = [parse(b, integration.UplinkEvent()).f_cnt for b in sink.named("up")]
    assert ups == [0, 1, 5]  # the repeated 1 and the replayed 0 are dropped; a gap (lost 2..4) is kept
    stats = ns.get(EUI).stats
    assert stats["duplicates"] == 1 and stats["replays"] == 1
    ns.join(EUI, "0000000000000000", T0, GWS)  # a new session starts counting at 0 again
    ns.uplink(EUI, f_port=1, data=b"\x21", f_cnt=0, dr=5, confirmed=False, at=T0, heard=GWS)
    assert parse(sink.named("up")[-1], integration.UplinkEvent()).f_cnt == 0


def test_lost_packets_unknown_devices_and_no_session():
    ns, sink = make_ns()
    assert ns.join(EUI, "0000000000000000", T0, heard=[]) is None  # nobody heard the join-request
    assert ns.join("70b3d57ed00501ff", "0000000000000000", T0, GWS) is None  # not registered
    assert (
        ns.uplink(EUI, f_port=1, data=b"\x21", f_cnt=0, dr=0, confirmed=True, at=T0, heard=GWS)["ack"]
        is False
    )
    ns.join(EUI, "0000000000000000", T0, GWS)
    lost = ns.uplink(EUI, f_port=1, data=b"\x21", f_cnt=0, dr=0, confirmed=True, at=T0, heard=[])
    assert lost == {"ok": True, "ack": False, "downlink": None}
    assert ns.get(EUI).stats["uplinks_lost"] == 1 and sink.named("up") == []


def test_downlink_in_next_window_with_txack_then_ack():
    ns, sink = make_ns()
    ns.join(EUI, "0000000000000000", T0, GWS)
    item = ns.enqueue(EUI, f_port=10, data=bytes.fromhex("20000401000f"), confirmed=True)
    reply = ns.uplink(EUI, f_port=1, data=b"\x21", f_cnt=0, dr=0, confirmed=False, at=T0, heard=GWS)
    assert reply["downlink"] == {"fport": 10, "data": "20000401000f", "rssi": -97, "snr": 6.5}
    txack = parse(sink.named("txack")[0], integration.TxAckEvent())
    assert txack.queue_item_id == item.id and txack.gateway_id == GWS[0][0]
    assert ns.queue(EUI)[0].is_pending  # confirmed: stays until the device acknowledges
    reply = ns.uplink(EUI, f_port=4, data=b"\x20\x00\x04", f_cnt=1, dr=0, confirmed=False, at=T0, heard=GWS)
    assert reply["downlink"] is None and ns.queue(EUI) == []
    ack = parse(sink.named("ack")[0], integration.AckEvent())
    assert ack.acknowledged and ack.queue_item_id == item.id


def test_expired_queue_items_are_dropped_and_bad_port_refused():
    ns, _ = make_ns()
    ns.join(EUI, "0000000000000000", T0, GWS)
    ns.enqueue(EUI, f_port=11, data=b"\x20\x01", expires_at=T0 - timedelta(seconds=1))
    assert (
        ns.uplink(EUI, f_port=1, data=b"\x21", f_cnt=0, dr=0, confirmed=False, at=T0, heard=GWS)["downlink"]
        is None
    )
    with pytest.raises(ValueError, match="f_port must be 1..223"):
        ns.enqueue(EUI, f_port=0, data=b"\x01")


def test_status_event_once_a_day():
    ns, sink = make_ns()
    ns.join(EUI, "0000000000000000", T0, GWS)
    for i in range(3):
        ns.uplink(
            EUI,
            f_port=1,
            data=b"\x21",
            f_cnt=i,
            dr=0,
            confirmed=False,
            at=T0 + timedelta(hours=12 * i),
            heard=GWS,
            battery_pct=80.0 - i,
        )
    statuses = [parse(b, integration.StatusEvent()) for b in sink.named("status")]
    assert [s.battery_level for s in statuses] == [80.0, 78.0]


def test_http_poster_sends_event_query_and_bearer():
    seen = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append((request.url.params["event"], request.headers["authorization"], request.content))
        return httpx.Response(204 if len(seen) == 1 else 401, text="bad token")

    poster = HttpEventPoster("http://127.0.0.1:9", token="ingest-secret")
    poster.transport = httpx.MockTransport(handler)
    ns = NetworkServer(poster)
    ns.register(EUI, name="n", app_key="00" * 16)
    ns.join(EUI, "0000000000000000", T0, GWS)
    ns.uplink(EUI, f_port=1, data=b"\x21", f_cnt=0, dr=0, confirmed=False, at=T0, heard=GWS)
    assert [s[:2] for s in seen] == [("join", "Bearer ingest-secret"), ("up", "Bearer ingest-secret")]
    assert parse(seen[1][2].decode(), integration.UplinkEvent()).device_info.dev_eui == EUI
    assert poster.posted == 1 and poster.failed == 1 and "HTTP 401 for event=up" in poster.last_error


def test_http_poster_retries_a_broken_connection_once():
    calls = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request.url.params["event"])
        if len(calls) in (1, 3, 4):  # the first post fails once; the second post fails twice
            raise httpx.ReadError("connection reset")
        return httpx.Response(204)

    poster = HttpEventPoster("http://127.0.0.1:9/", token="t")
    poster.transport = httpx.MockTransport(handler)
    ns = NetworkServer(poster)
    ns.register(EUI, name="n", app_key="00" * 16)
    ns.join(EUI, "0000000000000000", T0, GWS)
    ns.uplink(EUI, f_port=1, data=b"\x21", f_cnt=0, dr=0, confirmed=False, at=T0, heard=GWS)
    assert calls == ["join", "join", "up", "up"]
    assert (
        poster.posted == 1
        and poster.failed == 1
        and poster.last_error.startswith("ReadError posting event=up")
    )
    poster.close()
