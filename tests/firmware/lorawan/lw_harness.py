"""Runs LoRaWAN stack code inside the MicroPython Unix port (64 KB heap) and frames through lora-packet.

`mp(mpy_tree, code)` executes `code` with the compiled firmware on MICROPYPATH (as a node runs it) and
returns its stdout lines; `lora_packet(mode, cases)` runs lorawan_check.js under Node.js.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[2]
HEAP = "64k"


def micropython() -> str:
    path = ROOT / ".venv" / "bin" / "micropython"
    return str(path) if path.exists() else (shutil.which("micropython") or "micropython")


def mp(mpy_tree: Path, code: str, heap: str = HEAP, timeout: float = 60) -> list[str]:
    with tempfile.NamedTemporaryFile("w", suffix=".py", delete=False) as f:
        f.write(code)
        script = f.name
    try:
        proc = subprocess.run(
            [micropython(), "-X", f"heapsize={heap}", script],
            env={**os.environ, "MICROPYPATH": str(mpy_tree)},
            capture_output=True,
            text=True,
            timeout=timeout,
        )
    finally:
        os.unlink(script)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return proc.stdout.splitlines()


def lora_packet(mode: str, cases: list[dict]) -> list:
    node = shutil.which("node")
    if not node or not (ROOT / "node_modules" / "lora-packet").exists():
        pytest.skip("Node.js with lora-packet (make setup) not available")
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
        json.dump(cases, f)
        path = f.name
    try:
        done = subprocess.run(
            [node, str(HERE / "lorawan_check.js"), mode, path],
            capture_output=True,
            text=True,
            cwd=ROOT,
            timeout=60,
        )
    finally:
        os.unlink(path)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)
