"""A technician's day on the virtual board with the real firmware and the simulated RAK3172 (issue 12 §3):
a blank board set up with the README's `kumpel node setup --new`, a failed half-run set up again, and a
DevEUI typed wrong. Everything goes through the `kumpel` CLI; every "what to do" line printed is checked
against the CLI's real options.

Before: `setup --new` generated a DevEUI that was not the modem's, so verify failed with a wiring hint;
the retry with --dev-eui was refused "already provisioned"; its hint named --rotate-keys, which setup
did not take.
"""

from __future__ import annotations

import json

import httpx
import pytest
from cli_options import problems
from typer.testing import CliRunner

from tools.cli import app
from tools.emulator.virtual_board import SIM_DIR, VirtualBoard, default_world
from tools.nodetool.deploy import FIRMWARE_DIR

pytestmark = pytest.mark.skipif(
    not (FIRMWARE_DIR / "node" / "selftest.py").exists() or not (SIM_DIR / "machine.py").exists(),
    reason="firmware self-test or sim layer not in this checkout yet",
)
runner = CliRunner()


def _setup(fleet_server, token: str, port: str, *args: str):  # noqa: ANN202
    r = runner.invoke(
        app,
        ["node", "setup", "--fleet", fleet_server.url, "--token", token, "--port", port, *args],
        catch_exceptions=False,
    )
    # rich wraps at the terminal width: check the hint (printed last) as one line
    hint = " ".join(r.output.split("what to do:", 1)[1].split()) if "what to do:" in r.output else ""
    assert problems(hint) == []
    return r


def _flat(r) -> str:  # noqa: ANN001
    return " ".join(r.output.split())


def _device(fleet_server, token: str, dev_eui: str) -> dict | None:
    r = httpx.get(
        f"{fleet_server.url}/api/v1/devices/{dev_eui}", headers={"Authorization": f"Bearer {token}"}
    )
    return None if r.status_code == 404 else r.raise_for_status().json()


def _held(vb: VirtualBoard) -> dict:
    return json.loads((vb.folder / "provision.json").read_text())


def test_blank_board_with_setup_new_takes_the_modems_deveui(tmp_path, fleet_server, tech_token):
    modem = "70B3D57ED0001201"
    with VirtualBoard(tmp_path / "flash", world=default_world(modem)) as vb:
        r = _setup(fleet_server, tech_token, vb.path, "--new", "--name", "Bin Marktplatz 3")
        assert r.exit_code == 0, r.output
        assert _held(vb)["dev_eui"] == modem and _held(vb)["name"] == "Bin Marktplatz 3"
        assert "PASS modem" in r.output and f"node {modem} ready" in r.output
        again = _setup(fleet_server, tech_token, vb.path, "--new")  # the same command again: safe
        assert again.exit_code == 0, again.output
        assert "deployed: 0 copied" in again.output and f"kept {modem}" in _flat(again)
        assert _held(vb)["dev_eui"] == modem
    device = _device(fleet_server, tech_token, modem)
    assert device["provisioned_at"] is not None and device["last_verification"]["ok"] is True
    assert device["name"] == "Bin Marktplatz 3"


@pytest.mark.parametrize("retry", ["--dev-eui", "--new"])
def test_a_failed_half_run_is_set_up_again(tmp_path, fleet_server, tech_token, retry):
    """The old tool's half-run: provision.json holds a DevEUI the fleet generated (not the modem's) and the
    fleet lists that device as not verified. Setup again: with --dev-eui, as the issue's technician did, or
    with the same --new."""
    modem = "70B3D57ED0001202" if retry == "--new" else "70B3D57ED0001205"
    generated = httpx.post(
        f"{fleet_server.url}/api/v1/devices",
        json={"board": "devkit_rak3172", "ultrasonic": "a02yyuw", "climate": "shtc3"},
        headers={"Authorization": f"Bearer {tech_token}"},
    ).json()
    flash = tmp_path / "flash"
    flash.mkdir()
    (flash / "provision.json").write_text(
        json.dumps(
            {
                "v": 1,
                "dev_eui": generated["dev_eui"],
                "join_eui": generated["join_eui"],
                "app_key": generated["app_key"],
                "band": 4,
                "board": "devkit_rak3172",
                "ultrasonic": "a02yyuw",
                "climate": "shtc3",
                "name": "",
            }
        )
    )
    with VirtualBoard(flash, world=default_world(modem)) as vb:
        r = _setup(
            fleet_server, tech_token, vb.path, *([retry, modem.lower()] if retry == "--dev-eui" else [retry])
        )
        assert r.exit_code == 0, r.output
        assert f"the node held DevEUI {generated['dev_eui']}" in _flat(r) and "never passed verify" in _flat(
            r
        )
        assert _held(vb)["dev_eui"] == modem
    assert _device(fleet_server, tech_token, modem)["provisioned_at"] is not None
    assert _device(fleet_server, tech_token, generated["dev_eui"])["provisioned_at"] is None


