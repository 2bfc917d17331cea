"""`kumpel node ...` as a technician runs it: setup on the virtual board against the real fleet, the
errors that stop it, check, and port selection."""

from __future__ import annotations

import json
import re
import time

import httpx
import pytest
from serial_fakes import ROM_BANNER, rom_pty
from typer.testing import CliRunner

from tools.cli import app
from tools.nodetool.errors import NoPortError, SeveralPortsError
from tools.nodetool.ports import Port, candidates, choose_port

runner = CliRunner()


def _run(*args: str):  # noqa: ANN202
    return runner.invoke(app, ["node", *args], catch_exceptions=False)


def test_setup_chain_on_the_virtual_board(vboard, fleet_server, tech_token, test_firmware):
    fw = str(test_firmware[0][0])
    common = ["--fleet", fleet_server.url, "--token", tech_token, "--port", vboard.path]
    started = time.monotonic()
    r = _run("setup", *common, "--new", "--firmware", fw)
    seconds = time.monotonic() - started
    assert r.exit_code == 0, r.output
    doc = json.loads((vboard.folder / "provision.json").read_text())
    assert re.search(r"deployed: [1-9]\d* copied", r.output) and "PASS modem_deveui" in r.output
    assert f"node {doc['dev_eui']} ready" in r.output
    assert f"LW:D0:{doc['join_eui']}:{doc['dev_eui']}:00000000" in r.output and doc["app_key"] not in r.output
    assert "▀" in r.output or "█" in r.output  # the QR label is drawn in the terminal
    device = httpx.get(
        f"{fleet_server.url}/api/v1/devices/{doc['dev_eui']}",
        headers={"Authorization": f"Bearer {tech_token}"},
    ).json()
    assert device["provisioned_at"] is not None and device["last_verification"]["ok"] is True
    assert "reported to the fleet: provisioned since" in r.output
    print(f"setup on the virtual board: {seconds:.2f} s")  # reported in the README
    assert seconds < 20

    again = _run("setup", *common, "--firmware", fw, "--profile-id", "00a1b2c3")  # next morning, same node
    assert again.exit_code == 0, again.output
    assert "deployed: 0 copied" in again.output and f":{doc['dev_eui']}:00A1B2C3" in again.output
    bad = _run("setup", *common, "--firmware", fw, "--profile-id", "xyz")
    assert bad.exit_code == 2 and "ProfileID 'xyz'" in bad.output
    assert json.loads((vboard.folder / "provision.json").read_text()) == doc

    check = _run("check", doc["dev_eui"], "--fleet", fleet_server.url, "--token", tech_token)
    assert check.exit_code == 0 and "no uplink received yet" in check.output
    assert "provisioned" in check.output and "yes, since" in check.output


def test_setup_stops_at_the_failing_step_with_what_to_do(vboard, fleet_server, test_firmware):
    viewer = fleet_server.token("viewer")
    r = _run(
        "setup", "--fleet", fleet_server.url, "--token", viewer, "--port", vboard.path, "--new",
        "--firmware", str(test_firmware[0][0]),
    )  # fmt: skip
    assert r.exit_code == 2
    assert "setup stopped at 'provision'" in r.output and "technician" in r.output
    assert "what to do:" in r.output
    assert (vboard.folder / "node" / "selftest.mpy").exists()  # deploy, before it, did its job
    assert not (vboard.folder / "provision.json").exists()


def test_verify_exit_status_and_missing_port(vboard, test_firmware, monkeypatch):
    r = _run("verify", "--port", vboard.path)
    assert r.exit_code == 1 and "FAIL provision_file" in r.output
    # free space in a unit a person reads at a glance (the virtual board's flash is a host folder: GB)
    free = re.search(r"free_flash\s+([\d.]+) (bytes|KB|MB|GB|TB) free", r.output)
    assert free and float(free.group(1)) < 1024, r.output
    monkeypatch.delenv("KUMPEL_NODE_PORT", raising=False)
    r = _run("deploy", "--port", "/dev/ttyUSB-kumpel-none")
    assert r.exit_code == 2 and "no serial port" in r.output and "data USB cable" in r.output


def test_check_of_an_unknown_device(fleet_server, tech_token):
    r = _run("check", "0000000000000001", "--fleet", fleet_server.url, "--token", tech_token)
    assert r.exit_code == 2 and "no device 0000000000000001" in r.output


def _port(device: str, vid: int | None, pid: int | None) -> Port:
    return Port(device, vid, pid, "USB serial", None)


