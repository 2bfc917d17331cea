"""A simulated ChirpStack v4 network server: joins, frame counters, deduplication, downlink queue.

Events are built from `chirpstack_api.integration` messages and serialised with protobuf's JSON mapping,
so what the fleet receives is ChirpStack's format by construction, not a hand-written look-alike.
Thread-safe: radio-link handlers and the gRPC API (chirpstack_grpc.py) share one instance.
"""

from __future__ import annotations

import logging
import random
import threading
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

import httpx
from chirpstack_api import common, gw, integration
from google.protobuf import json_format

log = logging.getLogger(__name__)
EU868_UPLINK_HZ = (868_100_000, 868_300_000, 868_500_000)
STATUS_EVERY_S = 24 * 3600  # ChirpStack's device-status request interval (device profile default: daily)


class EventSink(Protocol):
    def post(self, event: str, message: Any) -> None: ...


class MemorySink:
    """Keeps every event as (name, proto3 JSON text): for tests and runs without a fleet."""

    def __init__(self) -> None:
        self.events: list[tuple[str, str]] = []
        self._lock = threading.Lock()

    def post(self, event: str, message: Any) -> None:
        with self._lock:
            self.events.append((event, json_format.MessageToJson(message)))

    def named(self, event: str) -> list[str]:
        with self._lock:
            return [body for name, body in self.events if name == event]


class HttpEventPoster:
    """Posts events like ChirpStack's HTTP integration (JSON encoding) with the operator's auth header.

    One keep-alive client per thread: the radio-link handlers post concurrently, and a shared httpx
    client's connection pool broke under a few hundred threads ("Bad file descriptor"). A transport
    error is retried once; a refused event (HTTP 4xx/5xx) is counted and logged, never retried.
    At most `max_in_flight` posts are open at once, the others wait their turn: with 1,000 nodes a few
    hundred handler threads posted together, the fleet's accept queue overflowed and events timed out
    on the emulator's own load, which the simulated clock (it waits for the posting node) can absorb.
    """

    def __init__(self, url: str, token: str | None = None, timeout_s: float = 10.0, max_in_flight: int = 8):
        self.url = url.rstrip("/")
        if not self.url.endswith("/integrations/chirpstack"):
            self.url += "/integrations/chirpstack"
        self.headers = {"Content-Type": "application/json"}
        if token:
            self.headers["Authorization"] = f"Bearer {token}"
        self.timeout_s = timeout_s
        self.transport: httpx.BaseTransport | None = None  # tests inject a MockTransport
        self.posted = 0
        self.failed = 0
        self.last_error: str | None = None
        self._lock = threading.Lock()
        self._in_flight = threading.BoundedSemaphore(max_in_flight)
        self._local = threading.local()
        self._clients: list[httpx.Client] = []

    def _client(self) -> httpx.Client:
        client = getattr(self._local, "client", None)
        if client is None:
            client = httpx.Client(headers=self.headers, timeout=self.timeout_s, transport=self.transport)
            self._local.client = client
            with self._lock:
                self._clients.append(client)
        return client

    def post(self, event: str, message: Any) -> None:
        body = json_format.MessageToJson(message)
        err = None
        for _attempt in range(2):
            try:
                with self._in_flight:
                    r = self._client().post(self.url, params={"event": event}, content=body)
                err = (
                    None if r.status_code < 300 else f"HTTP {r.status_code} for event={event}: {r.text[:200]}"
                )
                break
            except httpx.HTTPError as e:  # the fleet being down must not stop the simulated network
                err = f"{type(e).__name__} posting event={event} to {self.url}: {e}"
                self._local.client = None  # a fresh connection for the retry
        with self._lock:
            if err is None:
                self.posted += 1
            else:
                self.failed += 1
                self.last_error = err
        if err:
            log.warning("%s", err)

    def close(self) -> None:
        with self._lock:
            for client in self._clients:
                client.close()
            self._clients.clear()


