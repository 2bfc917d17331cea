"""The Things Stack v3: webhook messages in, `down/push` downlinks out.

A webhook body carries exactly one message kind (uplink_message, join_accept, downlink_ack, ...); the
kind is found by which key is present. TTS has no dedup id for uplinks, so the AS correlation id
(`as:up:<ULID>`) is the idempotency key, with DevEUI + f_cnt + received_at as the fallback.

The whole body is validated against pydantic models of TTS's `ApplicationUp` message (field names and
types from The Things Stack's api/messages.proto, JSON-mapped) before anything is stored: a field of the
wrong type is a 422 that names it. Fields we do not use are allowed (TTS adds new ones) but must not
break the shape of the ones we do. Numbers are strict (an RSSI sent as a string is an error, not coerced).
"""

import base64
import binascii
import json
from datetime import datetime
from typing import Annotated, Any

import httpx
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, Strict, ValidationError

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

EVENT_KINDS = (
    "join_accept",
    "downlink_ack",
    "downlink_nack",
    "downlink_sent",
    "downlink_failed",
    "downlink_queued",
    "location_solved",
    "service_data",
)
DEDUP_PREFIX = "tts:"

Uint32 = Annotated[int, Strict(), Field(ge=0, le=2**32 - 1)]  # f_cnt: LoRaWAN frame counters are 32-bit
Number = Annotated[float, Strict()]  # int or float, never a string; NaN/Infinity tokens become unknown
Text = Annotated[str, Strict()]


class _Shape(BaseModel):
    model_config = ConfigDict(extra="allow")


class ApplicationIds(_Shape):
    application_id: Text = ""


class EndDeviceIds(_Shape):
    device_id: Text = ""
    application_ids: ApplicationIds | None = None
    dev_eui: Text
    join_eui: Text | None = None
    dev_addr: Text | None = None


class GatewayIds(_Shape):
    gateway_id: Text = ""
    eui: Text | None = None


class RxMetadata(_Shape):
    gateway_ids: GatewayIds | None = None
    rssi: Number | None = None
    channel_rssi: Number | None = None
    snr: Number | None = None


class LoRaDataRate(_Shape):
    bandwidth: Annotated[int, Strict(), Field(ge=0, le=2**32 - 1)] | None = None
    spreading_factor: Annotated[int, Strict(), Field(ge=5, le=12)] | None = None


class DataRate(_Shape):
    lora: LoRaDataRate | None = None


class TxSettings(_Shape):
    data_rate: DataRate | None = None
    # uint64 in the proto: proto3 JSON writes it as a decimal string, and accepts a number.
    frequency: (
        Annotated[int, Strict(), Field(ge=0, le=2**64 - 1)]
        | Annotated[str, Field(pattern=r"^[0-9]{1,20}$")]
        | None
    ) = None


class UplinkMessage(_Shape):
    f_port: Annotated[int, Strict(), Field(ge=0, le=255)] | None = None
    f_cnt: Uint32 = 0
    frm_payload: Text | None = None
    rx_metadata: list[RxMetadata] = []
    settings: TxSettings | None = None
    received_at: AwareDatetime | None = None


class ApplicationUp(_Shape):
    end_device_ids: EndDeviceIds
    correlation_ids: list[Text] = []
    received_at: AwareDatetime | None = None
    uplink_message: UplinkMessage | None = None
    # Any other message kind (join_accept, downlink_*, ...) is an object when present.
    join_accept: dict[str, Any] | None = None
    downlink_ack: dict[str, Any] | None = None
    downlink_nack: dict[str, Any] | None = None
    downlink_sent: dict[str, Any] | None = None
    downlink_failed: dict[str, Any] | None = None
    downlink_queued: dict[str, Any] | None = None
    location_solved: dict[str, Any] | None = None
    service_data: dict[str, Any] | None = None


def _b64(value: str | None, what: str) -> bytes:
    if value in (None, ""):
        return b""
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise IngestError(f"{what} is not valid base64: {exc}") from exc


def _problems(exc: ValidationError) -> str:
    return "; ".join(
        f"{'.'.join(str(p) for p in e['loc']) or 'body'}: {e['msg']}"
        for e in exc.errors(include_url=False)[:5]
    )


def parse_webhook(body: bytes) -> UplinkIn | EventIn:
    try:
        doc = json.loads(body)  # accepts NaN / Infinity tokens: stored as unknown, not refused
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
        raise IngestError(f"TTS webhook body is not JSON: {exc}") from exc
    if not isinstance(doc, dict):
        raise IngestError("TTS webhook body is not a JSON object")
    if not isinstance(doc.get("end_device_ids"), dict):
        raise IngestError("TTS webhook without end_device_ids")
    try:
        msg = ApplicationUp.model_validate(doc)
    except ValidationError as exc:
        raise IngestError(f"TTS webhook body does not match ApplicationUp: {_problems(exc)}", 422) from exc
    dev_eui = norm_eui(msg.end_device_ids.dev_eui, "end_device_ids.dev_eui")
    if msg.uplink_message is not None:
        return _uplink(msg, msg.uplink_message, dev_eui)
    for kind in EVENT_KINDS:
        detail = getattr(msg, kind)
        if detail is not None:
            ref = next((c for c in msg.correlation_ids if c.startswith("as:downlink:")), None)
            acknowledged = {"downlink_ack": True, "downlink_nack": False, "downlink_failed": False}.get(kind)
            return EventIn(
                source="ttn",
                kind=kind,
                dev_eui=dev_eui,
                data=scrub(detail),
                lns_ref=scrub(ref),
                acknowledged=acknowledged,
            )
    raise IngestError("TTS webhook carries no known message (uplink_message, join_accept, downlink_*)")


