"""Where a node's awake time and charge go: firmware of a baseline git ref vs the working tree (by hand).

    .venv/bin/python bench/energy.py [--base main] [--days 1] [--batch-size 8]

Both firmware trees run on the *current* simulated hardware (tools/emulator/sim: boot 420 ms, 4 ms per
module import, sensor supply and light sleep traced) for the same simulated days: a still bin at 80 cm of
120 cm, emptied to 116 cm half-way through each day. Printed per tree: awake ms per phase of a quiet cycle
(boot, imports, sensor supply on, of it in light sleep, the rest), the extra awake time of a cycle that
sends, uplinks a day, mAh a day by tools/energy.py's currents (typical case) and the years that gives on
each battery; then the working tree's ratio to the baseline and the energy model's own estimate.
A baseline older than the simulation's modem quirks (issue 11 section 1) may not get its uplinks through:
compare its quiet cycle then, not its uplinks or mAh.
"""

import argparse
import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
from io import BytesIO
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.firmware import fw_defaults as test_defaults  # noqa: E402
from tests.firmware.sim_mpy import SIM, compile_tree, tool  # noqa: E402
from tools import energy  # noqa: E402

PROVISION = {**test_defaults.PROVISION, "name": "bench-bin"}  # the simulated test node's, renamed
ENV = test_defaults.ENV


def _sim_constant(name: str) -> int:
    for line in (SIM / "simboot.py").read_text().splitlines():
        if line.startswith(f"{name} = "):
            return int(line.split("=")[1].split("#")[0])
    raise RuntimeError(f"{name} not found in simboot.py")


def _tree(ref: str | None, out: Path) -> Path:
    """firmware/ and protocols/ of a git ref (None: the working tree) compiled with the current sim."""
    src = out / "src"
    if ref is None:
        shutil.copytree(ROOT / "firmware", src / "firmware")
        shutil.copytree(ROOT / "protocols", src / "protocols")
    else:
        blob = subprocess.run(
            ["git", "archive", ref, "firmware", "protocols"], cwd=ROOT, capture_output=True, check=True
        ).stdout
        with tarfile.open(fileobj=BytesIO(blob)) as tar:
            tar.extractall(src, filter="data")
        for p in (ROOT / "protocols").glob("*.py"):  # what the current sim imports (hardware names) ...
            if p.name == "hardware.py" or not (src / "protocols" / p.name).exists():  # ... or the ref lacks
                shutil.copy(p, src / "protocols" / p.name)
    return compile_tree(src, out / "mpy")


def run_days(mpy: Path, folder: Path, days: int, batch_size: int) -> tuple[list[dict], list[dict], str]:
    """(trace lines, uplinks, log) of a first boot plus `days` simulated days at 15 minutes."""
    from protocols import codec

    flash = folder / "flash"
    flash.mkdir(parents=True)
    (flash / "provision.json").write_text(json.dumps(PROVISION))
    world_path = folder / "world.json"
    config = codec.encode_config({"config_version": 1, "settings": {"batch_size": batch_size}})
    world = {
        "dev_eui": PROVISION["dev_eui"],
        "time_us": 0,
        "env": dict(ENV),
        "faults": {},
        "radio": {"rssi": -110, "snr": -5},
        "devices": {"board": "devkit_rak3172", "ultrasonic": "a02yyuw", "climate": "shtc3"},
        "downlinks": [{"fport": codec.PORT_CONFIG, "data": config.hex()}],
    }
    world_path.write_text(json.dumps(world))
    trace = folder / "trace.jsonl"
    log = ""

    def boots(n: int, distance: float) -> None:
        nonlocal log
        w = json.loads(world_path.read_text())
        w["env"]["distance_cm"] = distance
        world_path.write_text(json.dumps(w))
        env = dict(os.environ, MICROPYPATH=str(mpy), KUMPEL_SIM_CYCLES=str(n), KUMPEL_SIM_TRACE=str(trace))
        env.pop("KUMPEL_SIM_RADIO", None)
        cmd = [tool("micropython"), "-X", "heapsize=160k", str(SIM / "simboot.py"), str(world_path)]
        cmd.append(str(flash))
        done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600)
        log += done.stdout
        if done.returncode != 0:
            raise RuntimeError(done.stdout[-2000:] + done.stderr[-2000:])

    boots(1, 80)  # first boot: join, status; the config downlink comes with the first uplink
    for _ in range(days):
        boots(48, 80)
        boots(48, 116)  # emptied at noon ...
        w = json.loads(world_path.read_text())
        w["env"]["distance_cm"] = 80  # ... and filled again by the next morning (a jump, each day)
        world_path.write_text(json.dumps(w))
    lines = [json.loads(x) for x in trace.read_text().splitlines()][1:]  # without the first boot
    return lines, json.loads(world_path.read_text()).get("uplinks", [])[1:], log


