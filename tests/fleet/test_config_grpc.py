"""Config over the air against a real gRPC server implementing ChirpStack's DeviceService."""

from concurrent import futures
from datetime import timedelta

import grpc
import pytest
from chirpstack_api import api
from fastapi.testclient import TestClient
from fleet_helpers import add_device, cs_up, make_token, post_up, wipe
from google.protobuf import empty_pb2
from sqlmodel import Session, select

from fleet.app import create_app
from fleet.lns.base import LnsError
from fleet.lns.chirpstack import ChirpStackGrpc
from fleet.models import Downlink, utcnow
from fleet.services import downlinks
from protocols import codec

API_TOKEN = "cs-api-token"


class FakeDeviceService(api.DeviceServiceServicer):
    """The part of ChirpStack's DeviceService the fleet uses, checking the bearer token like ChirpStack."""

    def __init__(self) -> None:
        self.devices: dict[str, api.Device] = {}
        self.keys: dict[str, api.DeviceKeys] = {}
        self.queue: list[api.DeviceQueueItem] = []
        self.fail_enqueue = False

    def _auth(self, context) -> None:  # noqa: ANN001
        if ("authorization", f"Bearer {API_TOKEN}") not in context.invocation_metadata():
            context.abort(grpc.StatusCode.UNAUTHENTICATED, "bad token")

    def Create(self, request, context):  # noqa: ANN001, ANN201, N802
        self._auth(context)
        if request.device.dev_eui in self.devices:
            context.abort(grpc.StatusCode.ALREADY_EXISTS, "object already exists")
        self.devices[request.device.dev_eui] = request.device
        return empty_pb2.Empty()

    def Update(self, request, context):  # noqa: ANN001, ANN201, N802
        self._auth(context)
        self.devices[request.device.dev_eui] = request.device
        return empty_pb2.Empty()

    def CreateKeys(self, request, context):  # noqa: ANN001, ANN201, N802
        self._auth(context)
        if request.device_keys.dev_eui not in self.devices:
            context.abort(grpc.StatusCode.NOT_FOUND, "device not found")
        self.keys[request.device_keys.dev_eui] = request.device_keys
        return empty_pb2.Empty()

    def Enqueue(self, request, context):  # noqa: ANN001, ANN201, N802
        self._auth(context)
        if self.fail_enqueue:
            context.abort(grpc.StatusCode.UNAVAILABLE, "network server busy")
        item = api.DeviceQueueItem()
        item.CopyFrom(request.queue_item)
        item.id = f"qi-{len(self.queue) + 1}"
        self.queue.append(item)
        return api.EnqueueDeviceQueueItemResponse(id=item.id)


