"""Emulator speed against its floor: wake cycles per second for 1 / 100 / 1,000 nodes, memory per node.

    .venv/bin/python bench/emulator.py                        # floor, 1 x 7 d, 100 x 1 d, 1,000 x 1 d + fleet
    .venv/bin/python bench/emulator.py --sizes 1,100 --no-fleet
    .venv/bin/python bench/emulator.py --idle 10000           # memory per idle node with 10,000 nodes
    .venv/bin/python bench/emulator.py --year                 # one node x 365 days
    .venv/bin/python bench/emulator.py --reference 100        # the one-process-per-node runner, for scale

The floor is one wake cycle of the firmware alone: `simboot.py` running one node offline (no radio link,
no clock, no other process) in one MicroPython process on the simulated hardware, over --days (one day:
96 wake cycles, the join among them, as each node of the runs has) minus the process start-up (a run
whose one boot executes `pass`). The runs use the fast runner
(tools/emulator/runner.py), whose workers share the machine's cores; "per core" divides by the cores it
could use, and the ratio is the emulator's cost per wake cycle per core over the floor's (target <= 2).
The floor is measured before and after the runs and averaged: on a shared machine both move with the load.
So CPU time is printed too (user + system of the node processes and of this process, which hosts the
radio link and, with the fleet attached, the fleet's ingest): its ratio to the floor's CPU time per wake
cycle holds still when other jobs share the cores.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tools.emulator.bench import measure  # noqa: E402
from tools.emulator.runner import HEAP, NICE, Emulation, _tool, build_mpy_cache  # noqa: E402
from tools.emulator.scenario import load  # noqa: E402

CORES = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def floor(scenario: str = "district", days: float = 1.0, heap_figures: bool = False) -> dict:
    """Seconds per wake cycle of one node's firmware in one MicroPython process, offline.

    Without heap figures by default, as in the fast runner's workers: the sim layer's heap sampling at
    every clock step is a measurement for the firmware tests (walking the heap each time), not part of
    running the firmware; `heap_figures=True` gives simboot's cost as it runs by default."""
    sc = load(scenario).with_nodes(1)
    cache = build_mpy_cache()
    with tempfile.TemporaryDirectory(prefix="kumpel-floor-") as tmp:
        emu = Emulation(sc, days=days, workdir=Path(tmp) / "w")
        pristine = emu._prepare(sc.nodes[0]).folder
        emu.stop()

        def once(exec_code: str | None) -> tuple[float, float, int]:
            run = Path(tmp) / f"run-{bool(exec_code)}"
            shutil.copytree(pristine, run)
            env = dict(os.environ, MICROPYPATH=str(cache))
            env.pop("KUMPEL_SIM_RADIO", None)
            if exec_code:
                env["KUMPEL_SIM_EXEC"] = exec_code
            if not heap_figures:
                env["KUMPEL_SIM_HEAP_FIGURES"] = "0"
            # niced like the runner's workers, so both get the same share of a busy machine
            cmd = [*NICE, _tool("micropython"), "-X", f"heapsize={HEAP}", str(cache / "simboot.py")]
            t0 = time.perf_counter()
            c0 = _children_cpu_s()
            subprocess.run(
                [*cmd, str(run / "world.json"), str(run / "flash")],
                cwd=run / "flash",
                env=env,
                check=True,
                capture_output=True,
            )
            wall = time.perf_counter() - t0
            cpu = _children_cpu_s() - c0
            return wall, cpu, json.loads((run / "world.json").read_text())["stats"]["cycles"]

        start_s, start_cpu, _ = once("pass")  # process start, sim layer, world file, one empty boot
        wall, cpu, cycles = once(None)
    per_cycle = (wall - start_s) / max(1, cycles)
    cpu_per_cycle = (cpu - start_cpu) / max(1, cycles)
    return {
        "cycles": cycles,
        "wall_s": round(wall, 2),
        "startup_s": round(start_s, 2),
        "s_per_cycle": per_cycle,
        "cpu_s_per_cycle": cpu_per_cycle,
    }


def _children_cpu_s() -> float:
    ch = resource.getrusage(resource.RUSAGE_CHILDREN)
    return ch.ru_utime + ch.ru_stime


def idle_memory(nodes: int) -> dict:
    """PSS per node with `nodes` nodes loaded in the fast runner's workers, asleep before their first wake."""
    sc = load("district").with_nodes(nodes)
    with tempfile.TemporaryDirectory(prefix="kumpel-idle-") as tmp:
        emu = Emulation(sc, days=1, workdir=Path(tmp) / "nodes", start=datetime.now(UTC))
        emu.start_services()
        emu.clock.hold(0)  # nobody wakes: the workers load every node's world, then wait for a turn
        t0 = time.monotonic()
        try:
            emu.start_nodes()
            while not emu.clock.at_barrier():
                time.sleep(0.5)
            loaded_s = time.monotonic() - t0
            for w in emu.procs:
                w.sample_pss()
            total_kb = sum(w.pss_kb_peak for w in emu.procs)
        finally:
            emu.stop()
    return {
        "nodes": nodes,
        "workers": len(emu.procs),
        "load_s": round(loaded_s, 1),
        "pss_mb_total": round(total_kb / 1024, 1),
        "kb_per_node": round(total_kb / nodes, 1),
    }