def _rssi(r: RxMetadata) -> int | None:
    value = finite(r.rssi) if r.rssi is not None else None
    if value is None and r.channel_rssi is not None:
        value = finite(r.channel_rssi)
    return None if value is None or not -300 <= value <= 300 else round(value)


def _uplink(msg: ApplicationUp, up: UplinkMessage, dev_eui: str) -> UplinkIn:
    data = _b64(up.frm_payload, "uplink_message.frm_payload")
    received_at: datetime | None = msg.received_at or up.received_at
    corr = next((c for c in msg.correlation_ids if c.startswith("as:up:")), None)
    if corr:
        dedup = f"{DEDUP_PREFIX}{corr}"
        if len(dedup) > DEDUP_KEY_MAX:
            raise IngestError(
                "correlation_ids: the as:up: id is longer than "
                f"{DEDUP_KEY_MAX - len(DEDUP_PREFIX)} characters",
                422,
            )
    elif received_at:
        dedup = f"{DEDUP_PREFIX}{dev_eui}:{up.f_cnt}:{received_at.isoformat()}"
    else:
        raise IngestError("uplink_message without correlation_ids or received_at: no idempotency key")
    rx = []
    for r in up.rx_metadata:
        gw = r.gateway_ids.gateway_id if r.gateway_ids else ""
        snr = finite(r.snr) if r.snr is not None else None
        rx.append({"gateway_id": scrub(gw), "rssi": _rssi(r), "snr": snr})
    settings = up.settings or TxSettings()
    lora = (settings.data_rate.lora if settings.data_rate else None) or LoRaDataRate()
    frequency = int(settings.frequency) if settings.frequency else None
    if frequency is not None and frequency > 2**63 - 1:
        raise IngestError("uplink_message.settings.frequency is beyond any radio frequency", 422)
    ids = msg.end_device_ids
    return UplinkIn(
        source="ttn",
        dedup_key=scrub(dedup),
        dev_eui=dev_eui,
        received_at=received_at,
        fport=up.f_port or None,
        fcnt=up.f_cnt,
        data=data,
        join_eui=scrub(ids.join_eui),
        rx=rx,
        dr=None,
        sf=lora.spreading_factor,
        frequency=frequency,
        meta=scrub(
            {
                "device_id": ids.device_id,
                "application_id": ids.application_ids.application_id if ids.application_ids else None,
            }
        ),
    )


class TtsWebhook(NetworkServer):
    """Downlinks through the webhook's down/push. TTS addresses devices by device_id: we use its default
    naming, `eui-<deveui lower case>` (the documented convention for devices registered by DevEUI)."""

    name = "ttn"
    available = True
    manual_registration = (
        "registration with The Things Stack is not automated: add the device in its console "
        "or with `ttn-lw-cli end-devices create` (adapter point: fleet/lns/ttn.py)"
    )

    def __init__(
        self,
        *,
        url: str,
        application_id: str,
        webhook_id: str,
        api_key: str,
        timeout_s: float = 10.0,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        if not (url and application_id and webhook_id and api_key):
            raise LnsError("TTS downlinks need KUMPEL_TTS_URL, _APPLICATION_ID, _WEBHOOK_ID and _API_KEY")
        self._client = httpx.Client(
            base_url=url.rstrip("/"),
            timeout=timeout_s,
            headers={"Authorization": f"Bearer {api_key}"},
            transport=transport,
        )
        self._path = f"/api/v3/as/applications/{application_id}/webhooks/{webhook_id}/devices/{{}}/down/push"

    def enqueue(self, *, dev_eui: str, fport: int, payload: bytes, confirmed: bool = False) -> str:
        body = {
            "downlinks": [
                {
                    "frm_payload": base64.b64encode(payload).decode(),
                    "f_port": fport,
                    "priority": "NORMAL",
                    "confirmed": confirmed,
                }
            ]
        }
        try:
            r = self._client.post(self._path.format(f"eui-{dev_eui.lower()}"), json=body)
        except httpx.HTTPError as exc:
            raise LnsError(f"TTS down/push unreachable: {exc}") from exc
        if r.status_code >= 300:
            raise LnsError(f"TTS down/push refused: HTTP {r.status_code} {r.text[:200]}")
        return f"tts:{dev_eui}:{fport}"

    def close(self) -> None:
        self._client.close()
