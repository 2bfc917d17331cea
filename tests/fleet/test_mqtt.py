"""ChirpStack MQTT integration against the local Mosquitto (skipped when it does not answer)."""

import json
import socket
import threading
import uuid

import paho.mqtt.client as mqtt
import pytest
from fleet_helpers import add_device, cs_up
from sqlmodel import Session, select

from fleet.lns.mqtt import ChirpStackMqtt, Subscriber, parse_message
from fleet.models import Uplink
from fleet.services.receive import handle
from protocols import codec

pytestmark = pytest.mark.mqtt
HOST, PORT = "127.0.0.1", 1883


def _broker_up() -> bool:
    try:
        with socket.create_connection((HOST, PORT), timeout=0.5):
            return True
    except OSError:
        return False


@pytest.fixture(autouse=True)
def _need_broker():  # noqa: ANN202
    if not _broker_up():
        pytest.skip("no MQTT broker on 127.0.0.1:1883")


def _publisher() -> mqtt.Client:
    c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"test-{uuid.uuid4().hex[:6]}")
    c.connect(HOST, PORT)
    c.loop_start()
    return c


def test_subscriber_ingests_events_and_survives_garbage(app, client, tech):
    dev = add_device(client, tech)["dev_eui"]
    app_id = f"app-{uuid.uuid4().hex[:6]}"  # own topic space: parallel runs don't see each other
    done = threading.Event()
    results = []

    def on_item(item) -> None:  # noqa: ANN001
        with Session(app.state.engine) as s:
            results.append(handle(item, s, app.state.settings, app.state.adapter, app.state.metrics))
        done.set()

    sub = Subscriber(host=HOST, port=PORT, handle=on_item, topic=f"application/{app_id}/device/+/event/+")
    sub.start()
    pub = _publisher()
    try:
        base = f"application/{app_id}/device/{dev.lower()}/event"
        pub.publish(f"{base}/up", b"{garbage", qos=1).wait_for_publish(5)
        pub.publish(f"{base}/nonsense", b"{}", qos=1).wait_for_publish(5)
        frame = codec.encode_measurement(
            {
                "distance_cm": 40,
                "no_echo": False,
                "temperature_c": 12.0,
                "humidity_pct": 70.0,
                "battery_mv": 3600,
                "flags": 0,
            }
        )
        pub.publish(f"{base}/up", json.dumps(cs_up(dev, 1, frame, fcnt=9)), qos=1).wait_for_publish(5)
        assert done.wait(5), "the subscriber did not deliver the uplink"
    finally:
        pub.loop_stop()
        pub.disconnect()
        sub.stop()
    assert results[0]["result"] == "stored" and sub.errors == 2
    with Session(app.state.engine) as s:
        up = s.exec(select(Uplink)).one()
        assert up.source == "chirpstack-mqtt" and up.fcnt == 9


def test_topic_must_be_chirpstack_shaped():
    from fleet.lns.base import IngestError

    with pytest.raises(IngestError, match="not application"):
        parse_message("devices/abc/up", b"{}")


def test_downlink_published_on_command_down():
    app_id = f"app-{uuid.uuid4().hex[:6]}"
    got = []
    ready, received = threading.Event(), threading.Event()
    c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"test-{uuid.uuid4().hex[:6]}")
    c.on_connect = lambda cl, *a: cl.subscribe(f"application/{app_id}/device/+/command/down", qos=1)
    c.on_subscribe = lambda *a: ready.set()  # the broker's SUBACK: from now on it delivers to us
    c.on_message = lambda cl, u, msg: (got.append((msg.topic, json.loads(msg.payload))), received.set())
    c.connect(HOST, PORT)
    c.loop_start()
    assert ready.wait(5), "no SUBACK from the broker"
    adapter = ChirpStackMqtt(host=HOST, port=PORT, application_id=app_id)
    try:
        ref = adapter.enqueue(dev_eui="70B3D57ED0000001", fport=11, payload=codec.encode_command("reboot"))
        assert received.wait(5)
    finally:
        adapter.close()
        c.loop_stop()
        c.disconnect()
    topic, body = got[0]
    assert topic == f"application/{app_id}/device/70b3d57ed0000001/command/down"
    assert body["fPort"] == 11 and body["id"] == ref and body["devEui"] == "70b3d57ed0000001"