def figures(lines: list[dict], uplinks: int, days: int) -> dict:
    v = energy.values("typical")
    boot_ms = _sim_constant("BOOT_MS")
    import_ms = _sim_constant("IMPORT_US") / 1000
    quiet = [b for b in lines if b["at"] == 0]
    send = [b for b in lines if b["at"] > 0]

    def mean(rows, key):
        return sum(r[key] for r in rows) / max(1, len(rows))

    awake = mean(quiet, "awake_ms")
    sensor = mean(quiet, "sensor_ms")
    phases = {
        "boot": boot_ms,
        "sensor_supply_on": round(sensor),
        "of_it_light_sleep": round(mean(quiet, "light_ms")),
        "rest_imports_and_python": round(awake - boot_ms - sensor),
        "modules_imported": round(mean(quiet, "imports"), 1),
        "import_ms_each": import_ms,
    }
    mah = sum(
        energy.cycle_mah(
            v, b["awake_ms"], b["tx_ms"], b["sleep_ms"], b.get("sensor_ms", 0), 0, b.get("light_ms", 0)
        )
        for b in lines
    )
    mah += uplinks * 2 * v["rx_window_ms"] * v["rak3172_rx_ma"] / energy.MAS_PER_MAH
    span_days = sum(b["awake_ms"] + b["sleep_ms"] for b in lines) / energy.MS_PER_DAY
    per_day = mah / span_days
    years = {}
    for bat in energy.BATTERIES:
        years[bat.key] = round(bat.usable_mah(v) / (per_day + bat.self_discharge_mah_per_day(v)) / 365.25, 2)
    return {
        "quiet_cycle_awake_ms": round(awake),
        "quiet_cycle_phases_ms": phases,
        "send_cycle_extra_awake_ms": round(mean(send, "awake_ms") - awake),
        "uplinks_per_day": round(uplinks / span_days, 2),
        "mah_per_day": round(per_day, 3),
        "years": years,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--base", default="main", help="git ref of the baseline firmware (default: main)")
    ap.add_argument("--days", type=int, default=1)
    ap.add_argument("--batch-size", type=int, default=8)
    args = ap.parse_args()
    out = {}
    with tempfile.TemporaryDirectory(prefix="kumpel-energy-") as tmp:
        for label, ref in ((f"base ({args.base})", args.base), ("working tree", None)):
            folder = Path(tmp) / ("base" if ref else "work")
            folder.mkdir()
            mpy = _tree(ref, folder)
            lines, uplinks, log = run_days(mpy, folder / "node", args.days, args.batch_size)
            out[label] = figures(lines, len(uplinks), args.days)
            phase_lines = [x for x in log.splitlines() if "phases ms:" in x]
            if phase_lines:
                out[label]["phase_log_of_a_quiet_cycle"] = phase_lines[5].split("phases ms: ")[1]
    base, work = out.values()
    out["ratio working/base"] = {
        "quiet_cycle_awake_ms": round(work["quiet_cycle_awake_ms"] / base["quiet_cycle_awake_ms"], 3),
        "mah_per_day": round(work["mah_per_day"] / base["mah_per_day"], 3),
        "uplinks_per_day": round(work["uplinks_per_day"] / base["uplinks_per_day"], 3),
    }
    duty = energy.Duty(batch_size=args.batch_size)
    v = energy.values("typical", early_uplinks_per_day=1 / 1)  # the bench bin is emptied once a day
    out["energy model (typical)"] = {
        "uplinks_per_day": round(duty.uplinks(v), 2),
        "mah_per_day": round(sum(duty.day_mah(v).values()), 3),
    }
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
