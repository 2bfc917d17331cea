"""Runs the firmware under the MicroPython Unix port on the simulated hardware, boot by boot.

The firmware, protocols and sim layer are compiled with mpy-cross once per session (as the node tool and
the emulator deploy them); each test gets its own world file and flash folder and runs simboot.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest
from fw_defaults import ENV, PROVISION  # shared with the tests, which can't import a conftest by name
from sim_mpy import ROOT, SIM, compile_tree, tool

# The sim layer (~60 KB with its sensor and modem models) shares the process heap with the firmware (peak
# ~55 KB), and the Unix port has 64-bit pointers. 128 KB passes every test on a quiet machine (112k fails),
# but a 32-reading batch split into several frames hit a fragmented heap once in a clean CI run: the node
# gets 160 KB. The firmware's own peak is asserted <= 64 KB in test_memory.py.
HEAP = os.environ.get("KUMPEL_TEST_HEAP", "160k")


@pytest.fixture(scope="session")
def mpy_tree(tmp_path_factory) -> Path:
    return compile_tree(ROOT, tmp_path_factory.mktemp("mpy"))


class SimNode:
    """One simulated node: a world file, a flash folder, and runs of simboot over them."""

    def __init__(self, folder: Path, mpy: Path, provision: dict | None, **world):
        self.folder = folder
        self.flash = folder / "flash"
        self.flash.mkdir(parents=True)
        self.mpy = mpy
        if provision is not None:
            (self.flash / "provision.json").write_text(json.dumps(provision))
        kinds = provision or PROVISION
        state = {
            "dev_eui": kinds["dev_eui"],
            "time_us": 0,
            "env": dict(ENV),
            "faults": {},
            "radio": {"rssi": -90, "snr": 5},
            "devices": {
                "board": kinds["board"],
                "ultrasonic": kinds["ultrasonic"],
                "climate": kinds["climate"],
            },
            "downlinks": [],
        }
        state.update(world)
        self.world_path = folder / "world.json"
        self.world_path.write_text(json.dumps(state))
        self.trace_path = folder / "trace.jsonl"
        self.log = ""

    @property
    def world(self) -> dict:
        return json.loads(self.world_path.read_text())

    def edit(self, **changes) -> None:
        w = self.world
        for key, value in changes.items():
            w[key] = value
        self.world_path.write_text(json.dumps(w))

    def run(
        self, cycles: int, expect_status: int = 0, exec_code: str | None = None, tcp: bool = False
    ) -> list[dict]:
        """Boot `cycles` times (or once running `exec_code`); the trace lines of these boots."""
        start = len(self.trace())
        env = dict(os.environ)
        if exec_code:
            env["KUMPEL_SIM_EXEC"] = exec_code
        env.update(
            MICROPYPATH=str(self.mpy),
            KUMPEL_SIM_CYCLES=str(cycles),
            KUMPEL_SIM_TRACE=str(self.trace_path),
        )
        if not tcp:
            env.pop("KUMPEL_SIM_RADIO", None)
        if not exec_code:
            env.pop("KUMPEL_SIM_EXEC", None)
        proc = subprocess.run(
            [
                tool("micropython"),
                "-X",
                f"heapsize={HEAP}",
                str(SIM / "simboot.py"),
                str(self.world_path),
                str(self.flash),
            ],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        self.log += proc.stdout + proc.stderr
        assert proc.returncode == expect_status, self.log[-3000:]
        assert "MemoryError" not in proc.stdout + proc.stderr, self.log[-3000:]
        return self.trace()[start:]

    def trace(self) -> list[dict]:
        if not self.trace_path.exists():
            return []
        return [json.loads(line) for line in self.trace_path.read_text().splitlines()]

    def uplinks(self) -> list[dict]:
        from protocols import codec

        out = []
        for u in self.world.get("uplinks", []):
            frame = codec.decode_uplink(u["fport"], bytes.fromhex(u["data"]))
            frame["fcnt"] = u["fcnt"]
            out.append(frame)
        return out

    def queue_downlink(self, fport: int, data: bytes) -> None:
        w = self.world
        w.setdefault("downlinks", []).append({"fport": fport, "data": data.hex()})
        self.world_path.write_text(json.dumps(w))


@pytest.fixture
def make_node(tmp_path, mpy_tree):
    count = [0]

    def make(provision: dict | None = PROVISION, **world) -> SimNode:
        count[0] += 1
        return SimNode(tmp_path / f"node{count[0]}", mpy_tree, provision, **world)

    return make
