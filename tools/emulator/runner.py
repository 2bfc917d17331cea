"""Run a scenario: MicroPython processes running simboot, the host answering their radio link.

The runner wires the parts together: scenario -> node worlds (physics) -> radio link host (with the
simulated clock) -> simulated network server -> events to the fleet (HTTP) and the gRPC API for the
fleet's downlinks. Firmware and protocols are precompiled to .mpy once, so each boot only loads bytecode.

Two ways to run the nodes, same bytes on the air (tests/tools/emulator/test_fast_runner.py):
- fast (default): a few worker processes (`simboot.py --many`), each hosting a share of the nodes and
  booting them in wake-time order, every wake a fresh boot (simboot.run_many);
- reference (`reference=True`, `kumpel emu run --reference`): one process per node (simboot.run).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path

from tools.emulator.chirpstack_grpc import GrpcApi
from tools.emulator.event_queue import OrderedEventQueue
from tools.emulator.network_server import EventSink, HttpEventPoster, MemorySink, NetworkServer
from tools.emulator.physics import NodeWorld
from tools.emulator.radio_link import RadioLinkHost, SimClock, worker_key
from tools.emulator.scenario import NodeSpec, Scenario

log = logging.getLogger(__name__)
ROOT = Path(__file__).resolve().parents[2]
SIM_DIR = ROOT / "tools" / "emulator" / "sim"
FIRMWARE_DIR = ROOT / "firmware"
PROTOCOLS_DIR = ROOT / "protocols"
# Heap of each node process. The firmware's own budget is 64 KB (checked by the firmware tests); here the
# simulated hardware layer (sim modules, radio-link buffers) lives in the same heap, so it needs more.
HEAP = os.environ.get("KUMPEL_EMU_HEAP", "192k")
# Native-LoRaWAN boards also carry the SX1262 chip model and the LoRaWAN network server (sim/simnative.py),
# and the firmware's LoRaWAN stack is larger than the AT driver (firmware/README.md figures).
HEAP_NATIVE = os.environ.get("KUMPEL_EMU_HEAP_NATIVE", "320k")


def heap_for(board: str) -> str:
    from protocols.hardware import NATIVE_BOARDS

    return HEAP_NATIVE if board in NATIVE_BOARDS else HEAP


NICE = ["nice", "-n", "10"] if shutil.which("nice") else []  # see Emulation._spawn
# Fast runner: how far a worker may run ahead of the slowest one. Nodes do not hear each other, and each
# node's own events reach the fleet in order with the fleet's answers in its next receive window
# (event_queue.py), so this bounds only how far apart in simulated time the fleet sees two different
# nodes' events. At 60 s (the reference's) a worker whose next node wakes in 15 minutes waits for the
# others to get there; half an hour lets workers run side by side (on a machine at load 13 the two
# measured the same: there the cores, not the turns, were the limit).
FAST_LOOKAHEAD_S = float(os.environ.get("KUMPEL_EMU_LOOKAHEAD_S", "1800"))
# Fast runner: heap of a worker process = the single node's heap + this much per hosted node (its world:
# state, modem and sensor models, energy and native-radio models, its copy of the sim layer's module state).
# 12 KB ran 20 nodes out of memory after the native-LoRaWAN merge; a MemoryError is reported (summary).
HEAP_PER_NODE_KB = int(os.environ.get("KUMPEL_EMU_HEAP_PER_NODE_KB", "32"))
# Nodes per worker process at most: the firmware collects garbage several times a wake, and each
# collection marks every idle node's world in that heap, so a smaller share per process keeps it cheap.
# 100 nodes x 0.5 d, CPU per wake cycle over the floor's: 2.19 with 33 nodes per worker, 1.76 with 20;
# memory ~190 vs ~280 KB per node.
NODES_PER_WORKER = int(os.environ.get("KUMPEL_EMU_NODES_PER_WORKER", "20"))


class EmulatorError(RuntimeError):
    """The emulation cannot start or run; the message says what is missing."""


def _tool(name: str) -> str:
    """The venv's command beside this Python, else PATH."""
    path = Path(sys.executable).parent / name
    if path.exists():
        return str(path)
    found = shutil.which(name)
    if not found:
        raise EmulatorError(f"{name} not found: run `make setup` (it installs the dev extras)")
    return found


