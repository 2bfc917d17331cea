"""ChirpStack MQTT integration: subscribe to `application/+/device/+/event/+`, publish `command/down`.

The subscriber feeds the same ingest service as the HTTP endpoint (JSON encoding, the MQTT integration's
default); a bad message is logged and dropped, never kills the loop.
"""

import base64
import json
import logging
import threading
import uuid
from collections.abc import Callable

import paho.mqtt.client as mqtt

from fleet.lns import chirpstack
from fleet.lns.base import IngestError, LnsError, NetworkServer

log = logging.getLogger("kumpel.fleet.mqtt")
EVENT_TOPIC = "application/+/device/+/event/+"


def _client(client_id: str, username: str, password: str) -> mqtt.Client:
    c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=client_id)
    if username:
        c.username_pw_set(username, password or None)
    return c


def parse_message(topic: str, payload: bytes):  # noqa: ANN201
    """Topic `application/{app}/device/{devEui}/event/{event}` + JSON body -> UplinkIn | EventIn."""
    parts = topic.split("/")
    if len(parts) != 6 or parts[0] != "application" or parts[2] != "device" or parts[4] != "event":
        raise IngestError(f"topic {topic!r} is not application/{{id}}/device/{{devEui}}/event/{{event}}")
    item = chirpstack.parse_event(parts[5], payload, "application/json")
    item.source = "chirpstack-mqtt"
    return item


class Subscriber:
    """Runs paho's network loop in a thread; `handle(item)` is called for every parsed event."""

    def __init__(
        self,
        *,
        host: str,
        port: int,
        handle: Callable,
        username: str = "",
        password: str = "",
        topic: str = EVENT_TOPIC,
    ) -> None:
        self._handle = handle
        self._topic = topic
        self.connected = threading.Event()
        self.errors = 0
        self._c = _client(f"kumpel-fleet-{uuid.uuid4().hex[:8]}", username, password)
        self._c.on_connect = self._on_connect
        self._c.on_message = self._on_message
        self._host, self._port = host, port

    def _on_connect(self, client, userdata, flags, reason_code, properties) -> None:  # noqa: ANN001
        client.subscribe(self._topic, qos=1)
        self.connected.set()

    def _on_message(self, client, userdata, msg) -> None:  # noqa: ANN001
        try:
            self._handle(parse_message(msg.topic, msg.payload))
        except IngestError as exc:
            self.errors += 1
            log.warning("dropped MQTT message on %s: %s", msg.topic, exc)
        except Exception:
            self.errors += 1
            log.exception("MQTT message on %s failed", msg.topic)

    def start(self, timeout_s: float = 5.0) -> None:
        try:
            self._c.connect(self._host, self._port, keepalive=30)
        except OSError as exc:
            raise LnsError(f"MQTT broker {self._host}:{self._port} unreachable: {exc}") from exc
        self._c.loop_start()
        if not self.connected.wait(timeout_s):
            self.stop()
            raise LnsError(f"MQTT broker {self._host}:{self._port} did not accept the connection")

    def stop(self) -> None:
        self._c.loop_stop()
        self._c.disconnect()


class ChirpStackMqtt(NetworkServer):
    """Downlinks as `application/{app}/device/{devEui}/command/down` messages."""

    name = "chirpstack-mqtt"
    available = True

    def __init__(
        self, *, host: str, port: int, application_id: str, username: str = "", password: str = ""
    ) -> None:
        if not application_id:
            raise LnsError("KUMPEL_CHIRPSTACK_APPLICATION_ID is needed for MQTT downlinks")
        self._app = application_id
        self._c = _client(f"kumpel-down-{uuid.uuid4().hex[:8]}", username, password)
        try:
            self._c.connect(host, port, keepalive=30)
        except OSError as exc:
            raise LnsError(f"MQTT broker {host}:{port} unreachable: {exc}") from exc
        self._c.loop_start()

    def register_device(self, *, dev_eui: str, join_eui: str, app_key: str, name: str) -> None:
        raise LnsError("ChirpStack MQTT cannot register devices: configure KUMPEL_CHIRPSTACK_GRPC for that")

    def enqueue(self, *, dev_eui: str, fport: int, payload: bytes, confirmed: bool = False) -> str:
        ref = str(uuid.uuid4())
        body = {
            "devEui": dev_eui.lower(),
            "confirmed": confirmed,
            "fPort": fport,
            "data": base64.b64encode(payload).decode(),
            "id": ref,
        }
        info = self._c.publish(
            f"application/{self._app}/device/{dev_eui.lower()}/command/down", json.dumps(body), qos=1
        )
        try:
            info.wait_for_publish(timeout=5)
        except (RuntimeError, ValueError) as exc:
            raise LnsError(f"MQTT downlink not published: {exc}") from exc
        if not info.is_published():
            raise LnsError("MQTT downlink not published within 5 s")
        return ref

    def close(self) -> None:
        self._c.loop_stop()
        self._c.disconnect()