def run(nodes: int, days: float, fleet: bool, reference: bool = False) -> dict:
    r = measure("district", nodes, days, fleet, reference=reference)
    workers = int(r["runner"].split("(")[1].split()[0]) if "(" in r["runner"] else nodes
    r["cores_used"] = min(CORES, workers)
    r["s_per_cycle_per_core"] = r["run_s"] * r["cores_used"] / max(1, r["wake_cycles"])
    r["cpu_s_per_cycle"] = (r["cpu_nodes_s"] + r["cpu_host_s"]) / max(1, r["wake_cycles"])
    return r


def _row(r: dict, floor_s: float, floor_cpu: float) -> str:
    what = f"{r['nodes']} x {r['days']:g} d" + (" + fleet" if r["fleet"] else "")
    what += " (reference)" if r["runner"] == "reference" else ""
    if r["events"]:
        what += f", events {r['events']['posted']} posted / {r['events']['failed']} failed"
    return (
        f"| {what} | {r['run_s']:.1f} | {r['wake_cycles']} | {r['wake_cycles_per_s']} |"
        f" {r['cores_used']} | {r['s_per_cycle_per_core'] * 1000:.2f} |"
        f" {r['s_per_cycle_per_core'] / floor_s:.2f} | {r['cpu_s_per_cycle'] * 1000:.2f}"
        f" ({r['cpu_nodes_s']:.0f} + {r['cpu_host_s']:.0f} s) | {r['cpu_s_per_cycle'] / floor_cpu:.2f} |"
        f" {r['pss_kb_peak_per_node']} |"
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="1,100,1000", help="node counts (1 node runs --one-days)")
    ap.add_argument("--days", type=float, default=1.0)
    ap.add_argument("--one-days", type=float, default=7.0, help="simulated days of the 1-node run")
    ap.add_argument("--no-fleet", action="store_true", help="no fleet attached to the 1,000-node run")
    ap.add_argument("--idle", type=int, default=0, help="also: memory per idle node with this many nodes")
    ap.add_argument("--year", action="store_true", help="also: one node x 365 days")
    ap.add_argument("--reference", type=int, default=0, help="also: the reference runner with N nodes")
    ap.add_argument("--json", type=Path, help="write the figures here too")
    a = ap.parse_args()
    load_avg = os.getloadavg()[0]
    print(f"{CORES} cores, load average {load_avg:.1f} at start; {datetime.now(UTC):%Y-%m-%d %H:%M} UTC")
    f0 = floor(days=a.days)
    print(
        f"floor (before): {f0['s_per_cycle'] * 1000:.2f} ms wall, {f0['cpu_s_per_cycle'] * 1000:.2f} ms CPU"
        f" per wake cycle ({f0['cycles']} cycles)"
    )
    runs = []
    for n in [int(x) for x in a.sizes.split(",") if x]:
        days = a.one_days if n == 1 else a.days
        fleet = n >= 1000 and not a.no_fleet
        r = run(n, days, fleet)
        runs.append(r)
        print(_row(r, f0["s_per_cycle"], f0["cpu_s_per_cycle"]), r["runner"], "(ratios to the floor before)")
    if a.year:
        r = run(1, 365, False)
        runs.append(r)
        print(f"     1 node x 365 d: {r['run_s']:.1f} s, {r['wake_cycles_per_s']} wake cycles/s")
    if a.reference:
        r = run(a.reference, a.days, False, reference=True)
        runs.append(r)
        print(f"{a.reference:>6} nodes x {a.days:g} d, reference runner: {r['run_s']:.1f} s")
    f1 = floor(days=a.days)
    print(
        f"floor (after):  {f1['s_per_cycle'] * 1000:.2f} ms wall, {f1['cpu_s_per_cycle'] * 1000:.2f} ms CPU"
        " per wake cycle"
    )
    fh = floor(days=a.days, heap_figures=True)
    print(f"simboot with heap sampling at each clock step: {fh['s_per_cycle'] * 1000:.2f} ms per wake cycle")
    floor_s = (f0["s_per_cycle"] + f1["s_per_cycle"]) / 2
    floor_cpu = (f0["cpu_s_per_cycle"] + f1["cpu_s_per_cycle"]) / 2
    idle = idle_memory(a.idle) if a.idle else None
    print()
    print(
        f"floor: {floor_s * 1000:.2f} ms wall = {1 / floor_s:.0f} wake cycles/s on one core;"
        f" {floor_cpu * 1000:.2f} ms CPU per wake cycle"
    )
    print(
        "| run | wall s | wake cycles | cycles/s | cores | wall ms per cycle per core | ratio to floor (wall)"
        " | CPU ms per cycle (nodes + host) | ratio to floor (CPU) | PSS KB/node |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|")
    for r in runs:
        print(_row(r, floor_s, floor_cpu))
    if idle:
        print(
            f"idle: {idle['nodes']} nodes in {idle['workers']} workers: {idle['pss_mb_total']} MB PSS,"
            f" {idle['kb_per_node']} KB per node (loaded in {idle['load_s']} s)"
        )
    print(f"load average {os.getloadavg()[0]:.1f} at the end (start {load_avg:.1f})")
    if a.json:
        figures = {"floor": [f0, f1], "floor_with_heap": fh, "floor_s": floor_s, "floor_cpu_s": floor_cpu}
        a.json.write_text(json.dumps({**figures, "runs": runs, "idle": idle, "cores": CORES}, indent=2))


if __name__ == "__main__":
    main()