@dataclass
class QueueItem:
    id: str
    f_port: int
    data: bytes
    confirmed: bool = False
    expires_at: datetime | None = None
    f_cnt_down: int | None = None
    is_pending: bool = False  # sent as confirmed, waiting for the device's ACK


@dataclass
class SimDevice:
    dev_eui: str
    name: str = ""
    join_eui: str = "0000000000000000"
    app_key: str | None = None
    application_id: str = ""
    device_profile_id: str = ""
    description: str = ""
    tags: dict[str, str] = field(default_factory=dict)
    variables: dict[str, str] = field(default_factory=dict)
    skip_fcnt_check: bool = False
    is_disabled: bool = False
    created_by_api: bool = False  # a second DeviceService.Create is ALREADY_EXISTS, as in ChirpStack
    keys_by_api: bool = False  # likewise for CreateKeys
    dev_addr: str | None = None
    f_cnt_up: int = 0  # next expected uplink frame counter
    f_cnt_down: int = 0
    queue: list[QueueItem] = field(default_factory=list)
    last_status_at: datetime | None = None
    stats: dict[str, int] = field(
        default_factory=lambda: {
            "joins": 0,
            "join_rejected": 0,
            "uplinks": 0,
            "uplinks_lost": 0,
            "replays": 0,
            "duplicates": 0,
            "bytes": 0,
            "downlinks": 0,
            "acks": 0,
        }
    )


