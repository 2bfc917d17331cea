"""The real firmware on the virtual board with the simulated hardware: setup end to end, and a node with an
unplugged sensor that fails verify: the fleet records the failed check and does not count it provisioned."""

from __future__ import annotations

import json
import time

import httpx
from typer.testing import CliRunner

from tools.cli import app
from tools.emulator.virtual_board import VirtualBoard, default_world

MODEM = "70B3D57ED0000B0A"


def test_setup_with_the_real_firmware(tmp_path, fleet_server, tech_token):
    runner = CliRunner()
    with VirtualBoard(tmp_path / "flash", world=default_world(MODEM)) as vb:
        args = ["node", "setup", "--fleet", fleet_server.url, "--token", tech_token, "--port", vb.path]
        started = time.monotonic()
        r = runner.invoke(app, [*args, "--dev-eui", MODEM], catch_exceptions=False)
        seconds = time.monotonic() - started
        print(f"setup with the real firmware on the virtual board: {seconds:.2f} s")
        assert r.exit_code == 0, r.output
        assert json.loads((vb.folder / "provision.json").read_text())["dev_eui"] == MODEM
    device = httpx.get(
        f"{fleet_server.url}/api/v1/devices/{MODEM}", headers={"Authorization": f"Bearer {tech_token}"}
    ).json()
    assert device["provisioned_at"] is not None and device["last_verification"]["ok"] is True


def test_unplugged_sensor_fails_verify_and_the_fleet_keeps_it_unprovisioned(
    tmp_path, fleet_server, tech_token
):
    world = default_world("70B3D57ED0000B0B")  # another node: MODEM passed verify in the test above
    world["faults"] = {"ultrasonic": "unplugged"}
    runner = CliRunner()
    with VirtualBoard(tmp_path / "flash", world=world) as vb:
        args = ["node", "setup", "--fleet", fleet_server.url, "--token", tech_token, "--port", vb.path]
        r = runner.invoke(app, [*args, "--new"], catch_exceptions=False)
        dev_eui = json.loads((vb.folder / "provision.json").read_text())["dev_eui"]
    assert r.exit_code == 2 and "setup stopped at 'verify'" in r.output
    assert "FAIL ultrasonic" in r.output and "PASS climate" in r.output
    device = httpx.get(
        f"{fleet_server.url}/api/v1/devices/{dev_eui}", headers={"Authorization": f"Bearer {tech_token}"}
    ).json()
    assert device["provisioned_at"] is None
    assert "ultrasonic" in device["last_verification"]["failed"]
    assert "climate" not in device["last_verification"]["failed"]
    assert "not provisioned yet" in r.output
