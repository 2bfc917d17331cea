"""Host side of the sim radio link (CONTRACTS 4): JSON lines over TCP between node processes and the host.

Each MicroPython node process connects once and sends boot/join/uplink/sleep messages; the host answers
from the node's world (physics.py) and the simulated network server. The `sleep` answer is held back by
the `SimClock` until it is this node's turn, so all nodes advance in simulated-time order and the fleet
sees one consistent clock.
"""

from __future__ import annotations

import heapq
import json
import logging
import socket
import socketserver
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from tools.emulator.network_server import NetworkServer
from tools.emulator.physics import NodeWorld

log = logging.getLogger(__name__)
MAX_LINE = 64 * 1024


class SimClock:
    """Conservative time-ordered scheduler: a sleeping node may wake once no other node lags behind it.

    A node waiting to wake at `wake_us` is released when `wake_us <= min(time of every node) + lookahead`.
    With `speed` set, simulated time also may not run ahead of wall time × speed (the demo's pace).
    Each sleeper waits on its own event, kept in a heap by wake time, and only the ones that may go now
    are woken: a shared condition with notify_all woke every sleeper on every message, which made 1,000
    nodes cost O(N²) per step in the host process.
    """

    def __init__(self, end_us: int, *, lookahead_us: int = 60_000_000, speed: float | None = None):
        self.end_us = end_us
        self.lookahead_us = lookahead_us
        self.speed = speed
        self._times: dict[str, int] = {}
        self._lock = threading.Lock()
        self._t0 = time.monotonic()
        self._anchor: tuple[float, int] | None = None  # (monotonic, simulated µs) pacing starts from
        self._stopped = False
        self._waiting: dict[str, int] = {}
        self._sleepers: list[tuple[int, int, threading.Event]] = []  # heap of (wake_us, seq, event)
        self._seq = 0
        self.barrier_us: int | None = None  # nobody wakes past this until release(): lets tests act mid-run

    def _limit_us(self) -> int:
        """The latest wake time that may go now (call with the lock held)."""
        limit = (min(self._times.values()) if self._times else self.end_us) + self.lookahead_us
        paced = self.paced_now_us()
        if paced is not None:
            limit = min(limit, paced)
        if self.barrier_us is not None:
            limit = min(limit, self.barrier_us)
        return limit

    def _wake_ready(self) -> None:
        """Release every sleeper whose turn has come (call with the lock held)."""
        if not self._sleepers:
            return
        limit = self._limit_us()
        while self._sleepers and self._sleepers[0][0] <= limit:
            heapq.heappop(self._sleepers)[2].set()

    def limit_us(self) -> int:
        """The latest wake time that may go now: a fast-runner worker runs every node up to it unasked."""
        with self._lock:
            return self._limit_us()

    def expect(self, dev_eui: str, t_us: int = 0) -> None:
        """Count a node that is about to start, so nobody runs ahead of it before it connects."""
        with self._lock:
            self._times[dev_eui] = t_us

    def observe(self, dev_eui: str, t_us: int) -> None:
        with self._lock:
            if dev_eui in self._times and t_us > self._times[dev_eui]:
                self._times[dev_eui] = t_us
                self._wake_ready()

    def retire(self, dev_eui: str) -> None:
        with self._lock:
            self._times.pop(dev_eui, None)
            self._wake_ready()

    def stop(self) -> None:
        with self._lock:
            self._stopped = True
            for _wake, _seq, ev in self._sleepers:
                ev.set()
            self._sleepers.clear()

    def hold(self, barrier_us: int) -> None:
        with self._lock:
            self.barrier_us = barrier_us

    def release(self) -> None:
        with self._lock:
            self.barrier_us = None
            self._wake_ready()

    def at_barrier(self) -> bool:
        """True when every node still running is asleep waiting to wake past the barrier."""
        with self._lock:
            return (
                self.barrier_us is not None
                and bool(self._times)
                and all(self._waiting.get(d, -1) > self.barrier_us for d in self._times)
            )

    def paced_now_us(self) -> int | None:
        if not self.speed:
            return None
        anchor_mono, anchor_us = self._anchor or (self._t0, 0)
        return anchor_us + int((time.monotonic() - anchor_mono) * self.speed * 1_000_000)

    def pace(self, speed: float | None, from_us: int) -> None:
        """From now on, simulated time may run `speed` simulated seconds per wall second from `from_us`
        (None: flat out); lifts a barrier. The demo replays history flat out, then paces at x1 from the
        simulated instant that is now on the wall clock."""
        with self._lock:
            self.speed = speed
            self._anchor = (time.monotonic(), from_us)
            self.barrier_us = None
            self._wake_ready()

    @property
    def now_us(self) -> int:
        with self._lock:
            return min(self._times.values()) if self._times else self.end_us

    def wait_turn(self, dev_eui: str, wake_us: int) -> bool:
        """Block until the node may wake at `wake_us`; False when the run is over for it."""
        ev = threading.Event()
        with self._lock:
            if wake_us >= self.end_us or self._stopped:
                return False
            self._times[dev_eui] = wake_us
            self._waiting[dev_eui] = wake_us
            self._seq += 1
            heapq.heappush(self._sleepers, (wake_us, self._seq, ev))
            self._wake_ready()  # this node may have been the one everybody waited for, itself included
        try:
            while not ev.wait(self._poll_s(wake_us)):
                with self._lock:  # the paced limit moves with wall time, not with messages
                    self._wake_ready()
            with self._lock:
                return not self._stopped
        finally:
            with self._lock:
                self._waiting.pop(dev_eui, None)

    def may_run(self, wake_us: int) -> bool:
        """Whether a wake at `wake_us` is still inside the run (what wait_turn answers, without waiting)."""
        with self._lock:
            return wake_us < self.end_us and not self._stopped

    def _poll_s(self, wake_us: int) -> float:
        paced = self.paced_now_us()
        if paced is None:
            return 1.0  # a safety net only: every change that can release a sleeper wakes it directly
        return min(0.5, max(0.01, (wake_us - paced) / 1e6 / self.speed))


