"""Provision and verify against the virtual board and the real fleet app on loopback (uvicorn, SQLite)."""

from __future__ import annotations

import json

import httpx
import pytest

from tools.nodetool import deploy as deploy_mod
from tools.nodetool.board import Board
from tools.nodetool.errors import (
    FleetAuthError,
    FleetUnreachableError,
    KeysConflictError,
    ProvisionFileError,
    RoleError,
)
from tools.nodetool.fleetapi import Fleet
from tools.nodetool.provision import NodeProfile, problems, provision
from tools.nodetool.verify import verify


def _device(fleet_server, token: str, dev_eui: str) -> dict:
    r = httpx.get(
        f"{fleet_server.url}/api/v1/devices/{dev_eui}", headers={"Authorization": f"Bearer {token}"}
    )
    r.raise_for_status()
    return r.json()


def _verifications(fleet_server, token: str, dev_eui: str) -> list[dict]:
    """The verify runs the fleet stored for the device, newest first."""
    r = httpx.get(
        f"{fleet_server.url}/api/v1/devices/{dev_eui}/verifications",
        headers={"Authorization": f"Bearer {token}"},
    )
    r.raise_for_status()
    return r.json()


def test_provision_new_then_rerun_keeps_keys_then_verify_marks_provisioned(
    vboard, fleet_server, tech_token, test_firmware
):
    provision_file = vboard.folder / "provision.json"
    with Fleet(fleet_server.url, tech_token) as fleet, Board.open(vboard.path) as board:
        first = provision(board, fleet, new=True, profile=NodeProfile(name="Bin Marktplatz 3"))
        doc = json.loads(provision_file.read_text())
        assert first.action == "created" and problems(doc) == []
        fleet_view = _device(fleet_server, tech_token, first.dev_eui)
        assert doc["dev_eui"] == first.dev_eui and doc["name"] == "Bin Marktplatz 3"
        assert (
            (doc["board"], doc["climate"])
            == (fleet_view["board"], fleet_view["climate"])
            == (
                "devkit_rak3172",
                "shtc3",
            )
        )
        assert first.label == f"LW:D0:{doc['join_eui']}:{doc['dev_eui']}:00000000"
        assert doc["app_key"] not in first.label
        created = _device(fleet_server, tech_token, first.dev_eui)
        assert created["provisioned_at"] is None and created["tags"] == []  # not provisioned until verify

        again = provision(board, fleet)  # re-run: same node, same identity, keys kept
        assert again.action == "kept" and json.loads(provision_file.read_text()) == doc

        again = provision(board, fleet, new=True)  # --new again (a re-run of the same command): kept too
        assert again.action == "kept" and json.loads(provision_file.read_text()) == doc

        deploy_mod.deploy(board, sources=test_firmware)
        result = verify(board, fleet)
        # once verified, the node's identity is not given away without --rotate-keys
        with pytest.raises(KeysConflictError, match=f"already provisioned as {first.dev_eui}") as err:
            provision(board, fleet, dev_eui="70B3D57ED0000001")
        assert "--rotate-keys" in err.value.hint and json.loads(provision_file.read_text()) == doc
    assert result.ok and result.reported, [c for c in result.checks if not c.ok]
    names = [c.name for c in result.checks]
    assert names[:1] == ["provision_file"] and {"modem_deveui", "free_ram", "fleet_record"} <= set(names)
    device = _device(fleet_server, tech_token, first.dev_eui)
    assert device["provisioned_at"] is not None and result.provisioned_at == device["provisioned_at"]
    assert device["last_verification"]["ok"] is True and device["tags"] == []
    runs = _verifications(fleet_server, tech_token, first.dev_eui)
    assert len(runs) == 1 and runs[0]["ok"] and runs[0]["author"] == "test-technician"
    # every board and tool check the run made, in order (fleet_record is the tool's answer to the report)
    assert [c["name"] for c in runs[0]["checks"]] == names[:-1] and names[-1] == "fleet_record"
    assert runs[0]["micropython"] == result.micropython and runs[0]["tool"].startswith("kumpel-node")
    # the tool's own checks travel with a code and their numbers, so the fleet's pages can word them
    stored = {c["name"]: c for c in runs[0]["checks"]}
    assert stored["provision_file"]["code"] == "dev_eui"
    assert stored["free_ram"]["code"] == "free" and stored["free_ram"]["params"]["bytes"] > 24 * 1024


def test_failed_verify_leaves_device_marked_unprovisioned(vboard, fleet_server, tech_token, test_firmware):
    (vboard.folder / "selftest_fail.txt").write_text("modem_deveui")
    with Fleet(fleet_server.url, tech_token) as fleet, Board.open(vboard.path) as board:
        created = provision(board, fleet, dev_eui="70-B3-D5-7E-D0-00-AA-01")
        assert created.dev_eui == "70B3D57ED000AA01"
        deploy_mod.deploy(board, sources=test_firmware)
        result = verify(board, fleet)
    assert not result.ok and [c.name for c in result.failed] == ["modem_deveui"]
    assert result.reported and result.provisioned_at is None
    device = _device(fleet_server, tech_token, created.dev_eui)
    assert device["provisioned_at"] is None
    assert device["last_verification"]["ok"] is False and device["last_verification"]["failed"] == [
        "modem_deveui"
    ]
    [run] = _verifications(fleet_server, tech_token, created.dev_eui)
    assert {c["name"]: c["detail"] for c in run["checks"] if not c["ok"]} == {"modem_deveui": "no answer"}


