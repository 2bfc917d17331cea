"""Runs the sensor driver tests inside the MicroPython Unix port with a 64 KB heap.

The harness, fakes and sim devices are precompiled with mpy-cross (they are test equipment, not
firmware); the drivers are loaded from source, as a node running .py files would compile them.
"""

import re
import subprocess
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[2]
MP = HERE / "mp"
SIM = ROOT / "tools" / "emulator" / "sim"
NODE = ROOT / "firmware" / "node"
RUNNERS = ("run_ultrasonic", "run_a02yyuw", "run_climate", "run_cycle")
DEVICE_FILES = sorted((NODE / "sensors").glob("*.py")) + sorted(SIM.glob("simdevices*.py"))
MAX_ALLOC_BYTES = 512  # heap one measure()/read() may allocate: a few floats, no lists or buffers


def _test_names(runner):
    return re.findall(r"^def (test_\w+)", (MP / f"{runner}.py").read_text(), re.M)


CASES = [(runner, name) for runner in RUNNERS for name in _test_names(runner)]


@pytest.fixture(scope="module")
def device_runs(micropython, mpy_cross, tmp_path_factory):
    lib = tmp_path_factory.mktemp("mp_sensor_lib")
    for src in sorted(MP.glob("*.py")) + sorted(SIM.glob("simdevices*.py")):
        subprocess.run([mpy_cross, "-o", str(lib / (src.stem + ".mpy")), str(src)], check=True)
    runs = {}
    for runner in RUNNERS:
        proc = subprocess.run(
            [micropython, "-X", "heapsize=64k", "-m", runner],
            env={"MICROPYPATH": f"{lib}:{NODE}:{ROOT}"},  # protocols/ at the root, as on a node
            cwd=lib,
            capture_output=True,
            text=True,
            timeout=60,
        )
        runs[runner] = proc
    return runs


@pytest.mark.parametrize(("runner", "name"), CASES, ids=[name for _, name in CASES])
def test_on_micropython(device_runs, runner, name):
    proc = device_runs[runner]
    lines = proc.stdout.splitlines()
    if f"ok {name}" in lines:
        return
    failure = [line for line in lines if line.startswith(f"FAIL {name}:")]
    pytest.fail(failure[0] if failure else f"{name} did not run: rc={proc.returncode}\n{proc.stderr[-2000:]}")


@pytest.mark.parametrize("runner", RUNNERS)
def test_runner_completes_within_budget(device_runs, runner):
    proc = device_runs[runner]
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "DONE failed=0" in proc.stdout, proc.stdout[-2000:]
    figures = dict(line.split()[1:3] for line in proc.stdout.splitlines() if line.startswith("FIGURE "))
    allocs = {k: int(v) for k, v in figures.items() if k.startswith("alloc_bytes_")}
    assert allocs or runner == "run_cycle", "no heap figures printed"
    assert all(0 < v <= MAX_ALLOC_BYTES for v in allocs.values()), allocs


@pytest.mark.parametrize("path", DEVICE_FILES, ids=[p.name for p in DEVICE_FILES])
def test_compiles_with_mpy_cross(mpy_cross, tmp_path, path):
    out = tmp_path / "out.mpy"
    proc = subprocess.run([mpy_cross, "-o", str(out), str(path)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
