"""The network-server boundary: normalized inbound messages and the outbound adapter interface.

Parsers (chirpstack.py, ttn.py) turn an LNS's own JSON/protobuf into UplinkIn / EventIn so the ingest
service never sees vendor shapes; adapters implement NetworkServer so config and provisioning never
care which LNS is configured.
"""

from dataclasses import dataclass, field
from datetime import datetime

from protocols import identity


class IngestError(ValueError):
    """An inbound message we refuse (HTTP 4xx): the message says what was wrong."""

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


def norm_eui(value: object, what: str = "DevEUI") -> str:
    """16 hex digits, upper case; separators (:, -, space) tolerated; anything else is an IngestError."""
    try:
        return identity.parse_eui(value, what)
    except ValueError as exc:
        raise IngestError(str(exc)) from exc


class NetworkServer:
    """Outbound side of an LNS. `available` False means: keep downlinks queued, register nothing."""

    name = "none"
    available = False

    def register_device(self, *, dev_eui: str, join_eui: str, app_key: str, name: str) -> None:
        raise LnsError("no network server configured (KUMPEL_LNS=none): device stored, not registered")

    def enqueue(self, *, dev_eui: str, fport: int, payload: bytes, confirmed: bool = False) -> str:
        raise LnsError("no network server configured (KUMPEL_LNS=none): downlink stays queued")

    def close(self) -> None:
        pass
