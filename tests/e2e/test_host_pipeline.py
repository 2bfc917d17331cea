"""Fleet manager + simulated ChirpStack + radio link, driven by a contract-level node client.

This checks the host half end to end without the firmware: provisioning reaches the simulated ChirpStack
over gRPC, uplinks arrive in the fleet as ChirpStack HTTP events, the fleet's config downlink comes back
in the node's receive window, and the config report closes the loop. Frames are hand-built from SPEC.md,
so this also cross-checks the fleet's codec against the written spec.
"""

import json
import socket
import time
from datetime import UTC, datetime

from tools.emulator.runner import Emulation
from tools.emulator.scenario import loads

SCENARIO = """
[scenario]
days = 1
[nodes.bins]
count = 1
dev_eui_start = "70b3d57ed00e0001"
bin = { height_cm = 110 }
radio = { gateways = 2 }
"""


class ContractNode:
    """Speaks CONTRACTS.md section 4 like simworld does."""

    def __init__(self, address: str, dev_eui: str):
        host, port = address.split(":")
        self.sock = socket.create_connection((host, int(port)), timeout=10)
        self.file = self.sock.makefile("rwb")
        self.dev_eui = dev_eui

    def ask(self, op: str, **msg):
        self.file.write(json.dumps({"op": op, "dev_eui": self.dev_eui, **msg}).encode() + b"\n")
        self.file.flush()
        return json.loads(self.file.readline())

    def close(self):
        self.file.close()
        self.sock.close()


def config_report_for(downlink_hex: str) -> bytes:
    """SPEC fPort 10 -> fPort 4: accept every entry (status ok) and adopt the version."""
    frame = bytes.fromhex(downlink_hex)
    assert frame[0] >> 5 == 1, "config downlink format version must be 1"
    version = frame[1:3]
    ids, i = [], 3
    while i < len(frame):
        length, setting_id = frame[i] >> 5, frame[i] & 0x1F
        ids.append(setting_id)
        i += 1 + length
    return bytes([0x20]) + version + bytes(ids)


def wait_for(fn, timeout_s=15.0):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = fn()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {fn.__doc__ or fn}")


def test_provision_uplink_config_roundtrip(fleet_factory):
    sc = loads(SCENARIO)
    node = sc.nodes[0]
    fleet = fleet_factory()
    emu = Emulation(
        sc,
        fleet_url="http://127.0.0.1:1",
        start=datetime.now(UTC),
        register_devices=False,
        ingest_token=fleet.ingest_token,
        api_token=fleet.grpc_api_token,
        application_id=fleet.application_id,
        device_profile_id=fleet.device_profile_id,
    )
    try:
        emu.start_services()
        fleet.grpc_target = emu.grpc.target
        fleet.start()
        emu.poster.url = f"{fleet.url}/integrations/chirpstack"
        fleet.provision([node])  # POST /api/v1/devices -> DeviceService.Create + CreateKeys
        assert emu.ns.get(node.dev_eui).app_key == node.app_key
        emu.clock.expect(node.dev_eui)
        radio = ContractNode(emu.link.address, node.dev_eui)
        boot = radio.ask("boot", time_us=0, reset_cause="power_on")
        assert boot["env"]["distance_cm"] < 110
        assert radio.ask("join", join_eui=node.join_eui, time_us=2_000_000)["ok"]
        # SPEC example: 123 cm, 21.5 C, 55.5 %RH, 3.70 V, bin_full
        up = radio.ask(
            "uplink", fport=1, data="21ed33b7d540", confirmed=False, fcnt=0, dr=0, time_us=5_000_000
        )
        assert up["ok"] and up["downlink"] is not None and up["downlink"]["fport"] == 10
        report = config_report_for(up["downlink"]["data"])
        radio.ask("uplink", fport=4, data=report.hex(), confirmed=False, fcnt=1, dr=0, time_us=8_000_000)
        radio.ask("sleep", time_us=9_000_000, sleep_ms=86_400_000, awake_ms=4000, tx_ms=2600)
        radio.close()
        with fleet.api() as api:
            eui = node.dev_eui.upper()

            def uplinks():
                """the two uplinks stored by the fleet"""
                r = api.get(f"/devices/{eui}/uplinks")
                return r.json() if r.status_code == 200 and len(r.json()) >= 2 else None

            stored = wait_for(uplinks)
            assert {u.get("fport") for u in stored} == {1, 4}
            config = api.get(f"/devices/{eui}/config").json()
            assert config["reported_version"] == config["desired_version"] >= 1
            assert config["applied"]["bin_height_cm"] == 110 and not config["pending"]
        assert emu.poster.failed == 0, emu.poster.last_error
    finally:
        emu.stop()
