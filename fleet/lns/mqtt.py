"""ChirpStack MQTT integration: subscribe to `application/+/device/+/event/+`, publish `command/down`.

The subscriber feeds the same ingest service as the HTTP endpoint (JSON encoding, the MQTT integration's
default); a bad message is logged and dropped, never kills the loop.

Nothing published while the subscriber is down is lost: it connects with a stable client id (MQTT v5,
clean_start False, a session expiry interval), so the broker keeps its subscription and queues QoS 1
messages meanwhile, and it acknowledges a message (PUBACK, paho's manual_ack) only after the data is
committed. A message whose storing failed is left unacknowledged: the broker delivers it again when the
subscriber reconnects. The topic filter may be a shared subscription (`$share/<group>/...`) so several
fleet processes split the messages between them, each with its own client id.
"""

import base64
import json
import logging
import threading
import uuid
from collections.abc import Callable

import paho.mqtt.client as mqtt
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from fleet.lns import chirpstack
from fleet.lns.base import IngestError, LnsError, NetworkServer

log = logging.getLogger("kumpel.fleet.mqtt")
EVENT_TOPIC = "application/+/device/+/event/+"


def _client(client_id: str, username: str, password: str, **kw) -> mqtt.Client:  # noqa: ANN003
    c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=client_id, **kw)
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
        client_id: str = "",
        session_expiry_s: int = 7 * 24 * 3600,
    ) -> None:
        """`client_id` empty: a random one and no persistent session (tests, one-off tools). A fleet
        process passes its stable id (KUMPEL_MQTT_CLIENT_ID); the broker keeps its session for
        `session_expiry_s` after it disconnects."""
        self._handle = handle
        self._topic = topic
        self.connected = threading.Event()
        self.errors = 0
        self.unacknowledged = 0
        self._persistent = bool(client_id)
        self._expiry = session_expiry_s if client_id else 0
        self.client_id = client_id or f"kumpel-fleet-{uuid.uuid4().hex[:8]}"
        self._c = _client(self.client_id, username, password, protocol=mqtt.MQTTv5, manual_ack=True)
        self._c.on_connect = self._on_connect
        self._c.on_message = self._on_message
        self._host, self._port = host, port

    def _on_connect(self, client, userdata, flags, reason_code, properties) -> None:  # noqa: ANN001
        if reason_code.is_failure:
            log.error("MQTT broker refused the connection: %s", reason_code)
            return
        # Subscribing again on a resumed session is harmless (same filter, same QoS) and covers a broker
        # that lost the session (restarted without persistence).
        client.subscribe(self._topic, qos=1)
        self.connected.set()

    def _on_message(self, client, userdata, msg) -> None:  # noqa: ANN001
        try:
            self._handle(parse_message(msg.topic, msg.payload))
        except IngestError as exc:
            self.errors += 1
            log.warning("dropped MQTT message on %s: %s", msg.topic, exc)  # it would fail again: ack it
        except Exception:
            self.errors += 1
            self.unacknowledged += 1
            log.exception("MQTT message on %s failed: not acknowledged, the broker redelivers it", msg.topic)
            return
        client.ack(msg.mid, msg.qos)  # only now: what was acknowledged is committed

    def start(self, timeout_s: float = 5.0) -> None:
        props = Properties(PacketTypes.CONNECT)
        props.SessionExpiryInterval = self._expiry
        try:
            self._c.connect(
                self._host, self._port, keepalive=30, clean_start=not self._persistent, properties=props
            )
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
    manual_registration = (
        "ChirpStack's MQTT integration cannot register devices: add it in ChirpStack (web UI or API), "
        "or set KUMPEL_LNS=chirpstack-grpc to automate it"
    )

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