def build_mpy_cache(cache_root: Path | None = None) -> Path:
    """Compile sim/, firmware/ and protocols/ to .mpy once per source version; returns the MICROPYPATH folder.

    The cache key is a hash of every source file, so an edited file gives a fresh cache and an unchanged
    tree reuses it across runs. Source compiled on the device would need more than the 64 KB heap.
    main.py and simboot.py stay source: they run as scripts, not imports.
    """
    sources = sorted(
        p
        for d in (FIRMWARE_DIR, PROTOCOLS_DIR, SIM_DIR)
        for p in d.rglob("*.py")
        if "__pycache__" not in p.parts
    )
    digest = hashlib.sha256()
    for p in sources:
        digest.update(str(p.relative_to(ROOT)).encode())
        digest.update(p.read_bytes())
    cache_root = cache_root or Path(os.environ.get("KUMPEL_EMU_CACHE", ROOT / "var" / "emu-cache"))
    out = cache_root / digest.hexdigest()[:16]
    if (out / ".complete").exists():
        return out
    tmp = Path(tempfile.mkdtemp(prefix="mpy-", dir=cache_root if cache_root.exists() else None))
    mpy_cross = _tool("mpy-cross")
    for p in sources:
        if p.is_relative_to(FIRMWARE_DIR):
            rel = p.relative_to(FIRMWARE_DIR)
        elif p.is_relative_to(SIM_DIR):  # machine.py, time.py, simworld.py ... at the top, like firmware
            rel = p.relative_to(SIM_DIR)
        else:
            rel = p.relative_to(ROOT)
        dest = tmp / rel
        dest.parent.mkdir(parents=True, exist_ok=True)
        if rel in (Path("main.py"), Path("simboot.py")):  # scripts, run as source (simboot finds main.py)
            shutil.copy2(p, dest)
            continue
        # protocols/*.json vectors etc. are not needed on the device; only code is compiled
        r = subprocess.run(
            [mpy_cross, "-o", str(dest.with_suffix(".mpy")), str(p)], capture_output=True, text=True
        )
        if r.returncode != 0:
            raise EmulatorError(f"mpy-cross failed on {p.relative_to(ROOT)}: {r.stderr.strip()}")
    (tmp / ".complete").write_text(json.dumps({"files": len(sources)}))
    cache_root.mkdir(parents=True, exist_ok=True)
    try:
        tmp.rename(out)
    except OSError:  # another run built the same cache meanwhile
        shutil.rmtree(tmp, ignore_errors=True)
    return out


@dataclass
class NodeProcess:
    """A node (reference runner: its own process; fast runner: proc stays None, see WorkerProcess)."""

    spec: NodeSpec
    folder: Path
    proc: subprocess.Popen | None = None
    log_path: Path | None = None
    pss_kb_peak: int = 0

    def sample_pss(self) -> int | None:
        """Proportional memory (PSS: shared pages of the binary split between the node processes) of the
        node's MicroPython process from Linux /proc, tracking the peak."""
        if self.proc is None or self.proc.poll() is not None:
            return None
        try:
            with open(f"/proc/{self.proc.pid}/smaps_rollup") as f:
                for line in f:
                    if line.startswith("Pss:"):
                        kb = int(line.split()[1])
                        self.pss_kb_peak = max(self.pss_kb_peak, kb)
                        return kb
        except OSError:
            return None
        return None


@dataclass
class WorkerProcess(NodeProcess):
    """A fast-runner process hosting `nodes` (spec is its first node, folder its own folder)."""

    key: str = ""
    nodes: list[NodeProcess] | None = None