class NetworkServer:
    """The simulated network server; times are the simulated wall clock (timezone-aware datetimes)."""

    def __init__(
        self,
        sink: EventSink,
        *,
        tenant_id: str = "52f14cd4-c6f1-4fbd-8f87-4025e1d49242",
        application_id: str = "kumpel-sim-app",
        device_profile_id: str = "kumpel-sim-profile",
        seed: int = 1,
    ):
        self.sink = sink
        self.tenant_id = tenant_id
        self.application_id = application_id
        self.device_profile_id = device_profile_id
        self.devices: dict[str, SimDevice] = {}
        self._rng = random.Random(seed)
        self._lock = threading.RLock()
        self._downlink_id = 0

    # -- registry (what DeviceService.Create / CreateKeys do) -----------------------------------------
    def register(
        self,
        dev_eui: str,
        *,
        name: str = "",
        join_eui: str | None = None,
        app_key: str | None = None,
        **fields: Any,
    ) -> SimDevice:
        """Add or update a device; keeps its session and queue when it already exists."""
        dev_eui = dev_eui.lower()
        with self._lock:
            dev = self.devices.get(dev_eui)
            if dev is None:
                dev = self.devices[dev_eui] = SimDevice(
                    dev_eui=dev_eui,
                    application_id=self.application_id,
                    device_profile_id=self.device_profile_id,
                )
            if name:
                dev.name = name
            if join_eui:
                dev.join_eui = join_eui.lower()
            if app_key:
                dev.app_key = app_key.lower()
            for key, value in fields.items():
                setattr(dev, key, value)
            return dev

    def get(self, dev_eui: str) -> SimDevice | None:
        return self.devices.get(dev_eui.lower())

    def _device_info(self, dev: SimDevice) -> integration.DeviceInfo:
        info = integration.DeviceInfo(
            tenant_id=self.tenant_id,
            tenant_name="Kumpel",
            application_id=dev.application_id,
            application_name="kumpel",
            device_profile_id=dev.device_profile_id,
            device_profile_name="kumpel-node",
            device_name=dev.name or dev.dev_eui,
            dev_eui=dev.dev_eui,
            device_class_enabled=common.DeviceClass.CLASS_A,
        )
        info.tags.update(dev.tags)
        return info

    def _uuid(self) -> str:
        return str(uuid.UUID(int=self._rng.getrandbits(128), version=4))

    # -- radio side ------------------------------------------------------------------------------------
    def join(
        self, dev_eui: str, join_eui: str, at: datetime, heard: list[tuple[str, float, float]]
    ) -> str | None:
        """A join-request heard by `heard` gateways; returns the new DevAddr or None (no join-accept)."""
        with self._lock:
            dev = self.get(dev_eui)
            if not heard:
                return None
            if dev is None or dev.is_disabled or not dev.app_key:
                if dev is not None:
                    dev.stats["join_rejected"] += 1
                log.info("join-request from unknown or keyless device %s ignored", dev_eui)
                return None
            dev.dev_addr = f"{self._rng.getrandbits(25):08x}"  # NetID 000000: 7-bit prefix 0
            dev.f_cnt_up = 0
            dev.f_cnt_down = 0
            dev.stats["joins"] += 1
            for item in dev.queue:  # a new session: pending confirmed items start over
                item.is_pending = False
            event = integration.JoinEvent(
                deduplication_id=self._uuid(), device_info=self._device_info(dev), dev_addr=dev.dev_addr
            )
            event.time.FromDatetime(at)
            dev_addr = dev.dev_addr
        self.sink.post("join", event)
        return dev_addr

    def uplink(
        self,
        dev_eui: str,
        *,
        f_port: int,
        data: bytes,
        f_cnt: int,
        dr: int,
        confirmed: bool,
        at: datetime,
        heard: list[tuple[str, float, float]],
        battery_pct: float | None = None,
        adr: bool = True,
    ) -> dict:
        """One uplink; returns the radio-link reply {"ok", "ack", "downlink"} (CONTRACTS 4)."""
        events: list[tuple[str, Any]] = []
        reply: dict[str, Any] = {"ok": True, "ack": False, "downlink": None}
        with self._lock:
            dev = self.get(dev_eui)
            if not heard:
                if dev is not None:
                    dev.stats["uplinks_lost"] += 1
                return reply
            if dev is None or dev.dev_addr is None:
                log.info("uplink from %s without a session ignored", dev_eui)
                return reply
            if f_cnt < dev.f_cnt_up and not dev.skip_fcnt_check:
                stat = "duplicates" if f_cnt == dev.f_cnt_up - 1 else "replays"
                dev.stats[stat] += 1
                log.info("uplink %s fCnt %d below expected %d dropped", dev_eui, f_cnt, dev.f_cnt_up)
                return reply
            dev.f_cnt_up = f_cnt + 1
            dev.stats["uplinks"] += 1
            dev.stats["bytes"] += len(data)
            dedup = self._uuid()
            up = integration.UplinkEvent(
                deduplication_id=dedup,
                device_info=self._device_info(dev),
                dev_addr=dev.dev_addr,
                adr=adr,
                dr=dr,
                f_cnt=f_cnt,
                f_port=f_port,
                confirmed=confirmed,
                data=data,
                region_config_id="eu868",
            )
            up.time.FromDatetime(at)
            freq = EU868_UPLINK_HZ[f_cnt % len(EU868_UPLINK_HZ)]
            for gateway_id, rssi, snr in heard:
                rx = up.rx_info.add(
                    gateway_id=gateway_id,
                    uplink_id=self._rng.getrandbits(32),
                    rssi=int(rssi),
                    snr=float(snr),
                    channel=f_cnt % len(EU868_UPLINK_HZ),
                    crc_status=gw.CRCStatus.CRC_OK,
                )
                rx.ns_time.FromDatetime(at)
                rx.context = self._rng.getrandbits(32).to_bytes(4, "big")
            up.tx_info.frequency = freq
            up.tx_info.modulation.lora.bandwidth = 125_000
            up.tx_info.modulation.lora.spreading_factor = max(7, 12 - dr)
            up.tx_info.modulation.lora.code_rate = gw.CodeRate.CR_4_5
            events.append(("up", up))
            reply["ack"] = confirmed
            # a confirmed downlink sent in the last receive window: this uplink carries the device's ACK
            pending = next((q for q in dev.queue if q.is_pending), None)
            if pending is not None:
                dev.queue.remove(pending)
                dev.stats["acks"] += 1
                ack = integration.AckEvent(
                    deduplication_id=dedup,
                    device_info=self._device_info(dev),
                    queue_item_id=pending.id,
                    acknowledged=True,
                    f_cnt_down=pending.f_cnt_down or 0,
                )
                ack.time.FromDatetime(at)
                events.append(("ack", ack))
            if battery_pct is not None and (
                dev.last_status_at is None or (at - dev.last_status_at).total_seconds() >= STATUS_EVERY_S
            ):
                dev.last_status_at = at
                best_snr = max(snr for _, _, snr in heard)
                status = integration.StatusEvent(
                    deduplication_id=self._uuid(),
                    device_info=self._device_info(dev),
                    margin=int(round(best_snr + 20)),  # demodulation margin over the SF12 floor
                    battery_level=round(battery_pct, 1),
                )
                status.time.FromDatetime(at)
                events.append(("status", status))
            item = self._next_downlink(dev, at)
            if item is not None:
                gateway_id, rssi, snr = max(heard, key=lambda h: h[1])  # the strongest gateway answers
                self._downlink_id += 1
                txack = integration.TxAckEvent(
                    downlink_id=self._downlink_id,
                    device_info=self._device_info(dev),
                    queue_item_id=item.id,
                    f_cnt_down=item.f_cnt_down or 0,
                    gateway_id=gateway_id,
                )
                txack.time.FromDatetime(at)
                txack.tx_info.frequency = freq  # RX1 on the uplink channel
                txack.tx_info.power = 14
                txack.tx_info.modulation.lora.bandwidth = 125_000
                txack.tx_info.modulation.lora.spreading_factor = max(7, 12 - dr)
                txack.tx_info.modulation.lora.code_rate = gw.CodeRate.CR_4_5
                txack.tx_info.modulation.lora.polarization_inversion = True
                events.append(("txack", txack))
                reply["downlink"] = {
                    "fport": item.f_port,
                    "data": item.data.hex(),
                    "rssi": int(rssi),
                    "snr": float(snr),
                }
        for name, event in events:
            self.sink.post(name, event)
        return reply

    def _next_downlink(self, dev: SimDevice, at: datetime) -> QueueItem | None:
        for item in list(dev.queue):
            if item.expires_at is not None and item.expires_at <= at:
                dev.queue.remove(item)
                log.info("queue item %s for %s expired", item.id, dev.dev_eui)
        for item in dev.queue:
            if item.is_pending:
                continue
            item.f_cnt_down = dev.f_cnt_down
            dev.f_cnt_down += 1
            dev.stats["downlinks"] += 1
            if item.confirmed:
                item.is_pending = True
            else:
                dev.queue.remove(item)
            return item
        return None

    # -- queue (what DeviceService.Enqueue / GetQueue / FlushQueue do) --------------------------------
    def enqueue(
        self,
        dev_eui: str,
        *,
        f_port: int,
        data: bytes,
        confirmed: bool = False,
        expires_at: datetime | None = None,
    ) -> QueueItem:
        if not 1 <= f_port <= 223:
            raise ValueError(f"f_port must be 1..223, got {f_port}")
        with self._lock:
            dev = self.get(dev_eui)
            if dev is None:
                raise KeyError(dev_eui)
            item = QueueItem(
                id=self._uuid(), f_port=f_port, data=bytes(data), confirmed=confirmed, expires_at=expires_at
            )
            dev.queue.append(item)
            return item

    def queue(self, dev_eui: str) -> list[QueueItem]:
        with self._lock:
            dev = self.get(dev_eui)
            if dev is None:
                raise KeyError(dev_eui)
            return list(dev.queue)

    def flush(self, dev_eui: str) -> None:
        with self._lock:
            dev = self.get(dev_eui)
            if dev is None:
                raise KeyError(dev_eui)
            dev.queue.clear()
