"""Emulator figures: wake cycles per second, N nodes x D days with the fleet attached, memory per node.

python -m tools.emulator.bench --nodes 1 --days 7               # one node, offline
python -m tools.emulator.bench --nodes 100 --days 1 --fleet     # real fleet on uvicorn + SQLite
"""

from __future__ import annotations

import argparse
import json
import resource
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from tools.emulator.local_fleet import LocalFleet
from tools.emulator.runner import Emulation
from tools.emulator.scenario import load


def _cpu_s() -> tuple[float, float]:
    """(CPU seconds of ended child processes, CPU seconds of this process), user + system."""
    ch = resource.getrusage(resource.RUSAGE_CHILDREN)
    me = resource.getrusage(resource.RUSAGE_SELF)
    return ch.ru_utime + ch.ru_stime, me.ru_utime + me.ru_stime


def measure(
    scenario: str,
    nodes: int,
    days: float,
    with_fleet: bool,
    reference: bool = False,
    workers: int | None = None,
) -> dict:
    sc = load(scenario).with_nodes(nodes)
    fleet = None
    t0 = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="kumpel-bench-") as tmp:
        if with_fleet:
            fleet = LocalFleet(data_dir=Path(tmp) / "fleet", grpc_target="", sweep_interval_s=0)
            emu = Emulation(
                sc,
                days=days,
                fleet_url="http://127.0.0.1:1",
                ingest_token=fleet.ingest_token,
                api_token=fleet.grpc_api_token,
                start=datetime.now(UTC),
                register_devices=False,
                workdir=Path(tmp) / "nodes",
                reference=reference,
                workers=workers,
            )
            emu.start_services()
            fleet.grpc_target = emu.grpc.target
            fleet.start()
            emu.poster.url = f"{fleet.url}/integrations/chirpstack"
            fleet.provision(sc.nodes)
        else:
            emu = Emulation(
                sc, days=days, workdir=Path(tmp) / "nodes", reference=reference, workers=workers
            ).start_services()
        setup_s = time.monotonic() - t0
        cpu0 = _cpu_s()
        try:
            emu.start_nodes()
            emu.wait(every_s=0.1)
        finally:
            emu.stop()  # reaps the node processes: their CPU time counts from here
            cpu = _cpu_s()
            if fleet is not None:
                fleet.stop()
        s = emu.summary()
    return {
        "scenario": scenario,
        "nodes": nodes,
        "days": days,
        "fleet": with_fleet,
        "setup_s": round(setup_s, 1),
        "run_s": s["wall_s"],
        "wake_cycles": s["wake_cycles"],
        "wake_cycles_per_s": s["wake_cycles_per_s"],
        "uplinks": s["uplinks"],
        "pss_kb_peak_per_node": s["pss_kb_peak_per_node"],
        "runner": s["runner"],
        # CPU seconds of the run: node processes + this process (radio link host; with --fleet also
        # the fleet's ingest, which runs in this process)
        "cpu_nodes_s": round(cpu[0] - cpu0[0], 2),
        "cpu_host_s": round(cpu[1] - cpu0[1], 2),
        "link_errors": s["link_errors"],
        "events": s.get("fleet"),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scenario", default="district")
    ap.add_argument("--nodes", type=int, default=1)
    ap.add_argument("--days", type=float, default=1.0)
    ap.add_argument("--fleet", action="store_true", help="attach the real fleet manager")
    ap.add_argument("--reference", action="store_true", help="one process per node (the reference runner)")
    a = ap.parse_args()
    print(json.dumps(measure(a.scenario, a.nodes, a.days, a.fleet, a.reference), indent=2))


if __name__ == "__main__":
    main()
