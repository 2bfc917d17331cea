"""ChirpStack v4: HTTP/MQTT integration events in, gRPC DeviceService out.

Inbound bodies are parsed with the chirpstack-api protobuf messages (JSON with unknown fields ignored, or
binary protobuf when the integration's encoding is PROTOBUF), so a field ChirpStack renames breaks here,
loudly, not somewhere in the database.
"""

import math
from datetime import UTC, datetime

import grpc
from chirpstack_api import api, integration
from google.protobuf import json_format
from google.protobuf.descriptor import FieldDescriptor
from google.protobuf.message import DecodeError

from fleet.lns.base import (
    DEDUP_KEY_MAX,
    EventIn,
    IngestError,
    LnsError,
    NetworkServer,
    UplinkIn,
    finite,
    norm_eui,
    scrub,
)

DEDUP_PREFIX = "cs:"

EVENT_MESSAGES = {
    "up": integration.UplinkEvent,
    "join": integration.JoinEvent,
    "ack": integration.AckEvent,
    "txack": integration.TxAckEvent,
    "status": integration.StatusEvent,
    "log": integration.LogEvent,
    "location": integration.LocationEvent,
}


def parse_event(event: str, body: bytes, content_type: str = "application/json"):  # noqa: ANN201
    """Parse one integration event -> UplinkIn | EventIn; IngestError says what was wrong."""
    cls = EVENT_MESSAGES.get(event)
    if cls is None:
        raise IngestError(f"unknown event type {event!r}: expected one of {', '.join(EVENT_MESSAGES)}")
    msg = cls()
    if "protobuf" in content_type or "octet-stream" in content_type:
        try:
            msg.ParseFromString(body)
        except DecodeError as exc:
            raise IngestError(f"{event} event: body is not a valid protobuf {cls.__name__}: {exc}") from exc
    else:
        try:
            json_format.Parse(body.decode("utf-8"), msg, ignore_unknown_fields=True)
        except UnicodeDecodeError as exc:
            raise IngestError(f"{event} event: body is not UTF-8 JSON") from exc
        except json_format.ParseError as exc:
            raise IngestError(f"{event} event: {exc}") from exc
    if not msg.HasField("device_info") or not msg.device_info.dev_eui:
        raise IngestError(f"{event} event without deviceInfo.devEui")
    dev_eui = norm_eui(msg.device_info.dev_eui)
    if event == "up":
        return _uplink(msg, dev_eui, "chirpstack")
    return _event(event, msg, dev_eui, "chirpstack")


def _time(msg) -> datetime | None:  # noqa: ANN001
    if not msg.HasField("time"):
        return None
    try:  # binary protobuf carries any int64 seconds; a Timestamp is only valid for years 1..9999
        return msg.time.ToDatetime(tzinfo=UTC)
    except (ValueError, OverflowError) as exc:
        raise IngestError(f"time is not a valid protobuf Timestamp: {exc}", 422) from exc


def _snr(value: float) -> float | None:
    value = finite(value)
    return None if value is None else round(value, 2)


def _clear_non_finite(msg) -> None:  # noqa: ANN001
    """Unset every NaN / infinite float field (recursively): an unset field is "unknown" in what we store,
    where MessageToDict would write the strings "NaN" / "Infinity" in place of a number."""
    for fd, value in msg.ListFields():
        repeated = fd.is_repeated
        if fd.type in (FieldDescriptor.TYPE_FLOAT, FieldDescriptor.TYPE_DOUBLE):
            if repeated:
                keep = [v for v in value if math.isfinite(v)]
                del value[:]
                value.extend(keep)
            elif not math.isfinite(value):
                msg.ClearField(fd.name)
        elif fd.type == FieldDescriptor.TYPE_MESSAGE:
            if fd.message_type.GetOptions().map_entry:
                inner = fd.message_type.fields_by_name["value"]
                items = list(value.values()) if inner.type == FieldDescriptor.TYPE_MESSAGE else []
            else:
                items = list(value) if repeated else [value]
            for item in items:
                _clear_non_finite(item)


