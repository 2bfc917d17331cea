"""Scenario files: every shipped scenario loads, and bad files name the key that is wrong."""

import pytest

from tools.emulator import scenario
from tools.emulator.physics import US_PER_H, NodeWorld
from tools.emulator.scenario import ScenarioError

MINIMAL = """
[scenario]
days = 1
[nodes.bins]
count = 2
"""


@pytest.mark.parametrize("name", ["district", "dead_zone", "fire", "fault_storm"])
def test_shipped_scenarios_load(name):
    s = scenario.load(name)
    assert s.nodes and len({n.dev_eui for n in s.nodes}) == len(s.nodes)
    assert all(len(n.app_key) == 32 for n in s.nodes)


def test_district_has_about_25_bins_with_heights():
    s = scenario.load("district")
    assert 20 <= len(s.nodes) <= 30
    assert {n.config["bin_height_cm"] for n in s.nodes} == {110, 90, 120, 100}
    assert any(n.climate_model.fire for n in s.nodes)  # the demo shows a fire alarm


@pytest.mark.parametrize(
    ("patch", "message"),
    [
        (
            '[nodes.bins.bin]\nfill_pct_per_hour = "fast"',
            "scenario.toml: nodes.bins.bin.fill_pct_per_hour: expected a number or a list of 24 numbers, "
            "got 'fast'",
        ),
        ("[nodes.bins.bin]\nhieght_cm = 100", "scenario.toml: nodes.bins.bin.hieght_cm: unknown key"),
        ("[nodes.bins.bin]\nheight_cm = 5", "nodes.bins.bin.height_cm: 5 out of range 20..1000"),
        (
            '[nodes.bins.radio]\npacket_loss = "lots"',
            "nodes.bins.radio.packet_loss: expected a number, got 'lots'",
        ),
        (
            '[[nodes.bins.faults]]\nkind = "gremlins"\nat_h = 1',
            "nodes.bins.faults[0].kind: 'gremlins' is not one of ultrasonic_unplugged",
        ),
        ('[[nodes.bins.faults]]\nkind = "brownout"', "nodes.bins.faults[0].at_h: missing (required)"),
        (
            '[nodes.bins.bin]\nempty_weekdays = ["someday"]',
            "nodes.bins.bin.empty_weekdays[0]: expected one of mon",
        ),
        (
            "[nodes.bins.bin]\nfill_pct_per_hour = [1, 2]",
            "nodes.bins.bin.fill_pct_per_hour: expected a number or a list of 24",
        ),
        (
            "[nodes.bins.radio]\ndead_zone = [{ from_h = 5, to_h = 2 }]",
            "nodes.bins.radio.dead_zone[0].to_h: 2 out of range 5",
        ),
    ],
)
def test_bad_values_name_the_key(patch, message):
    with pytest.raises(ScenarioError) as e:
        scenario.loads(MINIMAL + patch)
    assert message in str(e.value)


def test_bad_toml_and_missing_nodes():
    with pytest.raises(ScenarioError, match="scenario.toml: not valid TOML"):
        scenario.loads("[scenario\n")
    with pytest.raises(ScenarioError, match="nodes: missing"):
        scenario.loads("[scenario]\ndays = 1\n")
    with pytest.raises(ScenarioError, match="nodes.bins.count: expected an integer, got 'two'"):
        scenario.loads('[nodes.bins]\ncount = "two"\n')
    with pytest.raises(ScenarioError, match="DevEUI 70b3d57ed0000001 already used by group a"):
        scenario.loads(
            '[nodes.a]\ncount = 2\ndev_eui_start = "70b3d57ed0000000"\n'
            '[nodes.b]\ndev_eui_start = "70b3d57ed0000001"\n'
        )


def test_missing_file_is_a_clear_error(tmp_path):
    with pytest.raises(ScenarioError, match="nope.toml: cannot read scenario file"):
        scenario.load(tmp_path / "nope.toml")


def test_with_nodes_scales_with_fresh_identities():
    s = scenario.load("fire").with_nodes(10)
    assert len(s.nodes) == 10 and len({n.dev_eui for n in s.nodes}) == 10
    with pytest.raises(ScenarioError, match="--nodes must be at least 1"):
        s.with_nodes(0)


def test_physics_bin_fills_and_is_emptied_on_schedule():
    s = scenario.loads("""
[scenario]
start = "2026-06-01T00:00:00Z"
[nodes.b]
[nodes.b.bin]
height_cm = 100
fill_pct_per_hour = 4.0
noise_cm = 0
initial_fill_pct = 0
empty_weekdays = ["tue"]
empty_hour = 7
""")
    w = NodeWorld(s.nodes[0], s)
    assert w.distance_cm(10 * US_PER_H) == pytest.approx(60.0)  # Monday 10:00: 40 % full
    assert w.distance_cm(30 * US_PER_H) == pytest.approx(0.0)  # Tuesday 06:00: overflowing (100 %)
    assert w.distance_cm(33 * US_PER_H) == pytest.approx(92.0)  # emptied at 07:00, two hours of filling


def test_physics_fire_faults_dead_zone_and_battery():
    s = scenario.loads("""
[nodes.b]
climate = { temp_mean_c = 15.0, temp_amplitude_c = 0, fire = { at_h = 2, duration_h = 1, peak_c = 80 } }
radio = { gateways = 2, dead_zone = [{ from_h = 5, to_h = 6 }] }
faults = [{ kind = "climate_crc", at_h = 1, duration_h = 1 }]
battery = { capacity_mah = 100, initial_pct = 50 }
""")
    w = NodeWorld(s.nodes[0], s)
    assert w.climate(US_PER_H)[0] == pytest.approx(15.0, abs=0.5)
    assert w.climate(int(2.5 * US_PER_H))[0] == pytest.approx(80.0, abs=0.5)
    assert w.faults(int(1.5 * US_PER_H)) == {"climate": "crc"} and w.faults(3 * US_PER_H) == {}
    assert len(w.gateways_hearing(4 * US_PER_H)) == 2 and w.gateways_hearing(int(5.5 * US_PER_H)) == []
    v0 = w.battery_v(0)
    w.spend(awake_ms=3_600_000, tx_ms=0, sleep_ms=0)  # one hour awake at 35 mA (tools/energy.py, typical)
    assert w.battery_pct() == pytest.approx(15.0, abs=0.1) and w.battery_v(0) < v0
    w.spend(awake_ms=3_600_000, tx_ms=0, sleep_ms=0)
    assert w.empty and w.faults(0) == {"power": "brownout"}


def test_released_pins_leak_into_the_battery():
    """The sleep message's sleep_leak_ua (pins released in deep sleep, sim machine.py) drains the battery."""
    s = scenario.loads("""
[nodes.b]
battery = { capacity_mah = 100, initial_pct = 100 }
""")
    held, released = NodeWorld(s.nodes[0], s), NodeWorld(s.nodes[0], s)
    day = 86_400_000
    held.spend(awake_ms=0, tx_ms=0, sleep_ms=day)
    released.spend(awake_ms=0, tx_ms=0, sleep_ms=day, leak_ua=40)
    assert held.charge_mah - released.charge_mah == pytest.approx(40e-3 * 24, rel=1e-6)  # 0.96 mAh a day