def test_a_run_failed_at_verify_passes_once_the_fault_is_fixed(tmp_path, fleet_server, tech_token):
    modem = "70B3D57ED0001203"
    broken = default_world(modem)
    broken["faults"] = {"ultrasonic": "unplugged"}
    with VirtualBoard(tmp_path / "flash", world=broken) as vb:
        failed = _setup(fleet_server, tech_token, vb.path, "--new")
    assert failed.exit_code == 2 and "setup stopped at 'verify'" in failed.output
    assert "FAIL ultrasonic" in failed.output and "run `kumpel node setup` again" in _flat(failed)
    assert _device(fleet_server, tech_token, modem)["provisioned_at"] is None  # the half-run's device
    with VirtualBoard(tmp_path / "flash", world=default_world(modem)) as vb:  # sensor plugged in
        r = _setup(fleet_server, tech_token, vb.path, "--new")
        assert r.exit_code == 0, r.output
        assert "deployed: 0 copied" in r.output and _held(vb)["dev_eui"] == modem
    assert _device(fleet_server, tech_token, modem)["provisioned_at"] is not None


def test_a_deveui_that_is_not_the_modems_is_refused(tmp_path, fleet_server, tech_token):
    modem = "70B3D57ED0001204"
    with VirtualBoard(tmp_path / "flash", world=default_world(modem)) as vb:
        r = _setup(fleet_server, tech_token, vb.path, "--dev-eui", "70B3D57ED0009999")
        assert r.exit_code == 2, r.output
        assert f"the modem's own DevEUI is {modem}, not 70B3D57ED0009999" in _flat(r)
        assert "`kumpel node setup --new` uses the modem's DevEUI" in _flat(r)
        assert not (vb.folder / "provision.json").exists()
    assert _device(fleet_server, tech_token, "70B3D57ED0009999") is None


def test_a_modem_without_a_deveui_gets_the_generated_one(tmp_path, fleet_server, tech_token):
    with VirtualBoard(tmp_path / "flash", world=default_world("")) as vb:
        no_flag = _setup(fleet_server, tech_token, vb.path)
        assert no_flag.exit_code == 2 and "its modem gave none" in _flat(no_flag)
        r = _setup(fleet_server, tech_token, vb.path, "--new")
        assert r.exit_code == 0, r.output
        dev_eui = _held(vb)["dev_eui"]
        assert f"the modem had no DevEUI of its own: it now has {dev_eui}" in _flat(r)
        assert "PASS modem" in r.output
    assert _device(fleet_server, tech_token, dev_eui)["provisioned_at"] is not None


def test_a_swapped_modem_is_refused_and_the_hint_fixes_it(tmp_path, fleet_server, tech_token):
    """A node that passed verify gets another modem: setup refuses to re-key silently, and the command its
    hint names (run as printed) gives the node the new modem's DevEUI."""
    first, second = "70B3D57ED0001206", "70B3D57ED0001207"
    with VirtualBoard(tmp_path / "flash", world=default_world(first)) as vb:
        assert _setup(fleet_server, tech_token, vb.path, "--new").exit_code == 0
    with VirtualBoard(tmp_path / "flash", world=default_world(second)) as vb:
        r = _setup(fleet_server, tech_token, vb.path, "--new")
        assert r.exit_code == 2 and f"already provisioned as {first}, not {second}" in _flat(r)
        hinted = _flat(r).split("what to do:")[1].split("`")
        command = next(part for part in hinted if "--rotate-keys" in part).split()
        assert command[:3] == ["kumpel", "node", "setup"]
        fixed = _setup(fleet_server, tech_token, vb.path, *command[3:])
        assert fixed.exit_code == 0, fixed.output
        assert _held(vb)["dev_eui"] == second
    assert _device(fleet_server, tech_token, second)["provisioned_at"] is not None
    assert _device(fleet_server, tech_token, first)["provisioned_at"] is not None  # untouched
