"""The Things Stack v3: webhook messages in, `down/push` downlinks out.

A webhook body carries exactly one message kind (uplink_message, join_accept, downlink_ack, ...); the
kind is found by which key is present. TTS has no dedup id for uplinks, so the AS correlation id
(`as:up:<ULID>`) is the idempotency key, with DevEUI + f_cnt + received_at as the fallback.
"""

import base64
import binascii
import json
from datetime import datetime

import httpx

from fleet.lns.base import EventIn, IngestError, LnsError, NetworkServer, UplinkIn, norm_eui

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


def _b64(value: object, what: str) -> bytes:
    if value in (None, ""):
        return b""
    if not isinstance(value, str):
        raise IngestError(f"{what} is not a base64 string")
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise IngestError(f"{what} is not valid base64: {exc}") from exc


def _time(value: object) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError as exc:
        raise IngestError(f"received_at {value!r} is not an ISO 8601 time") from exc


def parse_webhook(body: bytes) -> UplinkIn | EventIn:
    try:
        doc = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise IngestError(f"TTS webhook body is not JSON: {exc}") from exc
    if not isinstance(doc, dict):
        raise IngestError("TTS webhook body is not a JSON object")
    ids = doc.get("end_device_ids")
    if not isinstance(ids, dict):
        raise IngestError("TTS webhook without end_device_ids")
    dev_eui = norm_eui(ids.get("dev_eui"), "end_device_ids.dev_eui")
    up = doc.get("uplink_message")
    if isinstance(up, dict):
        return _uplink(doc, ids, up, dev_eui)
    for kind in EVENT_KINDS:
        if kind in doc:
            detail = doc[kind] if isinstance(doc[kind], dict) else {}
            ref = next((c for c in doc.get("correlation_ids", []) if str(c).startswith("as:downlink:")), None)
            acknowledged = {"downlink_ack": True, "downlink_nack": False, "downlink_failed": False}.get(kind)
            return EventIn(
                source="ttn", kind=kind, dev_eui=dev_eui, data=detail, lns_ref=ref, acknowledged=acknowledged
            )
    raise IngestError("TTS webhook carries no known message (uplink_message, join_accept, downlink_*)")


def _uplink(doc: dict, ids: dict, up: dict, dev_eui: str) -> UplinkIn:
    data = _b64(up.get("frm_payload"), "uplink_message.frm_payload")
    fcnt = up.get("f_cnt", 0)
    fport = up.get("f_port")
    if not isinstance(fcnt, int) or (fport is not None and not isinstance(fport, int)):
        raise IngestError("uplink_message.f_cnt / f_port must be integers")
    received_at = _time(doc.get("received_at") or up.get("received_at"))
    corr = next((c for c in doc.get("correlation_ids", []) if str(c).startswith("as:up:")), None)
    if corr:
        dedup = f"tts:{corr}"
    elif received_at:
        dedup = f"tts:{dev_eui}:{fcnt}:{received_at.isoformat()}"
    else:
        raise IngestError("uplink_message without correlation_ids or received_at: no idempotency key")
    rx = []
    for r in up.get("rx_metadata") or []:
        if isinstance(r, dict):
            gw = (r.get("gateway_ids") or {}).get("gateway_id", "")
            rx.append({"gateway_id": gw, "rssi": r.get("rssi", r.get("channel_rssi")), "snr": r.get("snr")})
    settings = up.get("settings") or {}
    lora = ((settings.get("data_rate") or {}).get("lora")) or {}
    try:
        frequency = int(settings["frequency"]) if settings.get("frequency") else None
    except (TypeError, ValueError) as exc:
        raise IngestError("uplink_message.settings.frequency is not a number") from exc
    return UplinkIn(
        source="ttn",
        dedup_key=dedup,
        dev_eui=dev_eui,
        received_at=received_at,
        fport=fport or None,
        fcnt=fcnt,
        data=data,
        join_eui=ids.get("join_eui"),
        rx=rx,
        dr=None,
        sf=lora.get("spreading_factor"),
        frequency=frequency,
        meta={
            "device_id": ids.get("device_id"),
            "application_id": (ids.get("application_ids") or {}).get("application_id"),
        },
    )


class TtsWebhook(NetworkServer):
    """Downlinks through the webhook's down/push. TTS addresses devices by device_id: we use its default
    naming, `eui-<deveui lower case>` (the documented convention for devices registered by DevEUI)."""

    name = "ttn"
    available = True

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

    def register_device(self, *, dev_eui: str, join_eui: str, app_key: str, name: str) -> None:
        raise LnsError(
            "registration with The Things Stack is not automated: add the device in its console "
            "or with `ttn-lw-cli end-devices create` (adapter point: fleet/lns/ttn.py)"
        )

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