def test_port_choice(monkeypatch):
    monkeypatch.delenv("KUMPEL_NODE_PORT", raising=False)
    cp2102 = _port("/dev/ttyUSB0", 0x10C4, 0xEA60)
    ch9102 = _port("/dev/ttyACM0", 0x1A86, 0x55D4)
    builtin = _port("/dev/ttyS0", None, None)
    assert cp2102.bridge == "Silicon Labs CP210x" and ch9102.bridge == "WCH CH9102"
    assert choose_port(None, [builtin, cp2102]) == "/dev/ttyUSB0"
    assert candidates([builtin, _port("/dev/ttyUSB3", 0x1234, 0x5678)])[0].device == "/dev/ttyUSB3"
    with pytest.raises(NoPortError):
        choose_port(None, [builtin])
    with pytest.raises(SeveralPortsError, match="ttyUSB0.*ttyACM0"):
        choose_port(None, [cp2102, ch9102])
    assert choose_port("/dev/ttyACM0", [cp2102, ch9102]) == "/dev/ttyACM0"
    monkeypatch.setenv("KUMPEL_NODE_PORT", "/dev/ttyUSB9")
    assert choose_port(None, [cp2102, ch9102]) == "/dev/ttyUSB9"


def test_setup_on_a_board_without_micropython_asks_for_an_image(fleet_server, tech_token):
    path, close = rom_pty(ROM_BANNER)
    try:
        r = _run("setup", "--fleet", fleet_server.url, "--token", tech_token, "--port", path, "--new")
    finally:
        close()
    assert r.exit_code == 2 and "setup stopped at 'flash'" in r.output and "--image" in r.output


def test_setup_flashes_a_blank_board_then_carries_on(
    tmp_path, vboard, fleet_server, tech_token, test_firmware
):
    """A blank board answers like the ROM bootloader; after esptool's write and hard reset it is MicroPython
    (the port path is re-pointed from the ROM pty to the virtual board), and setup carries on to verify."""
    from esptool.targets import ESP32ROM
    from esptool.targets.esp32 import ESP32StubLoader
    from test_flash import _chip, micropython_image

    from tools.nodetool.fleetapi import Fleet
    from tools.nodetool.setup import setup

    rom_path, close = rom_pty(ROM_BANNER)
    port = tmp_path / "ttyUSB0"
    port.symlink_to(rom_path)
    image = tmp_path / "ESP32_GENERIC.bin"
    image.write_bytes(micropython_image(0))
    chip = _chip(ESP32ROM, ESP32StubLoader)

    def boots_micropython() -> None:
        port.unlink()
        port.symlink_to(vboard.path)

    chip._port.on_reset = boots_micropython
    try:
        with Fleet(fleet_server.url, tech_token) as fleet:
            result = setup(
                str(port), fleet, image=image, new=True, sources=test_firmware, flash_connect=lambda p: chip
            )
    finally:
        close()
    assert result.flashed and result.verified.ok
    assert list(result.timings) == ["fleet", "flash", "connect", "deploy", "provision", "verify"]
    assert chip._port.flash[0x1000 : 0x1000 + image.stat().st_size] == image.read_bytes()


def test_setup_asks_the_fleet_before_it_touches_the_board(vboard, closed_port_url, test_firmware):
    fw = str(test_firmware[0][0])
    r = _run(
        "setup", "--fleet", closed_port_url, "--token", "x", "--port", vboard.path, "--new", "--firmware", fw
    )
    assert r.exit_code == 2 and "setup stopped at 'fleet'" in r.output and "unreachable" in r.output
    assert not (vboard.folder / "node").exists()  # nothing deployed for a fleet that does not answer
    assert "> deploy" not in r.output and "0/?" not in r.output


def test_a_connect_error_leaves_no_empty_progress_bar(fleet_server, tech_token, tmp_path):
    missing = str(tmp_path / "ttyUSB9")
    r = _run("setup", "--fleet", fleet_server.url, "--token", tech_token, "--port", missing, "--new")
    assert r.exit_code == 2 and "setup stopped at 'connect'" in r.output and "ttyUSB9" in r.output
    assert "0/?" not in r.output and "bytes" not in r.output and "deploy" not in r.output


def test_a_flash_that_cannot_connect_leaves_no_empty_progress_bar(tmp_path):
    image = tmp_path / "ESP32_GENERIC.bin"
    image.write_bytes(b"\xe9" + bytes(4095))
    r = _run("flash", "--image", str(image), "--port", str(tmp_path / "ttyUSB7"))
    assert r.exit_code == 2 and "ttyUSB7" in r.output and "what to do:" in r.output
    assert "0/?" not in r.output and "━" not in r.output
