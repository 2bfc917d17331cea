"""ChirpStack MQTT integration against the local Mosquitto (skipped when it does not answer)."""

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

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
        assert done.wait(20), "the subscriber did not deliver the uplink"
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


# --- no uplink lost across a restart of `kumpel fleet mqtt` (issue 10) -------------------------------------
def _stored(engine) -> list[int]:  # noqa: ANN001
    with Session(engine) as s:
        return sorted(u.fcnt for u in s.exec(select(Uplink)).all())


def _wait(predicate, timeout_s: float = 20.0) -> bool:  # noqa: ANN001
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.1)
    return False


def _start_cli(settings, client_id: str, topic: str) -> subprocess.Popen:  # noqa: ANN001
    env = {
        **os.environ,
        "KUMPEL_ENV": "test",
        "KUMPEL_DATABASE_URL": settings.database_url,
        "KUMPEL_SECRET_KEY": settings.secret_key,
        "KUMPEL_MQTT_HOST": HOST,
        "KUMPEL_MQTT_PORT": str(PORT),
        "KUMPEL_MQTT_CLIENT_ID": client_id,
        "KUMPEL_MQTT_TOPIC": topic,
        "KUMPEL_LNS": "none",
        "PYTHONUNBUFFERED": "1",
        "COLUMNS": "200",
    }
    proc = subprocess.Popen(
        [str(Path(sys.executable).parent / "kumpel"), "fleet", "mqtt"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    line = proc.stdout.readline()  # "subscribed to ... as client ..." once the broker accepted it
    assert "subscribed" in line, line + proc.stdout.read() if proc.poll() is not None else line
    return proc


def _forget_session(client_id: str) -> None:
    """Leave the shared broker clean: connect with the same id, clean start, no session expiry."""
    c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv5)
    c.connect(HOST, PORT, clean_start=True)
    c.loop_start()
    c.disconnect()
    c.loop_stop()


def _frame() -> bytes:
    return codec.encode_measurement(
        {
            "distance_cm": 40,
            "no_echo": False,
            "temperature_c": 12.0,
            "humidity_pct": 70.0,
            "battery_mv": 3600,
            "flags": 0,
        }
    )


def test_qos1_uplinks_published_while_the_subscriber_restarts_are_all_stored(app, client, tech, settings):
    dev = add_device(client, tech)["dev_eui"]
    app_id = f"app-{uuid.uuid4().hex[:6]}"
    client_id = f"kumpel-test-{uuid.uuid4().hex[:6]}"
    topic = f"application/{app_id}/device/+/event/+"
    base = f"application/{app_id}/device/{dev.lower()}/event/up"
    pub = _publisher()
    proc = _start_cli(settings, client_id, topic)
    try:
        pub.publish(base, json.dumps(cs_up(dev, 1, _frame(), fcnt=1)), qos=1).wait_for_publish(5)
        assert _wait(lambda: _stored(app.state.engine) == [1]), "first uplink not stored"
        proc.send_signal(signal.SIGKILL)  # a crash or a deploy: no clean goodbye to the broker
        proc.wait(10)
        for fcnt in range(2, 7):
            pub.publish(base, json.dumps(cs_up(dev, 1, _frame(), fcnt=fcnt)), qos=1).wait_for_publish(5)
        proc = _start_cli(settings, client_id, topic)
        assert _wait(lambda: _stored(app.state.engine) == [1, 2, 3, 4, 5, 6]), _stored(app.state.engine)
    finally:
        proc.kill()
        proc.wait(10)
        pub.loop_stop()
        pub.disconnect()
        _forget_session(client_id)


def test_a_message_that_failed_to_store_is_not_acknowledged_and_comes_again(app, client, tech):
    """Ack after commit: the first attempt fails (database away); the broker redelivers on reconnect."""
    dev = add_device(client, tech)["dev_eui"]
    app_id = f"app-{uuid.uuid4().hex[:6]}"
    client_id = f"kumpel-test-{uuid.uuid4().hex[:6]}"
    topic = f"application/{app_id}/device/+/event/+"
    attempts = []

    def failing(item) -> None:  # noqa: ANN001
        attempts.append(item)
        raise RuntimeError("database unavailable")

    def storing(item) -> None:  # noqa: ANN001
        with Session(app.state.engine) as s:
            handle(item, s, app.state.settings, app.state.adapter, app.state.metrics)

    sub = Subscriber(host=HOST, port=PORT, handle=failing, topic=topic, client_id=client_id)
    sub.start()
    pub = _publisher()
    try:
        pub.publish(
            f"application/{app_id}/device/{dev.lower()}/event/up",
            json.dumps(cs_up(dev, 1, _frame(), fcnt=41)),
            qos=1,
        ).wait_for_publish(5)
        assert _wait(lambda: attempts) and sub.unacknowledged == 1
        sub.stop()
        sub = Subscriber(host=HOST, port=PORT, handle=storing, topic=topic, client_id=client_id)
        sub.start()
        assert _wait(lambda: _stored(app.state.engine) == [41]), "not redelivered after the failure"
    finally:
        sub.stop()
        pub.loop_stop()
        pub.disconnect()
        _forget_session(client_id)


def test_shared_subscription_topic_splits_messages_between_consumers(app, client, tech):
    """KUMPEL_MQTT_TOPIC=$share/<group>/application/+/device/+/event/+ : each message reaches one consumer."""
    dev = add_device(client, tech)["dev_eui"]
    app_id = f"app-{uuid.uuid4().hex[:6]}"
    group = f"kumpel{uuid.uuid4().hex[:6]}"
    seen: list[list[int]] = [[], []]

    def consumer(n: int):  # noqa: ANN202
        def on_item(item) -> None:  # noqa: ANN001
            seen[n].append(item.fcnt)
            with Session(app.state.engine) as s:
                handle(item, s, app.state.settings, app.state.adapter, app.state.metrics)

        return on_item

    topic = f"$share/{group}/application/{app_id}/device/+/event/+"
    subs = [Subscriber(host=HOST, port=PORT, handle=consumer(n), topic=topic) for n in range(2)]
    for s in subs:
        s.start()
    time.sleep(0.3)  # both subscriptions active at the broker
    pub = _publisher()
    try:
        for fcnt in range(1, 21):
            pub.publish(
                f"application/{app_id}/device/{dev.lower()}/event/up",
                json.dumps(cs_up(dev, 1, _frame(), fcnt=fcnt)),
                qos=1,
            ).wait_for_publish(5)
        assert _wait(lambda: _stored(app.state.engine) == list(range(1, 21))), _stored(app.state.engine)
    finally:
        for s in subs:
            s.stop()
        pub.loop_stop()
        pub.disconnect()
    assert sorted(seen[0] + seen[1]) == list(range(1, 21))  # each message once, none twice
    assert seen[0] and seen[1]  # both consumers took a share
