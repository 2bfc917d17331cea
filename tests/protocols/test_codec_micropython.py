"""The same codec on the MicroPython Unix port with a 64 KB heap, as a node without PSRAM runs it."""

import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
MODULES = sorted(p.name for p in (ROOT / "protocols").glob("*.py"))
FRAMES = ("measurement", "batch", "status", "config_report", "config", "command")


@pytest.fixture(scope="module")
def mpy_tree(tmp_path_factory, mpy_cross) -> Path:
    """protocols/ compiled with mpy-cross, as `kumpel node deploy` puts it on a board, plus the vectors."""
    out = tmp_path_factory.mktemp("mpy")
    (out / "protocols").mkdir()
    for name in MODULES:
        target = out / "protocols" / (name[:-3] + ".mpy")
        done = subprocess.run(
            [mpy_cross, "-o", str(target), str(ROOT / "protocols" / name)], capture_output=True, text=True
        )
        assert done.returncode == 0, f"mpy-cross {name}: {done.stderr}"
    shutil.copytree(ROOT / "protocols" / "vectors", out / "protocols" / "vectors")
    done = subprocess.run([mpy_cross, "-o", str(out / "mp_vectors.mpy"), str(HERE / "mp_vectors.py")])
    assert done.returncode == 0
    return out


def run_mp(micropython: str, code: str, cwd: Path, heap: str = "64k") -> str:
    done = subprocess.run(
        [micropython, "-X", f"heapsize={heap}", "-c", code],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=60,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


@pytest.mark.parametrize("module", [m[:-3] for m in MODULES if m != "__init__.py"])
def test_each_module_compiles_from_source_in_64k(micropython, module):
    out = run_mp(
        micropython,
        f"import sys; sys.path.insert(0, {str(ROOT)!r}); import protocols.{module}; print('ok')",
        ROOT,
    )
    assert out.strip() == "ok"


@pytest.mark.parametrize("frame", FRAMES)
def test_vectors_pass_on_micropython_64k(micropython, mpy_tree, frame):
    tree = repr(str(mpy_tree))
    code = f"import sys; sys.path.insert(0, {tree}); import mp_vectors; mp_vectors.main({tree}, [{frame!r}])"
    out = run_mp(micropython, code, mpy_tree)
    lines = out.strip().splitlines()
    assert lines[-1].startswith("DONE"), out
    _, checked, failed, peak = lines[-1].split()
    assert int(failed) == 0, out
    assert int(checked) >= 14
    assert int(peak) < 64 * 1024


def test_node_side_footprint_in_64k(micropython, mpy_tree):
    """What a node loads (encoders + config parser, never the uplink decoders) and how much heap it keeps."""
    code = (
        f"import sys, gc; sys.path.insert(0, {str(mpy_tree)!r}); gc.collect(); a = gc.mem_alloc()\n"
        "from protocols import codec\n"
        "b = codec.encode_measurement({'distance_cm': 80, 'no_echo': False, 'temperature_c': 20.0,"
        " 'humidity_pct': 50.0, 'battery_mv': 3700, 'flags': 0})\n"
        "r = {'distance_cm': 80, 'no_echo': False, 'temperature_c': 20.0, 'humidity_pct': 50.0}\n"
        "codec.encode_batch({'interval_min': 15, 'battery_mv': 3700, 'flags': 0, 'readings': [r] * 16})\n"
        "codec.encode_status({'fw_version': '1.0.0', 'config_version': 1, 'reset_cause': 'deepsleep',"
        " 'wake_count': 1, 'sensor_errors': 0, 'radio_errors': 0, 'watchdog_resets': 0, 'battery_mv': 3700,"
        " 'rssi': None, 'snr': None, 'join_count': 1})\n"
        "frame = codec.encode_config({'config_version': 2, 'settings': {'batch_size': 4}})\n"
        "v, e = codec.parse_config(frame)\n"
        "codec.encode_config_report(v, [(i, s) for i, _, s in e])\n"
        "gc.collect(); print('protocols.uplink' in sys.modules, gc.mem_alloc() - a)\n"
    )
    loaded_decoders, resident = run_mp(micropython, code, mpy_tree).split()
    print(f"node-side codec resident heap: {resident} bytes")
    assert loaded_decoders == "False"
    assert int(resident) < 40 * 1024


def test_decoders_raise_only_codec_error_on_micropython(micropython, mpy_tree):
    tree = repr(str(mpy_tree))
    code = f"import sys; sys.path.insert(0, {tree}); import mp_vectors; mp_vectors.fuzz({tree}, 2000, 12345)"
    out = run_mp(micropython, code, mpy_tree)
    _, checked, failed, _peak = out.strip().splitlines()[-1].split()
    assert int(failed) == 0, out
    assert int(checked) == 6 * 2000


def test_node_set_imports_from_source_in_64k(micropython):
    """A board running plain .py files (no mpy-cross) can still load everything a node needs."""
    code = (
        f"import sys, gc; sys.path.insert(0, {str(ROOT)!r})\n"
        "from protocols import codec, measurement, status, downlink, settings, airtime\n"
        "gc.collect(); print(gc.mem_alloc())"
    )
    assert int(run_mp(micropython, code, ROOT)) < 40 * 1024
