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
from tools.nodetool.fleetapi import TAG_DONE, TAG_PENDING, Fleet
from tools.nodetool.provision import NodeProfile, problems, provision
from tools.nodetool.verify import verify


def _device(fleet_server, token: str, dev_eui: str) -> dict:
    r = httpx.get(
        f"{fleet_server.url}/api/v1/devices/{dev_eui}", headers={"Authorization": f"Bearer {token}"}
    )
    r.raise_for_status()
    return r.json()


def _notes(fleet_server, token: str, dev_eui: str) -> list[str]:
    r = httpx.get(
        f"{fleet_server.url}/api/v1/devices/{dev_eui}/notes", headers={"Authorization": f"Bearer {token}"}
    )
    return [n["text"] for n in r.json()]


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
        assert TAG_PENDING in _device(fleet_server, tech_token, first.dev_eui)["tags"]

        again = provision(board, fleet)  # re-run: same node, same identity, keys kept
        assert again.action == "kept" and json.loads(provision_file.read_text()) == doc

        with pytest.raises(KeysConflictError, match=first.dev_eui):
            provision(board, fleet, dev_eui="70B3D57ED0000001")
        with pytest.raises(KeysConflictError, match="already provisioned"):
            provision(board, fleet, new=True)

        deploy_mod.deploy(board, sources=test_firmware)
        result = verify(board, fleet)
    assert result.ok and result.reported, [c for c in result.checks if not c.ok]
    names = [c.name for c in result.checks]
    assert names[:1] == ["provision_file"] and {"modem_deveui", "free_ram", "fleet_record"} <= set(names)
    device = _device(fleet_server, tech_token, first.dev_eui)
    assert TAG_DONE in device["tags"] and TAG_PENDING not in device["tags"]
    assert _notes(fleet_server, tech_token, first.dev_eui)[0].startswith("kumpel node verify passed")


def test_failed_verify_leaves_device_marked_unprovisioned(vboard, fleet_server, tech_token, test_firmware):
    (vboard.folder / "selftest_fail.txt").write_text("modem_deveui")
    with Fleet(fleet_server.url, tech_token) as fleet, Board.open(vboard.path) as board:
        created = provision(board, fleet, dev_eui="70-B3-D5-7E-D0-00-AA-01")
        assert created.dev_eui == "70B3D57ED000AA01"
        deploy_mod.deploy(board, sources=test_firmware)
        result = verify(board, fleet)
    assert not result.ok and [c.name for c in result.failed] == ["modem_deveui"]
    assert TAG_PENDING in _device(fleet_server, tech_token, created.dev_eui)["tags"]
    assert "FAILED (modem_deveui)" in _notes(fleet_server, tech_token, created.dev_eui)[0]


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
    assert TAG_PENDING in _device(fleet_server, tech_token, first.dev_eui)["tags"]  # must verify again


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