@pytest.fixture
def chirpstack():  # noqa: ANN201
    service = FakeDeviceService()
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
    api.add_DeviceServiceServicer_to_server(service, server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    service.target = f"127.0.0.1:{port}"
    yield service
    server.stop(None)


@pytest.fixture
def grpc_client(settings, chirpstack):  # noqa: ANN001, ANN201
    adapter = ChirpStackGrpc(
        target=chirpstack.target, api_token=API_TOKEN, application_id="app-1", device_profile_id="profile-1"
    )
    app = create_app(settings, adapter=adapter)

    wipe(settings.database_url)
    with TestClient(app) as c:
        c.tech = make_token(app, "technician")
        c.app_ = app
        yield c


def test_registration_puts_appkey_in_nwk_key(grpc_client, chirpstack):
    created = add_device(
        grpc_client, grpc_client.tech, dev_eui="70B3D57ED0001111", join_eui="70B3D57ED0000000"
    )
    dev = chirpstack.devices["70b3d57ed0001111"]
    assert (dev.application_id, dev.device_profile_id, dev.join_eui) == (
        "app-1",
        "profile-1",
        "70b3d57ed0000000",
    )
    assert chirpstack.keys["70b3d57ed0001111"].nwk_key == created["app_key"].lower()
    # re-registering an existing device updates instead of failing
    r = grpc_client.post("/api/v1/devices/70B3D57ED0001111/register", headers=grpc_client.tech)
    assert r.status_code == 200 and r.json()["lns_registered"]


def test_unreachable_or_refusing_lns_stores_nothing(settings):
    adapter = ChirpStackGrpc(
        target="127.0.0.1:1", api_token="x", application_id="a", device_profile_id="p", timeout_s=0.5
    )
    with pytest.raises(LnsError, match="ChirpStack DeviceService.Create failed"):
        adapter.register_device(dev_eui="70B3D57ED0001111", join_eui="0" * 16, app_key="0" * 32, name="x")


def test_registration_failure_is_502_and_nothing_stored(settings, chirpstack):
    adapter = ChirpStackGrpc(
        target=chirpstack.target, api_token="wrong", application_id="a", device_profile_id="p"
    )
    app = create_app(settings, adapter=adapter)

    wipe(settings.database_url)
    with TestClient(app) as c:
        tech = make_token(app, "technician")
        r = c.post("/api/v1/devices", json={"dev_eui": "70B3D57ED0002222"}, headers=tech)
        assert r.status_code == 502 and "UNAUTHENTICATED" in r.json()["detail"]
        assert c.get("/api/v1/devices", headers=tech).json() == []


def test_config_downlink_report_and_rejections(grpc_client, chirpstack):
    c, tech = grpc_client, grpc_client.tech
    dev = add_device(c, tech)["dev_eui"]
    r = c.put(
        f"/api/v1/devices/{dev}/config",
        json={"settings": {"meas_interval_min": 10, "batch_size": 6, "fire_temp_c": 70}},
        headers=tech,
    )
    assert r.status_code == 200, r.text
    assert r.json()["pending"] == {"meas_interval_min": 10, "batch_size": 6, "fire_temp_c": 70}
    item = chirpstack.queue[-1]
    assert item.f_port == codec.PORT_CONFIG and item.dev_eui == dev.lower()
    sent = codec.decode_downlink(item.f_port, item.data)
    version = sent["config_version"]
    assert sent["settings"] == {"meas_interval_min": 10, "batch_size": 6, "fire_temp_c": 70}
    # the node applies two keys and refuses one
    ids = {name: sid for sid, name, *_ in __import__("protocols.settings", fromlist=["SETTINGS"]).SETTINGS}
    report = codec.encode_config_report(
        version,
        [(ids["meas_interval_min"], "ok"), (ids["batch_size"], "ok"), (ids["fire_temp_c"], "out_of_range")],
    )
    assert post_up(c, cs_up(dev, codec.PORT_CONFIG_REPORT, report)).json()["frame_type"] == "config_report"
    cfg = c.get(f"/api/v1/devices/{dev}/config", headers=tech).json()
    assert cfg["reported_version"] == version and cfg["applied"]["meas_interval_min"] == 10
    assert cfg["rejected"] == {"fire_temp_c": "out_of_range"} and cfg["pending"] == {"fire_temp_c": 70}
    h = c.get(f"/api/v1/devices/{dev}/health", headers=tech).json()
    assert h["connectivity"]["expected_interval_s"] == 10 * 6 * 60
    assert any(r["code"] == "config_rejected" and "fire_temp_c" in r["message"] for r in h["reasons"])
    dls = c.get(f"/api/v1/devices/{dev}/downlinks", headers=tech).json()
    assert dls[0]["state"] == "done" and "fire_temp_c (out_of_range)" in dls[0]["last_error"]
    # fill now uses the bin height the node applied
    c.put(f"/api/v1/devices/{dev}/config", json={"settings": {"bin_height_cm": 200}}, headers=tech)
    v2 = codec.decode_downlink(10, chirpstack.queue[-1].data)["config_version"]
    post_up(
        c,
        cs_up(
            dev,
            4,
            codec.encode_config_report(
                v2, [(ids["bin_height_cm"], "ok"), (ids["fire_temp_c"], "out_of_range")]
            ),
        ),
    )
    post_up(
        c,
        cs_up(
            dev,
            1,
            codec.encode_measurement(
                {
                    "distance_cm": 50,
                    "no_echo": False,
                    "temperature_c": 20.0,
                    "humidity_pct": 50.0,
                    "battery_mv": 3700,
                    "flags": 0,
                }
            ),
        ),
    )
    assert c.get(f"/api/v1/devices/{dev}/readings", headers=tech).json()[0]["fill_pct"] == 75


def test_retry_backoff_max_attempts_and_expiry(grpc_client, chirpstack):
    c, tech, app = grpc_client, grpc_client.tech, grpc_client.app_
    cfg = app.state.settings
    dev = add_device(c, tech)["dev_eui"]
    chirpstack.fail_enqueue = True
    c.put(f"/api/v1/devices/{dev}/config", json={"settings": {"batch_size": 4}}, headers=tech)
    with Session(app.state.engine) as s:
        dl = s.exec(select(Downlink)).one()
        assert dl.attempts == 1 and dl.state == "queued" and "UNAVAILABLE" in dl.last_error
        first_retry = dl.next_attempt_at
        # not due yet: nothing happens
        assert downlinks.dispatch(s, app.state.adapter, cfg)["error"] == 0
        chirpstack.fail_enqueue = False
        now = first_retry + timedelta(seconds=1)
        assert downlinks.dispatch(s, app.state.adapter, cfg, now=now)["sent"] == 1
        s.commit()
        s.refresh(dl)
        assert dl.state == "sent" and dl.attempts == 2 and dl.lns_ref == "qi-1"
        # no config report: resent with a longer backoff until max attempts, then failed
        gap = (dl.next_attempt_at - now).total_seconds()
        assert gap >= 2 * 120 * 60 * 1.5 - 1  # 1.5 x the default uplink interval (8 x 15 min), doubled
        now = dl.next_attempt_at + timedelta(seconds=1)
        downlinks.dispatch(s, app.state.adapter, cfg, now=now)
        s.commit()
        s.refresh(dl)
        assert dl.attempts == 3 and len(chirpstack.queue) == 2
        downlinks.dispatch(s, app.state.adapter, cfg, now=dl.next_attempt_at + timedelta(seconds=1))
        s.commit()
        s.refresh(dl)
        assert dl.state == "failed" and "gave up after 3 attempts" in dl.last_error
    c.put(f"/api/v1/devices/{dev}/config", json={"settings": {"batch_size": 5}}, headers=tech)
    with Session(app.state.engine) as s:
        dl = s.exec(select(Downlink).where(Downlink.state == "sent")).one()
        downlinks.dispatch(s, app.state.adapter, cfg, now=utcnow() + timedelta(days=4))
        s.commit()
        s.refresh(dl)
        assert dl.state == "expired"


def test_status_with_older_version_makes_config_pending_again(grpc_client, chirpstack):
    c, tech = grpc_client, grpc_client.tech
    dev = add_device(c, tech)["dev_eui"]
    c.put(f"/api/v1/devices/{dev}/config", json={"settings": {"batch_size": 4}}, headers=tech)
    v = codec.decode_downlink(10, chirpstack.queue[-1].data)["config_version"]
    post_up(c, cs_up(dev, 4, codec.encode_config_report(v, [(2, "ok")]), fcnt=1))
    assert c.get(f"/api/v1/devices/{dev}/config", headers=tech).json()["pending"] == {}
    status = {
        "fw_version": "1.0.0",
        "config_version": 0,
        "reset_cause": "power_on",
        "wake_count": 1,
        "sensor_errors": 0,
        "radio_errors": 0,
        "watchdog_resets": 0,
        "battery_mv": 3700,
        "rssi": None,
        "snr": None,
        "join_count": 1,
    }
    post_up(c, cs_up(dev, 3, codec.encode_status(status), fcnt=2))
    cfg = c.get(f"/api/v1/devices/{dev}/config", headers=tech).json()
    assert cfg["pending"] == {"batch_size": 4} and cfg["reported_version"] == 0
    # the next uplink was a chance to resend: the sweep (or the next config change) queues it again
    r = c.put(f"/api/v1/devices/{dev}/config", json={"settings": {}}, headers=tech)
    assert r.json()["downlink"]["settings"] == {"batch_size": 4}


def test_commands_go_through_the_same_path(grpc_client, chirpstack):
    c, tech = grpc_client, grpc_client.tech
    dev = add_device(c, tech)["dev_eui"]
    r = c.post(f"/api/v1/devices/{dev}/commands", json={"command": "status_now"}, headers=tech)
    assert r.status_code == 202 and r.json()["state"] == "sent"
    assert codec.decode_downlink(11, chirpstack.queue[-1].data) == {
        "type": "command",
        "command": "status_now",
    }
    r = c.post(f"/api/v1/devices/{dev}/commands", json={"command": "self_destruct"}, headers=tech)
    assert r.status_code == 400 and "reboot" in r.json()["detail"]
    # ChirpStack's ack for the queue item completes the command
    ack = {"deviceInfo": {"devEui": dev.lower()}, "queueItemId": "qi-1", "acknowledged": True, "fCntDown": 3}
    assert (
        c.post(
            "/integrations/chirpstack?event=ack",
            json=ack,
            headers={"Authorization": "Bearer ingest-secret-for-tests"},
        ).status_code
        == 200
    )
    assert c.get(f"/api/v1/devices/{dev}/downlinks", headers=tech).json()[0]["state"] == "done"