def test_a_failure_after_a_pass_is_recorded_and_the_device_stays_provisioned(
    vboard, fleet_server, tech_token, test_firmware
):
    with Fleet(fleet_server.url, tech_token) as fleet, Board.open(vboard.path) as board:
        created = provision(board, fleet, new=True)
        deploy_mod.deploy(board, sources=test_firmware)
        passed = verify(board, fleet)
        (vboard.folder / "selftest_fail.txt").write_text("climate")
        failed = verify(board, fleet)
    assert passed.ok and not failed.ok and failed.reported
    assert failed.provisioned_at == passed.provisioned_at is not None
    device = _device(fleet_server, tech_token, created.dev_eui)
    assert device["provisioned_at"] == passed.provisioned_at
    assert device["last_verification"]["failed"] == ["climate"]
    assert [r["ok"] for r in _verifications(fleet_server, tech_token, created.dev_eui)] == [False, True]


def test_verify_of_a_node_the_fleet_does_not_know(vboard, fleet_server, tech_token, test_firmware):
    (vboard.folder / "provision.json").write_text(
        json.dumps(
            {
                "v": 1,
                "dev_eui": "70B3D57ED00F0F0F",
                "join_eui": "0000000000000000",
                "app_key": "00112233445566778899AABBCCDDEEFF",
                "band": 4,
                "board": "devkit_rak3172",
                "ultrasonic": "a02yyuw",
                "climate": "shtc3",
                "name": "",
            }
        )
    )
    with Fleet(fleet_server.url, tech_token) as fleet, Board.open(vboard.path) as board:
        deploy_mod.deploy(board, sources=test_firmware)
        result = verify(board, fleet)
    assert not result.ok and not result.reported
    assert [(c.name, c.detail) for c in result.failed] == [
        ("fleet_record", "the fleet has no device 70B3D57ED00F0F0F")
    ]


def test_verify_without_firmware_says_deploy(vboard, fleet_server, tech_token):
    with Fleet(fleet_server.url, tech_token) as fleet, Board.open(vboard.path) as board:
        provision(board, fleet, new=True)
        result = verify(board)
    failed = {c.name: c.detail for c in result.failed}
    assert "kumpel node deploy" in failed["selftest"]


def test_other_node_cannot_take_a_verified_device_without_rotate(
    vboard, fleet_server, tech_token, test_firmware
):
    with Fleet(fleet_server.url, tech_token) as fleet, Board.open(vboard.path) as board:
        first = provision(board, fleet, new=True)
        deploy_mod.deploy(board, sources=test_firmware)
        assert verify(board, fleet).ok
        (vboard.folder / "provision.json").unlink()  # a second, blank node claiming the same DevEUI
        with pytest.raises(KeysConflictError, match="already provisioned in the fleet"):
            provision(board, fleet, dev_eui=first.dev_eui)
        assert not (vboard.folder / "provision.json").exists()
        rotated = provision(board, fleet, dev_eui=first.dev_eui, rotate_keys=True)
    assert rotated.action == "rotated"
    device = _device(fleet_server, tech_token, first.dev_eui)
    assert device["provisioned_at"] is None  # new keys: must verify again
    assert device["last_verification"]["ok"] is True  # the run before the new keys is still visible


def test_unverified_device_is_rekeyed_on_rerun_after_a_lost_file(vboard, fleet_server, tech_token):
    with Fleet(fleet_server.url, tech_token) as fleet, Board.open(vboard.path) as board:
        first = provision(board, fleet, new=True)
        (vboard.folder / "provision.json").write_text("{not json")
        again = provision(board, fleet, dev_eui=first.dev_eui)
    assert again.action == "rotated" and "was invalid" in again.notes[0]
    assert problems(json.loads((vboard.folder / "provision.json").read_text())) == []


def test_fleet_problems_leave_the_node_untouched(vboard, fleet_server, closed_port_url):
    viewer = fleet_server.token("viewer")
    with Board.open(vboard.path) as board:
        with Fleet(closed_port_url, "x") as fleet, pytest.raises(FleetUnreachableError, match="unreachable"):
            provision(board, fleet, new=True)
        with Fleet(fleet_server.url, viewer) as fleet, pytest.raises(RoleError, match="technician"):
            provision(board, fleet, new=True)
        with Fleet(fleet_server.url, "not-a-token") as fleet, pytest.raises(FleetAuthError):
            provision(board, fleet, new=True)
        with (
            Fleet(fleet_server.url, viewer) as fleet,
            pytest.raises(ProvisionFileError, match="no identity") as err,
        ):
            provision(board, fleet)
        assert "--dev-eui" in err.value.hint
    assert not (vboard.folder / "provision.json").exists()
