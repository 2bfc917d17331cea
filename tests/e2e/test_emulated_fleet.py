"""End to end: the real firmware in MicroPython node processes, the simulated ChirpStack, the real fleet.

Nodes join, their uplinks arrive decoded in the fleet, a config change made through the fleet's API
reaches a node in its receive window, is applied and reported back; a fault scenario shows up as the
right health state. The clock is held at a barrier mid-run so the test can act like an operator would.
"""

import json
import time
from datetime import UTC, datetime

from tools.emulator.runner import Emulation
from tools.emulator.scenario import load, loads

H = 3_600_000_000

DISTRICT = """
[scenario]
days = 0.5
seed = 5
[defaults]
config = { meas_interval_min = 15, batch_size = 2 }
radio = { gateways = 2 }
[nodes.bins]
count = 3
dev_eui_start = "70b3d57ed00e1000"
bin = { height_cm = 110, fill_pct_per_hour = 2.0 }
"""


def wait_for(fn, timeout_s, what):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = fn()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"timed out after {timeout_s} s waiting for {what}")


def run_with_fleet(sc, fleet):
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
    emu.start_services()
    fleet.grpc_target = emu.grpc.target
    fleet.start()
    emu.poster.url = f"{fleet.url}/integrations/chirpstack"
    fleet.provision(sc.nodes)
    return emu


def node_logs(emu):
    return "\n".join(f"--- {n.spec.name}\n{emu.node_log(n.spec.dev_eui)[-1500:]}" for n in emu.nodes)


def test_nodes_join_report_and_apply_a_config_change(fleet_factory):
    sc = loads(DISTRICT)
    fleet = fleet_factory()
    emu = run_with_fleet(sc, fleet)
    try:
        emu.clock.hold(3 * H)
        emu.start_nodes()
        wait_for(emu.clock.at_barrier, 90, "every node to reach simulated hour 3\n" + node_logs(emu))
        with fleet.api() as api:
            for n in sc.nodes:
                eui = n.dev_eui.upper()
                assert emu.ns.get(n.dev_eui).stats["joins"] >= 1, node_logs(emu)
                readings = api.get(f"/devices/{eui}/readings").json()
                assert readings, f"no decoded readings for {n.name}"
                assert any(r.get("distance_cm") is not None for r in readings)
                config = api.get(f"/devices/{eui}/config").json()
                assert config["reported_version"] == config["desired_version"] >= 1, config
                assert config["applied"]["bin_height_cm"] == 110 and config["applied"]["batch_size"] == 2
            target = sc.nodes[0].dev_eui.upper()
            r = api.put(f"/devices/{target}/config", json={"settings": {"meas_interval_min": 10}})
            assert r.status_code == 200, r.text
            wanted = r.json()["desired_version"]
            emu.clock.release()
            assert emu.wait(timeout_s=90), "nodes did not finish the simulated half day"
            config = api.get(f"/devices/{target}/config").json()
            assert config["reported_version"] == wanted and config["applied"]["meas_interval_min"] == 10, (
                config
            )
            assert not config["pending"]
        s = emu.summary()
        assert s["fleet"]["failed"] == 0, s["fleet"]
        assert all(n["joins"] >= 1 and n["uplinks_heard"] >= 3 for n in s["per_node"]), s["per_node"]
    finally:
        emu.stop()


def test_fault_scenario_shows_as_health_state(fleet_factory):
    full = load("fault_storm")
    picked = [n for n in full.nodes if n.group in ("unplugged", "low_battery")]
    sc = type(full)(
        name=full.name, source=full.source, start=full.start, days=0.5, seed=full.seed, nodes=tuple(picked)
    )
    fleet = fleet_factory()
    emu = run_with_fleet(sc, fleet)
    try:
        emu.start_nodes()
        assert emu.wait(timeout_s=90), "fault nodes did not finish"
        with fleet.api() as api:
            health = {n.group: api.get(f"/devices/{n.dev_eui.upper()}/health").json() for n in picked}
        codes = {g: {r["code"] for r in h["reasons"]} for g, h in health.items()}
        assert "ultrasonic_fault" in codes["unplugged"] and health["unplugged"]["status"] in (
            "warning",
            "critical",
        )
        assert "battery_low" in codes["low_battery"] and health["low_battery"]["status"] == "critical"
    finally:
        emu.stop()


def test_depot_selftest_makes_the_nodes_provisioned(fleet_factory):
    """The demo's depot step: the firmware's own self-test on each node's simulated hardware, reported
    with the node tool's code; the fleet then counts the nodes as provisioned, and the nodes still power
    on untouched at their install time (the test ran on a scratch copy)."""
    sc = loads(DISTRICT)
    fleet = fleet_factory()
    emu = run_with_fleet(sc, fleet)
    try:
        with fleet.api() as api:
            assert api.get("/devices", params={"provisioned": "false"}).json()
            assert fleet.verify(emu, sc.nodes) == []
            assert api.get("/devices", params={"provisioned": "false"}).json() == []
            eui = sc.nodes[0].dev_eui.upper()
            runs = api.get(f"/devices/{eui}/verifications").json()
            assert len(runs) == 1 and runs[0]["ok"], runs
            checks = {c["name"]: c for c in runs[0]["checks"]}
            assert {"provision", "ultrasonic", "climate", "battery", "modem"} <= set(checks)
            assert sc.nodes[0].dev_eui.lower() in checks["modem"]["detail"].lower()
        for n in sc.nodes:  # the self-test wrote back into its scratch copy only
            world = json.loads((emu.workdir / n.dev_eui / "world.json").read_text())
            assert world["time_us"] == emu.first_boot_us(n) and "uplinks" not in world
    finally:
        emu.stop()
