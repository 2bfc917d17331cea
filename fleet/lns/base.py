"""The network-server boundary: normalized inbound messages and the outbound adapter interface.

Parsers (chirpstack.py, ttn.py) turn an LNS's own JSON/protobuf into UplinkIn / EventIn so the ingest
service never sees vendor shapes; adapters implement NetworkServer so config and provisioning never
care which LNS is configured.
"""

import math
from dataclasses import dataclass, field
from datetime import datetime

from protocols import identity

# Uplink.dedup_key is VARCHAR(120): an LNS id longer than this (less our prefix) cannot be an idempotency key.
DEDUP_KEY_MAX = 120


class IngestError(ValueError):
    """An inbound message we refuse (HTTP 4xx): the message says what was wrong. 400: not JSON/protobuf at
    all; 422: well-formed but a field has the wrong type or an impossible value."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


class LnsError(RuntimeError):
    """The network server refused or could not be reached; the message is for the technician."""


@dataclass
class UplinkIn:
    source: str
    dedup_key: str
    dev_eui: str
    received_at: datetime | None
    fport: int | None
    fcnt: int | None
    data: bytes
    join_eui: str | None = None
    rx: list[dict] = field(default_factory=list)  # [{"gateway_id", "rssi", "snr"}]
    dr: int | None = None
    sf: int | None = None
    frequency: int | None = None
    meta: dict = field(default_factory=dict)


@dataclass
class EventIn:
    """Anything but an uplink: join, ack, txack, status, log, TTS downlink_* (kind names them)."""

    source: str
    kind: str
    dev_eui: str
    data: dict = field(default_factory=dict)
    lns_ref: str | None = None  # queue item / correlation id of the downlink it concerns
    acknowledged: bool | None = None


def finite(value: float | None) -> float | None:
    """A radio measurement, or None ("unknown") when the network server sent NaN or an infinity: protobuf
    JSON writes those as "NaN"/"Infinity", and neither JSON columns nor the pages can hold them."""
    if value is None or not math.isfinite(value):
        return None
    return value


def scrub(value: object) -> object:
    """A JSON-ready copy of what a network server sent, for storing as-is: non-finite numbers become None
    (unknown) and NUL characters are dropped from strings (PostgreSQL text cannot hold them)."""
    if isinstance(value, float):
        return finite(value)
    if isinstance(value, str):
        return value.replace("\x00", "")
    if isinstance(value, dict):
        return {str(scrub(k)): scrub(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [scrub(v) for v in value]
    return value


def norm_eui(value: object, what: str = "DevEUI") -> str:
    """16 hex digits, upper case; separators (:, -, space) tolerated; anything else is an IngestError."""
    try:
        return identity.parse_eui(value, what)
    except ValueError as exc:
        raise IngestError(str(exc)) from exc


class NetworkServer:
    """Outbound side of an LNS. `available` False means: keep downlinks queued. `registers` False means
    registration is not automated here: devices are stored, and `manual_registration` tells the
    technician where to register them."""

    name = "none"
    available = False
    registers = False
    manual_registration = "no network server configured (KUMPEL_LNS=none): register it in your network server"

    def register_device(self, *, dev_eui: str, join_eui: str, app_key: str, name: str) -> None:
        raise LnsError(self.manual_registration)

    def enqueue(self, *, dev_eui: str, fport: int, payload: bytes, confirmed: bool = False) -> str:
        raise LnsError("no network server configured (KUMPEL_LNS=none): downlink stays queued")

    def close(self) -> None:
        pass