class Emulation:
    """One scenario run; start(), then wait() or stop(); summary() any time."""

    def __init__(
        self,
        scenario: Scenario,
        *,
        days: float | None = None,
        fleet_url: str | None = None,
        ingest_token: str | None = None,
        api_token: str | None = None,
        speed: float | None = None,
        application_id: str = "kumpel-sim-app",
        device_profile_id: str = "kumpel-sim-profile",
        workdir: Path | None = None,
        sink: EventSink | None = None,
        start: datetime | None = None,
        lookahead_s: float | None = None,
        register_devices: bool = True,
        grpc_port: int = 0,
        reference: bool = False,
        workers: int | None = None,
        record_uplinks: bool = False,
    ):
        if start is not None:
            scenario = replace(scenario, start=start)
        self.scenario = scenario
        self.days = days if days is not None else scenario.days
        self.end_us = int(self.days * 86400 * 1_000_000)
        self.reference = reference
        self.poster = HttpEventPoster(fleet_url, ingest_token) if fleet_url else None
        self.sink: EventSink = sink or self.poster or MemorySink()
        # fast runner: posts leave the radio link's path, in order per device (event_queue.py)
        self.events: OrderedEventQueue | None = None
        if self.poster is not None and sink is None and not reference:
            self.events = OrderedEventQueue(self.poster)
            self.sink = self.events
        self.ns = NetworkServer(
            self.sink, application_id=application_id, device_profile_id=device_profile_id, seed=scenario.seed
        )
        if register_devices:  # as if an operator had added them in ChirpStack already
            for n in scenario.nodes:
                self.ns.register(n.dev_eui, name=n.name, join_eui=n.join_eui, app_key=n.app_key)
        if fleet_url is None and sink is None and register_devices:
            self._queue_initial_config()
        self.worlds = {n.dev_eui: NodeWorld(n, scenario) for n in scenario.nodes}
        if lookahead_s is None:
            lookahead_s = 60.0 if reference else FAST_LOOKAHEAD_S
        self.clock = SimClock(self.end_us, lookahead_us=int(lookahead_s * 1e6), speed=speed)
        self.link = RadioLinkHost(
            self.ns,
            self.worlds,
            self.clock,
            scenario.start,
            per_worker=not reference,
            record_uplinks=record_uplinks,
        )
        self.n_workers = workers
        self.grpc = GrpcApi(self.ns, api_token=api_token, port=grpc_port)
        self._own_workdir = workdir is None
        # absolute: each node process changes into its own flash folder before it reads its world file
        self.workdir = Path(workdir or tempfile.mkdtemp(prefix="kumpel-emu-")).resolve()
        self.nodes: list[NodeProcess] = []
        self.procs: list[NodeProcess] = []  # what runs: one per node (reference) or the workers
        self.started_at: float | None = None
        self.finished_at: float | None = None
        self._watch: threading.Thread | None = None
        self._cache: Path | None = None  # the .mpy tree, built once on first use
        self._memory_checked: list[str] | None = None

    def _queue_initial_config(self) -> None:
        """Without a fleet, the scenario's settings reach each node the way a fleet would send them:
        as a config downlink (version 1) in the receive window after its first uplink."""
        from protocols import codec

        for n in self.scenario.nodes:
            if n.config:
                frame = codec.encode_config({"config_version": 1, "settings": dict(n.config)})
                self.ns.enqueue(n.dev_eui, f_port=codec.PORT_CONFIG, data=frame)

    # -- lifecycle -----------------------------------------------------------------------------------
    def start(self) -> Emulation:
        return self.start_services().start_nodes()

    def start_services(self) -> Emulation:
        """Network server side first (gRPC API, radio link), so a fleet can register devices before boots."""
        self.grpc.start()
        self.link.start()
        return self

    def start_nodes(self) -> Emulation:
        if not (SIM_DIR / "simboot.py").exists():
            raise EmulatorError(
                f"{SIM_DIR.relative_to(ROOT)}/simboot.py is missing: the simulated hardware "
                "layer (firmware issue) has not landed in this checkout"
            )
        self._cache = build_mpy_cache()
        self.started_at = time.monotonic()
        if not self.reference:
            return self._start_workers(self._cache)
        for spec in self.scenario.nodes:
            self.clock.expect(spec.dev_eui, self.first_boot_us(spec))
        for spec in self.scenario.nodes:
            node = self._prepare(spec)
            self._spawn(node, self._cache)
            self.nodes.append(node)
            self.procs.append(node)
        return self

    def worker_count(self) -> int:
        """Workers: at least one per core, more when the nodes would crowd a heap (NODES_PER_WORKER)."""
        n = len(self.scenario.nodes)
        if self.n_workers:
            return max(1, min(self.n_workers, n))
        cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
        return max(1, min(n, max(cores, -(-n // NODES_PER_WORKER))))

    def _start_workers(self, cache: Path) -> Emulation:
        """Fast runner: deal the nodes round-robin to worker processes, each `simboot.py --many`."""
        self.nodes = [self._prepare(spec) for spec in self.scenario.nodes]
        count = self.worker_count()
        shares = [self.nodes[i::count] for i in range(count)]
        for i, share in enumerate(shares):
            key = worker_key(i)
            self.clock.expect(key, min(self.first_boot_us(n.spec) for n in share))
            folder = self.workdir / f"worker-{i}"
            folder.mkdir(parents=True, exist_ok=True)
            spec_path = folder / "nodes.json"
            spec_path.write_text(
                json.dumps(
                    {
                        "worker": i,
                        "nodes": [
                            [str(n.folder / "world.json"), str(n.folder / "flash"), str(n.log_path)]
                            for n in share
                        ],
                    }
                )
            )
            heap_kb = max(_kb(heap_for(n.spec.board)) for n in share) + HEAP_PER_NODE_KB * len(share)
            worker = WorkerProcess(
                spec=share[0].spec, folder=folder, log_path=folder / "worker.log", key=key, nodes=share
            )
            env = dict(os.environ)
            env.pop("KUMPEL_SIM_RADIO", None)  # one link per worker, not one per world
            env["MICROPYPATH"] = os.pathsep.join([str(cache), ".frozen"])
            env["KUMPEL_SIM_HOST"] = self.link.address
            cmd = [*NICE, _tool("micropython"), "-X", f"heapsize={heap_kb}k", str(cache / "simboot.py")]
            cmd += ["--many", str(spec_path)]
            with open(worker.log_path, "wb") as out:
                worker.proc = subprocess.Popen(
                    cmd, cwd=folder, env=env, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL
                )
            self.procs.append(worker)
        return self

    def selftest(self, spec: NodeSpec, code: str, timeout_s: float = 60.0) -> str:
        """Run `code` (the node tool's self-test snippet) once on this node's simulated hardware, as
        `kumpel node verify` does on a board at the depot, and return what it printed. It runs on a scratch
        copy of the node, so the node itself still powers on untouched at its install time."""
        self._cache = self._cache or build_mpy_cache()
        node = self._prepare(spec)
        with tempfile.TemporaryDirectory(prefix="kumpel-selftest-") as tmp:
            scratch = Path(tmp) / "node"
            shutil.copytree(node.folder, scratch)
            env = dict(os.environ)
            env.pop("KUMPEL_SIM_RADIO", None)  # offline: a self-test sends nothing
            env.update(
                MICROPYPATH=os.pathsep.join([str(self._cache), ".frozen"]),
                KUMPEL_SIM_EXEC=code,
                KUMPEL_SIM_CYCLES="1",
            )
            cmd = [
                _tool("micropython"),
                "-X",
                f"heapsize={heap_for(spec.board)}",
                str(self._cache / "simboot.py"),
            ]
            cmd += [str(scratch / "world.json"), str(scratch / "flash")]
            try:
                done = subprocess.run(
                    cmd, cwd=scratch / "flash", env=env, capture_output=True, text=True, timeout=timeout_s
                )
            except subprocess.TimeoutExpired as exc:
                raise EmulatorError(f"{spec.name}: self-test did not finish in {timeout_s:g} s") from exc
        return done.stdout + done.stderr

    def first_boot_us(self, spec: NodeSpec) -> int:
        """Nodes are installed one after another: power-on spread over the first 15 minutes (seeded)."""
        return int(self.worlds[spec.dev_eui].rng(0, "install").uniform(0, 900) * 1_000_000)

    def _prepare(self, spec: NodeSpec) -> NodeProcess:
        folder = self.workdir / spec.dev_eui
        flash = folder / "flash"
        flash.mkdir(parents=True, exist_ok=True)
        (flash / "provision.json").write_text(json.dumps(spec.provision()))
        t0 = self.first_boot_us(spec)
        world = {
            "dev_eui": spec.dev_eui,
            "start_iso": self.scenario.start.isoformat(),
            "time_us": t0,
            "end_us": self.end_us,
            "env": self.worlds[spec.dev_eui].env(t0),
            "faults": {},
            "radio": self.worlds[spec.dev_eui].radio_state(t0),
            "devices": device_kinds(spec),
        }
        (folder / "world.json").write_text(json.dumps(world))
        return NodeProcess(spec=spec, folder=folder, log_path=folder / "node.log")

    def _spawn(self, node: NodeProcess, cache: Path) -> None:
        env = dict(os.environ)
        env["MICROPYPATH"] = os.pathsep.join([str(cache), ".frozen"])  # sim + firmware + protocols as .mpy
        env["KUMPEL_SIM_RADIO"] = self.link.address
        env["KUMPEL_SIM_WORLD"] = str(node.folder / "world.json")
        env["KUMPEL_SIM_FLASH"] = str(node.folder / "flash")
        # Nodes run niced: they are the load generator, and the fleet under test (often in this very
        # process) must not be starved by them, or its answers time out on the emulator's own load.
        cmd = [
            *NICE,
            _tool("micropython"),
            "-X",
            f"heapsize={heap_for(node.spec.board)}",
            str(cache / "simboot.py"),
            str(node.folder / "world.json"),
            str(node.folder / "flash"),
        ]
        assert node.log_path is not None
        with open(node.log_path, "wb") as out:
            node.proc = subprocess.Popen(
                cmd,
                cwd=node.folder / "flash",
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
            )

    def running(self) -> int:
        """Nodes still running."""
        if self.reference:
            return sum(1 for n in self.procs if n.proc is not None and n.proc.poll() is None)
        alive = [w for w in self.procs if w.proc is not None and w.proc.poll() is None]
        return sum(
            1
            for w in alive
            for n in (w.nodes or ())  # type: ignore[attr-defined]
            if not self.link.stats[n.spec.dev_eui].finished
        )

    def _alive(self) -> bool:
        return any(p.proc is not None and p.proc.poll() is None for p in self.procs)

    def wait(self, timeout_s: float | None = None, on_progress=None, every_s: float = 0.5) -> bool:
        """Wait until every node process ended (False on timeout); calls `on_progress(self)` meanwhile."""
        deadline = None if timeout_s is None else time.monotonic() + timeout_s
        last_pss = time.monotonic() - 1.0  # first sample after a second: a fresh process is not yet its size
        while self._alive():
            if time.monotonic() - last_pss > 2.0:
                last_pss = time.monotonic()
                for n in self.procs:
                    n.sample_pss()
            for n in self.procs:  # a process that died never says goodbye on its link
                if n.proc is not None and n.proc.poll() is not None:
                    self.clock.retire(n.key if isinstance(n, WorkerProcess) else n.spec.dev_eui)
            if on_progress:
                on_progress(self)
            if deadline is not None and time.monotonic() > deadline:
                return False
            time.sleep(every_s)
        if self.events is not None:  # every event answered by the fleet before the run counts as done
            self.events.drain(timeout_s=None if deadline is None else max(0.0, deadline - time.monotonic()))
        self.finished_at = time.monotonic()
        if on_progress:
            on_progress(self)
        return True

    def stop(self) -> None:
        self.clock.stop()
        for n in self.procs:
            if n.proc is not None and n.proc.poll() is None:
                n.proc.terminate()
        for n in self.procs:
            if n.proc is not None:
                try:
                    n.proc.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    n.proc.kill()
        self.finished_at = self.finished_at or time.monotonic()
        self.link.stop()
        self.grpc.stop()
        if self.events is not None:
            self.events.close()
        if self.poster is not None:
            self.poster.close()

    def cleanup(self) -> None:
        if self._own_workdir:
            shutil.rmtree(self.workdir, ignore_errors=True)

    def node_log(self, dev_eui: str) -> str:
        for n in self.nodes:
            if n.spec.dev_eui == dev_eui and n.log_path and n.log_path.exists():
                return n.log_path.read_text(errors="replace")
        return ""

    # -- figures -------------------------------------------------------------------------------------
    def sim_now_us(self) -> int:
        return max((s.last_time_us for s in self.link.stats.values()), default=0)

    def summary(self) -> dict:
        days = max(self.sim_now_us() / 86400e6, 1e-9)
        wall = (self.finished_at or time.monotonic()) - (self.started_at or time.monotonic())
        per_node = []
        for spec in self.scenario.nodes:
            st = self.link.stats[spec.dev_eui]
            ns_dev = self.ns.get(spec.dev_eui)
            world = self.worlds[spec.dev_eui]
            per_node.append(
                {
                    "dev_eui": spec.dev_eui,
                    "name": spec.name,
                    "boots": st.boots,
                    "reset_causes": dict(st.reset_causes),
                    "joins": st.joins_ok,
                    "join_attempts": st.joins_tried,
                    "uplinks": st.uplinks_sent,
                    "uplinks_heard": st.uplinks_heard,
                    "fleet_uplinks": ns_dev.stats["uplinks"] if ns_dev else 0,
                    "bytes": st.bytes_sent,
                    "airtime_s_per_day": round(st.tx_ms / 1000 / days, 2),
                    "downlinks": st.downlinks,
                    "alarms": dict(st.alarms),
                    "faults_seen": dict(st.faults_seen),
                    "battery_pct": round(world.battery_pct(), 2),
                    "battery_v": world.battery_v(self.sim_now_us()),
                }
            )
        boots = sum(n["boots"] for n in per_node)
        out = {
            "scenario": self.scenario.name,
            "nodes": len(per_node),
            "simulated_days": round(days, 3),
            "wall_s": round(wall, 2),
            "wake_cycles": boots,
            "wake_cycles_per_s": round(boots / wall, 1) if wall > 0 else None,
            "uplinks": sum(n["uplinks"] for n in per_node),
            "bytes": sum(n["bytes"] for n in per_node),
            "joins": sum(n["joins"] for n in per_node),
            "downlinks": sum(n["downlinks"] for n in per_node),
            "pss_kb_peak_per_node": self.pss_kb_per_node(),
            "runner": "reference" if self.reference else f"fast ({len(self.procs)} worker processes)",
            "link_errors": list(self.link.errors[:5]) + self._memory_errors(),
            "per_node": per_node,
        }
        if self.poster is not None:
            out["fleet"] = {
                "posted": self.poster.posted,
                "failed": self.poster.failed,
                "last_error": self.poster.last_error,
            }
        return out

    def _memory_errors(self) -> list[str]:
        """Fast runner, once the run is over: a worker's heap that ran out changes what the firmware
        does (a MemoryError in its cycle), so it is an error of the run, not a quirk to miss in a log."""
        if self.reference or self.finished_at is None:
            return []
        if self._memory_checked is None:
            self._memory_checked = []
            for p in self.procs:
                logs = [p.log_path] + [n.log_path for n in (getattr(p, "nodes", None) or ())]
                if any(lg and lg.exists() and b"MemoryError" in lg.read_bytes() for lg in logs):
                    self._memory_checked.append(
                        f"{p.folder.name}: MemoryError in a node's heap (raise KUMPEL_EMU_HEAP_PER_NODE_KB)"
                    )
        return self._memory_checked

    def pss_kb_per_node(self) -> int:
        """Memory per node: the peak PSS of a node process (reference), or the workers' peaks shared out."""
        if self.reference:
            return max((n.pss_kb_peak for n in self.procs), default=0)
        total = sum(w.pss_kb_peak for w in self.procs)
        return round(total / max(1, len(self.nodes)))


def _kb(size: str) -> int:
    """'192k' / '2m' / '196608' -> KiB."""
    size = size.strip().lower()
    if size.endswith("k"):
        return int(size[:-1])
    if size.endswith("m"):
        return int(size[:-1]) * 1024
    return int(size) // 1024


def device_kinds(spec: NodeSpec) -> dict:
    return {"ultrasonic": spec.ultrasonic, "climate": spec.climate, "board": spec.board}
