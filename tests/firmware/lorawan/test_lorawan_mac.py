"""The native LoRaWAN MAC (firmware/node/lorawan) under MicroPython against the simulated network server.

Twice: on an API-level modem (the MAC alone), and on the SX1262 driver (firmware/node/radio/sx1262.py)
talking SPI to the chip model (tools/emulator/sim/simsx1262.py), byte for byte as on the chip.

tests/firmware/lorawan/mp/run_mac.py holds the scenarios (joins across reboots and power cuts, counters,
receive-window edges at SF7/SF12, every MAC command, ADR back-off, duty cycle, TR007 join back-off,
confirmed frames). It runs once; each scenario is reported here. Every frame that went over the simulated
air — the node's and the server's — is then parsed and MIC-checked by the npm package lora-packet.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest
from lw_harness import HERE, lora_packet, micropython

MP = HERE / "mp"
# The scenarios carry test equipment in the same heap: the simulated network server, the air and the
# harness (~25 KB on the 64-bit Unix port). The MAC's own share is measured in test_mac_heap_share.
HEAP = "192k"
NAMES = re.findall(r"^def (test_\w+)", (MP / "run_mac.py").read_text(), re.M)


MODEMS = ("api", "sx1262")


@pytest.fixture(scope="module")
def mp_lib(tmp_path_factory) -> Path:
    lib = tmp_path_factory.mktemp("lw_mp")
    for src in MP.glob("*.py"):
        subprocess.run(
            [str(Path(micropython()).with_name("mpy-cross")), "-o", str(lib / (src.stem + ".mpy")), str(src)],
            check=True,
        )
    return lib


def run_suite(mp_lib: Path, mpy_tree: Path, module: str, modem: str = "api") -> subprocess.CompletedProcess:
    return subprocess.run(
        [micropython(), "-X", f"heapsize={HEAP}", "-c", f"import {module}"],
        env={"MICROPYPATH": f"{mp_lib}:{mpy_tree}", "LW_MODEM": modem},
        cwd=mp_lib,
        capture_output=True,
        text=True,
        timeout=180,
    )


@pytest.fixture(scope="module")
def mac_runs(mp_lib, mpy_tree) -> dict[str, subprocess.CompletedProcess]:
    return {modem: run_suite(mp_lib, mpy_tree, "run_mac", modem) for modem in MODEMS}


@pytest.fixture(scope="module")
def mac_run(mac_runs) -> subprocess.CompletedProcess:
    return mac_runs["sx1262"]


def report(run: subprocess.CompletedProcess, name: str) -> None:
    lines = run.stdout.splitlines()
    if f"ok {name}" in lines:
        return
    failure = [line for line in lines if line.startswith(f"FAIL {name}:")]
    pytest.fail(failure[0] if failure else f"{name} did not run: {run.stderr[-2000:]}")


@pytest.mark.parametrize("modem", MODEMS)
@pytest.mark.parametrize("name", NAMES)
def test_mac_scenario(mac_runs, modem, name):
    report(mac_runs[modem], name)


RADIO_NAMES = re.findall(r"^def (test_\w+)", (MP / "run_radio.py").read_text(), re.M)


@pytest.fixture(scope="module")
def radio_run(mp_lib, mpy_tree) -> subprocess.CompletedProcess:
    return run_suite(mp_lib, mpy_tree, "run_radio")


@pytest.mark.parametrize("name", RADIO_NAMES)
def test_sx1262_driver(radio_run, name):
    """SX1262 driver against the SPI-level chip model: datasheet sequences, timing, documented quirks."""
    report(radio_run, name)


def test_every_frame_on_air_verifies_in_lora_packet(mac_run):
    """Join-requests, uplinks (node), join-accepts, downlinks (server): all MIC-check in lora-packet."""
    cases = []
    for line in mac_run.stdout.splitlines():
        if not line.startswith("PHY "):
            continue
        _, phy, app_key, nwk, app, msb = line.split()
        case = {"phy": phy, "app_key": app_key, "fcnt_msb": msb}
        if nwk != "-":
            case.update(nwk_s_key=nwk, app_s_key=app)
        cases.append(case)
    assert len(cases) > 300, len(cases)
    parsed = lora_packet("parse", cases)
    bad = [(c["phy"], p) for c, p in zip(cases, parsed, strict=True) if not p.get("mic_ok")]
    assert not bad, bad[:5]
    kinds = {p["mtype"] for p in parsed}
    assert {
        "Join Request",
        "Join Accept",
        "Unconfirmed Data Up",
        "Confirmed Data Up",
        "Unconfirmed Data Down",
        "Confirmed Data Down",
    } <= kinds, kinds


MPY_BUDGET = 24 * 1024  # MAC + driver as deployed (.mpy)
HEAP_BUDGET = 48 * 1024  # their live heap peak through a join and an uplink, 64-bit Unix port


def test_native_stack_figures(mp_lib, mpy_tree, capsys):
    """Figures for firmware/README.md: .mpy size, live heap, join time, RTC bytes, flash writes."""
    run = run_suite(mp_lib, mpy_tree, "run_figures", "sx1262")
    figs = {}
    for line in run.stdout.splitlines():
        if line.startswith("FIG "):
            _, name, value = line.split()
            figs[name] = int(value)
    assert figs.get("joined") == 1, run.stdout + run.stderr[-2000:]
    mpy = sum(p.stat().st_size for d in ("lorawan", "radio") for p in (mpy_tree / "node" / d).glob("*.mpy"))
    figs["mpy_bytes"] = mpy
    with capsys.disabled():
        print(f"\nNATIVE_STACK {figs}")
    assert mpy <= MPY_BUDGET
    assert figs["peak_heap"] <= HEAP_BUDGET
    # JOIN_ACCEPT_DELAY1 (5 s) + airtime of the request at DR5 + the accept in RX1
    assert 5000 < figs["join_ms"] < 5200
    assert figs["rtc_bytes"] <= 400
    assert figs["flash_writes_join_and_uplink"] == 3  # DevNonce, session, FCnt floor
    assert figs["flash_writes_per_day_96_uplinks"] <= 1  # the FCnt floor moves every 100 uplinks
