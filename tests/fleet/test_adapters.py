"""The TTS downlink adapter against a mock HTTP transport, and the batch writer's poison isolation."""

import base64
import json

import httpx
import pytest
from fastapi.testclient import TestClient
from fleet_helpers import add_device, cs_up, post_up
from sqlmodel import select

from fleet.lns.base import LnsError
from fleet.lns.ttn import TtsWebhook
from fleet.models import Uplink
from fleet.services import ingest
from protocols import codec


def test_tts_down_push_request_shape():
    seen = []

    def respond(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={})

    tts = TtsWebhook(
        url="https://eu1.cloud.thethings.network/",
        application_id="bins",
        webhook_id="kumpel",
        api_key="NNSXS.KEY",
        transport=httpx.MockTransport(respond),
    )
    tts.enqueue(dev_eui="70B3D57ED0000001", fport=11, payload=codec.encode_command("reboot"), confirmed=True)
    req = seen[0]
    assert (
        req.url.path == "/api/v3/as/applications/bins/webhooks/kumpel/devices/eui-70b3d57ed0000001/down/push"
    )
    assert req.headers["authorization"] == "Bearer NNSXS.KEY"
    down = json.loads(req.content)["downlinks"][0]
    assert down["f_port"] == 11 and down["confirmed"] is True
    assert base64.b64decode(down["frm_payload"]) == codec.encode_command("reboot")
    refusing = TtsWebhook(
        url="https://x",
        application_id="a",
        webhook_id="w",
        api_key="k",
        transport=httpx.MockTransport(lambda r: httpx.Response(403, text="no rights")),
    )
    with pytest.raises(LnsError, match="HTTP 403 no rights"):
        refusing.enqueue(dev_eui="70B3D57ED0000001", fport=11, payload=b"\x20\x01")
    with pytest.raises(LnsError, match="KUMPEL_TTS_URL"):
        TtsWebhook(url="", application_id="a", webhook_id="w", api_key="k")


def test_one_poisonous_uplink_fails_alone(app, tech, db, monkeypatch):
    """A batch that fails as a whole is retried item by item: the good uplinks are stored, the bad one
    gets a 500 for its own request only, and the service keeps serving."""
    real = ingest._apply

    def flaky(session, up, *args):  # noqa: ANN001, ANN002, ANN202
        if up.dev_eui == bad:
            raise RuntimeError("simulated storage bug")
        return real(session, up, *args)

    monkeypatch.setattr(ingest, "_apply", flaky)
    frame = codec.encode_measurement(
        {
            "distance_cm": 50,
            "no_echo": False,
            "temperature_c": 20.0,
            "humidity_pct": 50.0,
            "battery_mv": 3700,
            "flags": 0,
        }
    )
    with TestClient(app, raise_server_exceptions=False) as c:
        good, bad = add_device(c, tech)["dev_eui"], add_device(c, tech)["dev_eui"]
        assert post_up(c, cs_up(good, 1, frame, fcnt=1)).status_code == 200
        assert post_up(c, cs_up(bad, 1, frame, fcnt=1)).status_code == 500
        assert post_up(c, cs_up(good, 1, frame, fcnt=2)).status_code == 200
    assert len(db.exec(select(Uplink)).all()) == 2


def test_failed_batch_is_retried_item_by_item(app, tech, db, monkeypatch):
    from concurrent.futures import Future

    from fleet.lns import chirpstack
    from fleet.services.batcher import IngestBatcher

    with TestClient(app) as c:
        devs = [add_device(c, tech)["dev_eui"] for _ in range(3)]
    real = ingest._apply

    def poisoned(session, up, *args):  # noqa: ANN001, ANN002, ANN202
        if up.dev_eui == devs[1]:
            raise RuntimeError("poison")
        return real(session, up, *args)

    monkeypatch.setattr(ingest, "_apply", poisoned)
    frame = codec.encode_measurement(
        {
            "distance_cm": 50,
            "no_echo": False,
            "temperature_c": 20.0,
            "humidity_pct": 50.0,
            "battery_mv": 3700,
            "flags": 0,
        }
    )
    items = [chirpstack.parse_event("up", json.dumps(cs_up(d, 1, frame)).encode()) for d in devs]
    batch = [(item, Future()) for item in items]
    IngestBatcher(app.state.engine, app.state.settings, app.state.adapter, app.state.metrics)._process(batch)
    assert batch[0][1].result()["result"] == "stored" and batch[2][1].result()["result"] == "stored"
    with pytest.raises(RuntimeError, match="poison"):
        batch[1][1].result()
    assert len(db.exec(select(Uplink)).all()) == 2
