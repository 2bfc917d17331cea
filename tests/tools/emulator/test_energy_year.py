"""A simulated year of one node: the emulator's battery drain agrees with the energy model (issue 11).

The emulator drains its battery with tools.energy.cycle_mah() from the durations the real firmware spent
(awake, light sleep, sensor supply, on air, receive windows); the model estimates those durations from its
typical inputs (tools.energy.Duty). Agreement within 10 % over a whole year says the model's phase
estimates match what the firmware does. A year is ~35,000 wake cycles: about 4-5 minutes on this machine,
so the test runs when KUMPEL_YEAR=1 (`make energy-year`); the 3-day variant runs always.
"""

import os

import pytest

from tools import energy
from tools.emulator.runner import Emulation
from tools.emulator.scenario import loads

# A bin that sits still (so every batch waits for batch_size): the model's typical duty at 15 minutes,
# batch_size 16; SF12 (the model's typical); a Li-ion 18650 with the model's typical self-discharge.
SCENARIO = """
[scenario]
name = "energy-year"
start = "2026-01-05T00:00:00Z"
seed = 7
[nodes.still]
count = 1
config = {{ meas_interval_min = 15, batch_size = 16 }}
bin = {{ height_cm = 120, initial_fill_pct = 30, fill_pct_per_hour = 0 }}
radio = {{ sf = 12, gateways = 1, packet_loss = 0 }}
battery = {{ capacity_mah = 3400, self_discharge_pct_per_month = {sd} }}
"""


def _run(days: float) -> tuple[dict, float, float, dict]:
    v = energy.values("typical")
    sc = loads(SCENARIO.format(sd=v["li_ion_self_discharge_pct_month"]))
    emu = Emulation(sc, days=days)
    try:
        emu.start()
        assert emu.wait(timeout_s=3000), f"{days} simulated days did not finish in 50 minutes"
        (node,) = emu.summary()["per_node"]
        world = next(iter(emu.worlds.values()))
        sim_days = emu.sim_now_us() / 86400e6
        return node, world.load_mah, sim_days, dict(world.energy)
    finally:
        emu.stop()
        emu.cleanup()


def _model(days: float) -> float:
    """mAh the model says the node draws in `days` (the still bin sends no early batches)."""
    v = energy.values("typical", early_uplinks_per_day=0)
    return sum(energy.Duty(batch_size=16).day_mah(v).values()) * days


def test_three_days_agree_with_the_model():
    node, load_mah, days, spent = _run(3)
    assert node["uplinks"] >= 18  # 4 h batches + the first boot's status
    assert spent["light_ms"] > 0 and spent["sensor_ms"] > 0
    model = _model(days)
    assert abs(load_mah - model) / model < 0.10, (load_mah, model, spent)


@pytest.mark.slow
@pytest.mark.skipif(os.environ.get("KUMPEL_YEAR") != "1", reason="a simulated year takes minutes")
def test_a_year_agrees_with_the_model_within_ten_percent(capsys):
    node, load_mah, days, spent = _run(365)
    assert days > 364
    model = _model(days)
    with capsys.disabled():
        print(f"\nYEAR emulator {load_mah:.1f} mAh, model {model:.1f} mAh, {node['uplinks']} uplinks")
        print(f"YEAR spent {spent}")
    assert abs(load_mah - model) / model < 0.10