def worker_key(worker) -> str:
    """The clock's name for a fast-runner worker process (nodes are named by their DevEUI)."""
    return f"worker:{worker}"


@dataclass
class NodeStats:
    boots: int = 0
    reset_causes: Counter = field(default_factory=Counter)
    joins_tried: int = 0
    joins_ok: int = 0
    uplinks_sent: int = 0
    uplinks_heard: int = 0
    bytes_sent: int = 0
    tx_ms: float = 0.0
    awake_ms: float = 0.0
    downlinks: int = 0
    alarms: Counter = field(default_factory=Counter)
    faults_seen: Counter = field(default_factory=Counter)
    ports: Counter = field(default_factory=Counter)
    last_time_us: int = 0
    finished: bool = False


class RadioLinkHost:
    """Serves the radio link for a set of node worlds; one thread per connection.

    Reference runner: one connection per node process, and the `sleep` answer waits for the node's turn
    on the clock. Fast runner (`per_worker=True`): one connection per worker process hosting many nodes;
    `sleep` is answered at once, with the answer to the node's next `boot` when it says its reset cause
    (`next_reset_cause`), and the worker asks for a `turn` (its earliest wake) when that lies past the
    horizon it was granted, so the clock orders workers, not nodes. `done` says a node has ended.
    """

    def __init__(
        self,
        ns: NetworkServer,
        worlds: dict[str, NodeWorld],
        clock: SimClock,
        start: datetime,
        *,
        per_worker: bool = False,
        record_uplinks: bool = False,
    ):
        self.ns = ns
        self.per_worker = per_worker
        # (dev_eui, time_us, fcnt, fport, hex data) of every uplink the nodes sent, when asked for
        self.uplink_log: list[tuple[str, int, int, int, str]] | None = [] if record_uplinks else None
        self.worlds = worlds
        self.clock = clock
        self.start_at = start
        self.stats: dict[str, NodeStats] = {eui: NodeStats() for eui in worlds}
        self.errors: list[str] = []
        self._lock = threading.Lock()
        host = self

        class Handler(socketserver.StreamRequestHandler):
            def setup(self) -> None:
                super().setup()
                # one small line each way per message: without this, Nagle's algorithm holds a reply
                # until the peer's delayed ACK (tens of ms) whenever it follows another small write
                self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

            def handle(self) -> None:
                host._serve(self.rfile, self.wfile)

        class Server(socketserver.ThreadingTCPServer):
            daemon_threads = True
            allow_reuse_address = True

        self.server = Server(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.address = f"127.0.0.1:{self.port}"
        self._thread = threading.Thread(target=self.server.serve_forever, name="radio-link", daemon=True)

    def start(self) -> RadioLinkHost:
        self._thread.start()
        return self

    def stop(self) -> None:
        self.clock.stop()
        if self._thread.is_alive():  # shutdown() waits for serve_forever, which may never have started
            self.server.shutdown()
        self.server.server_close()

    def at(self, t_us: int) -> datetime:
        return self.start_at + timedelta(microseconds=t_us)

    # -- one connection ------------------------------------------------------------------------------
    def _serve(self, rfile, wfile) -> None:
        dev_eui = None
        worker = None
        try:
            while True:
                line = rfile.readline(MAX_LINE)
                if not line:
                    break
                try:
                    msg = json.loads(line)
                    if not isinstance(msg, dict):
                        raise ValueError("not a JSON object")
                    if "worker" in msg:
                        worker = worker_key(msg["worker"])
                    else:
                        dev_eui = str(msg.get("dev_eui", "")).lower() or dev_eui
                    reply = self.handle(msg)
                except (ValueError, KeyError, TypeError) as e:
                    err = f"radio link: bad message {line[:120]!r}: {type(e).__name__}: {e}"
                    with self._lock:
                        self.errors.append(err)
                    log.warning("%s", err)
                    reply = {"error": err}
                wfile.write(json.dumps(reply, separators=(",", ":")).encode() + b"\n")
                wfile.flush()
        except OSError:  # includes ConnectionError and TimeoutError
            pass
        finally:
            if worker:
                self.clock.retire(worker)
            elif dev_eui:
                self.clock.retire(dev_eui)
                if dev_eui in self.stats:
                    self.stats[dev_eui].finished = True

    def handle(self, msg: dict) -> dict:
        """Answer one radio-link message (also callable directly, for tests)."""
        op = msg.get("op")
        if op == "turn":  # fast runner: a worker's earliest wake; answered with how far it may run
            t_us = int(msg["time_us"])
            go = self.clock.wait_turn(worker_key(msg["worker"]), t_us)
            return {"continue": go, "horizon": self.clock.limit_us()}
        dev_eui = str(msg["dev_eui"]).lower()
        world = self.worlds.get(dev_eui)
        if world is None:
            raise KeyError(f"dev_eui {dev_eui} is not in the scenario")
        t_us = int(msg["time_us"])
        st = self.stats[dev_eui]
        st.last_time_us = max(st.last_time_us, t_us)
        if op == "done":
            st.finished = True
            return {}
        self.clock.observe(dev_eui, t_us)
        drain = getattr(self.ns.sink, "drain", None)
        if drain is not None and op in ("join", "uplink"):
            drain(dev_eui)  # the fleet has answered this node's earlier events (event_queue.py)
        if op == "boot":
            return self._boot(world, st, t_us, msg.get("reset_cause"))
        if op == "join":
            st.joins_tried += 1
            world.rx_windows += 2  # JOIN_ACCEPT_DELAY1/2: the modem listens twice
            heard = world.gateways_hearing(t_us, "join")
            dev_addr = self.ns.join(dev_eui, str(msg.get("join_eui", "")), self.at(t_us), heard)
            if dev_addr:
                st.joins_ok += 1
            return {"ok": dev_addr is not None, "dev_addr": dev_addr}
        if op == "uplink":
            data = bytes.fromhex(str(msg["data"]))
            fport = int(msg["fport"])
            st.uplinks_sent += 1
            world.rx_windows += 2  # RX1 and RX2 (Class A)
            st.bytes_sent += len(data)
            if self.uplink_log is not None:
                with self._lock:
                    self.uplink_log.append((dev_eui, t_us, int(msg["fcnt"]), fport, data.hex()))
            st.ports[fport] += 1
            self._count_alarms(st, fport, data)
            heard = world.gateways_hearing(t_us, f"up{msg.get('fcnt')}")
            reply = self.ns.uplink(
                dev_eui,
                f_port=fport,
                data=data,
                f_cnt=int(msg["fcnt"]),
                dr=int(msg.get("dr", 0)),
                confirmed=bool(msg.get("confirmed")),
                at=self.at(t_us),
                heard=heard,
                battery_pct=world.battery_pct(),
            )
            if heard:
                st.uplinks_heard += 1
            if reply.get("downlink"):
                st.downlinks += 1
            return reply
        if op == "sleep":
            awake_ms = float(msg.get("awake_ms", 0))
            tx_ms = float(msg.get("tx_ms", 0))
            sleep_ms = float(msg["sleep_ms"])
            world.spend(
                awake_ms,
                tx_ms,
                sleep_ms,
                sensor_ms=float(msg.get("sensor_ms", 0)),
                light_ms=float(msg.get("light_ms", 0)),
                # outputs released in deep sleep leak on top of the sleep current (sim machine.py _LEAK_UA)
                leak_ua=float(msg.get("sleep_leak_ua", 0)),
            )
            st.awake_ms += awake_ms
            st.tx_ms += tx_ms
            if world.empty:
                return {"continue": False}
            wake_us = t_us + int(sleep_ms * 1000)
            if self.per_worker:  # the worker asks for its turn itself, for all its nodes at once
                reply = {"continue": self.clock.may_run(wake_us)}
                if reply["continue"] and "next_reset_cause" in msg:
                    # the next boot's answer now: physics is a function of time and of the energy spent
                    # so far, both known here; the wake then needs no round trip of its own
                    reply["boot"] = self._boot(world, st, wake_us, msg["next_reset_cause"])
                return reply
            cont = self.clock.wait_turn(dev_eui, wake_us)
            return {"continue": cont}
        raise ValueError(f"unknown op {op!r} (expected boot, join, uplink or sleep)")

    def _boot(self, world: NodeWorld, st: NodeStats, t_us: int, reset_cause) -> dict:
        st.boots += 1
        st.reset_causes[str(reset_cause or "unknown")] += 1
        faults = world.faults(t_us)
        for kind in world.active_fault_kinds(t_us):
            st.faults_seen[kind] += 1
        return {"env": world.env(t_us), "faults": faults, "radio": world.radio_state(t_us)}

    def _count_alarms(self, st: NodeStats, fport: int, data: bytes) -> None:
        try:
            from protocols import codec
        except ImportError:
            return
        try:
            frame = codec.decode_uplink(fport, data)
        except Exception as e:  # a frame our own codec rejects is worth reporting, never fatal
            st.alarms[f"undecodable:{type(e).__name__}"] += 1
            return
        for flag in frame.get("flags", ()) or ():
            st.alarms[flag] += 1