def _uplink(msg: integration.UplinkEvent, dev_eui: str, source: str) -> UplinkIn:
    received_at = _time(msg)
    if msg.deduplication_id:
        dedup = f"{DEDUP_PREFIX}{msg.deduplication_id}"
        if len(dedup) > DEDUP_KEY_MAX:
            raise IngestError(
                f"deduplicationId is longer than {DEDUP_KEY_MAX - len(DEDUP_PREFIX)} characters "
                "(ChirpStack sends a UUID)",
                422,
            )
    elif received_at is not None:
        dedup = f"{DEDUP_PREFIX}{dev_eui}:{msg.f_cnt}:{received_at.isoformat()}"
    else:
        raise IngestError("up event without deduplicationId or time: cannot store it idempotently")
    rx = [{"gateway_id": scrub(r.gateway_id), "rssi": r.rssi, "snr": _snr(r.snr)} for r in msg.rx_info]
    sf = frequency = None
    if msg.HasField("tx_info"):
        frequency = msg.tx_info.frequency or None
        if msg.tx_info.modulation.HasField("lora"):
            sf = msg.tx_info.modulation.lora.spreading_factor or None
    return UplinkIn(
        source=source,
        dedup_key=dedup,
        dev_eui=dev_eui,
        received_at=received_at,
        fport=msg.f_port or None,
        fcnt=msg.f_cnt,
        data=bytes(msg.data),
        rx=rx,
        dr=msg.dr,
        sf=sf,
        frequency=frequency,
        meta=scrub(
            {
                "application_id": msg.device_info.application_id,
                "device_name": msg.device_info.device_name,
                "dev_addr": msg.dev_addr,
            }
        ),
    )


def _event(kind: str, msg, dev_eui: str, source: str) -> EventIn:  # noqa: ANN001
    _clear_non_finite(msg)
    try:
        data = scrub(json_format.MessageToDict(msg, preserving_proto_field_name=True))
    except (ValueError, OverflowError) as exc:  # e.g. a Timestamp out of range in a nested message
        raise IngestError(f"{kind} event: {exc}", 422) from exc
    data.pop("device_info", None)
    ref = scrub(getattr(msg, "queue_item_id", None) or None)
    acknowledged = msg.acknowledged if kind == "ack" else (True if kind == "txack" else None)
    return EventIn(
        source=source, kind=kind, dev_eui=dev_eui, data=data, lns_ref=ref, acknowledged=acknowledged
    )


class ChirpStackGrpc(NetworkServer):
    """DeviceService over gRPC with `authorization: Bearer <token>` metadata."""

    name = "chirpstack-grpc"
    available = True
    registers = True

    def __init__(
        self,
        *,
        target: str,
        api_token: str,
        application_id: str,
        device_profile_id: str,
        tls: bool = False,
        timeout_s: float = 10.0,
    ) -> None:
        if not target:
            raise LnsError("KUMPEL_CHIRPSTACK_GRPC is empty: set host:port of the ChirpStack API")
        self._channel = (
            grpc.secure_channel(target, grpc.ssl_channel_credentials())
            if tls
            else grpc.insecure_channel(target)
        )
        self._stub = api.DeviceServiceStub(self._channel)
        self._auth = [("authorization", f"Bearer {api_token}")]
        self._application_id = application_id
        self._device_profile_id = device_profile_id
        self._timeout = timeout_s
        self.target = target

    def _call(self, method, request, what: str):  # noqa: ANN001, ANN202
        try:
            return method(request, metadata=self._auth, timeout=self._timeout)
        except grpc.RpcError as exc:
            code = exc.code().name if hasattr(exc, "code") else "error"
            detail = exc.details() if hasattr(exc, "details") else str(exc)
            raise LnsError(f"ChirpStack {what} failed at {self.target}: {code}: {detail}") from exc

    def register_device(self, *, dev_eui: str, join_eui: str, app_key: str, name: str) -> None:
        device = api.Device(
            dev_eui=dev_eui.lower(),
            name=name or dev_eui,
            application_id=self._application_id,
            device_profile_id=self._device_profile_id,
            join_eui=join_eui.lower(),
        )
        try:
            self._call(self._stub.Create, api.CreateDeviceRequest(device=device), "DeviceService.Create")
        except LnsError as exc:
            if "ALREADY_EXISTS" not in str(exc):
                raise
            self._call(self._stub.Update, api.UpdateDeviceRequest(device=device), "DeviceService.Update")
        # LoRaWAN 1.0.x: the AppKey goes in nwk_key (ChirpStack's naming follows 1.1).
        keys = api.DeviceKeys(dev_eui=dev_eui.lower(), nwk_key=app_key.lower())
        try:
            self._call(
                self._stub.CreateKeys,
                api.CreateDeviceKeysRequest(device_keys=keys),
                "DeviceService.CreateKeys",
            )
        except LnsError as exc:
            if "ALREADY_EXISTS" not in str(exc):
                raise
            self._call(
                self._stub.UpdateKeys,
                api.UpdateDeviceKeysRequest(device_keys=keys),
                "DeviceService.UpdateKeys",
            )

    def enqueue(self, *, dev_eui: str, fport: int, payload: bytes, confirmed: bool = False) -> str:
        item = api.DeviceQueueItem(dev_eui=dev_eui.lower(), f_port=fport, data=payload, confirmed=confirmed)
        resp = self._call(
            self._stub.Enqueue, api.EnqueueDeviceQueueItemRequest(queue_item=item), "DeviceService.Enqueue"
        )
        return resp.id

    def close(self) -> None:
        self._channel.close()
