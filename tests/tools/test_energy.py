"""The energy model (tools/energy.py) and `kumpel energy`: named, sourced inputs; best/typical/worst; the
battery goals of issue 11; the emulator drains with the same currents."""

import json

import pytest
from typer.testing import CliRunner

from tools import energy
from tools.cli import app


def test_every_input_is_named_with_its_source():
    names = [i.name for i in energy.INPUTS]
    assert len(names) == len(set(names))
    for i in energy.INPUTS:
        assert i.kind in ("datasheet", "measured", "guess"), f"{i.name}: source must say its kind: {i.source}"
        assert len(i.source) > 40, f"{i.name}: say where the figure comes from"
        assert i.unit is not None


def test_each_input_moves_life_the_way_its_case_says():
    """best never shortens the life against typical, worst never lengthens it (one input at a time)."""
    for b in energy.BATTERIES:
        typical = energy.life_days(b, energy.values("typical"))
        for i in energy.INPUTS:
            best = energy.life_days(b, energy.values("typical", **{i.name: i.best}))
            worst = energy.life_days(b, energy.values("typical", **{i.name: i.worst}))
            assert best >= typical - 1e-9 >= worst - 2e-9, (b.key, i.name, best, typical, worst)


def test_goals_of_issue_11_on_the_d_cell():
    rows = {r["case"]: r for r in energy.life_table(energy.Duty(interval_min=15, batch_size=16))}
    assert rows["typical"]["li_socl2_d_years"] >= 10
    years = [rows[case]["li_socl2_d_years"] for case in energy.CASES]
    assert years == sorted(years, reverse=True) and len(set(years)) == 3


def test_self_discharge_and_cold_cost_years():
    b = energy.BATTERY_BY_KEY["li_ion_18650"]
    ideal = energy.values("typical", li_ion_self_discharge_pct_month=0, li_ion_cold_factor=1)
    warm = energy.life_days(b, ideal)
    assert energy.life_days(b, energy.values("typical")) < 0.7 * warm


def test_a_cycle_costs_what_its_parts_cost():
    v = energy.values("typical")
    sleep = energy.cycle_mah(v, 0, 0, 3_600_000)
    assert sleep == pytest.approx(energy.sleep_ua(v) / 1000)  # one hour asleep: uA -> mAh
    awake = energy.cycle_mah(v, 1000, 0, 0)
    napping = energy.cycle_mah(v, 1000, 0, 0, light_ms=800)
    assert napping < 0.3 * awake
    leak = energy.cycle_mah(v, 0, 0, 3_600_000, extra_sleep_ua=40)
    assert leak - sleep == pytest.approx(0.040)


def test_emulator_drains_with_the_model_currents():
    from tools.emulator.physics import ENERGY, NodeWorld
    from tools.emulator.scenario import loads

    sc = loads("[nodes.b]\nbattery = { capacity_mah = 3400, self_discharge_pct_per_month = 0 }\n")
    world = NodeWorld(sc.nodes[0], sc)
    world.rx_windows = 2
    world.spend(4000, 1500, 896_000, sensor_ms=320, light_ms=240)
    expected = energy.cycle_mah(ENERGY, 4000, 1500, 896_000, sensor_ms=320, rx_windows=2, light_ms=240)
    assert world.load_mah == pytest.approx(expected)
    assert world.charge_mah == pytest.approx(3400 - expected)


def test_kumpel_energy_prints_the_table_and_rejects_nonsense():
    runner = CliRunner()
    out = runner.invoke(app, ["energy"])
    assert out.exit_code == 0, out.output
    assert "| typical |" in out.output and "li_socl2_self_discharge_pct_year" in out.output
    assert "hybrid layer capacitor" in out.output
    data = json.loads(runner.invoke(app, ["energy", "--json", "--batch-size", "8"]).output)
    assert data["duty"]["batch_size"] == 8 and [r["case"] for r in data["cases"]] == list(energy.CASES)
    bad = runner.invoke(app, ["energy", "--batch-size", "40"])
    assert bad.exit_code == 2 and "batch-size" in bad.output
