"""A simulated day at the default 15-minute interval: the figures of firmware/README.md, and the energy
budget they imply (a regression that keeps the node awake longer or talks more fails here)."""

import json

from tools import energy


def battery_life_days(boots, battery_key="li_ion_18650"):
    """Days on the battery at the charge these boots drew, by the energy model's typical currents (with
    the battery's self-discharge and derating): the same accounting the emulator drains with."""
    v = energy.values("typical")
    mah = sum(
        energy.cycle_mah(v, b["awake_ms"], b["tx_ms"], b["sleep_ms"], b["sensor_ms"], 0, b["light_ms"])
        for b in boots
    )
    span_days = sum(b["awake_ms"] + b["sleep_ms"] for b in boots) / energy.MS_PER_DAY
    battery = energy.BATTERY_BY_KEY[battery_key]
    return battery.usable_mah(v) / (mah / span_days + battery.self_discharge_mah_per_day(v))


def test_a_day_at_15_minutes(make_node, capsys, monkeypatch):
    monkeypatch.setenv("KUMPEL_SIM_HEAP_EXACT", "1")  # collect at every clock step: the live heap peak
    node = make_node()
    node.run(1)  # first boot: join + status
    boots = node.run(96)
    quiet = [b for b in boots if b["at"] == 0]
    sending = [b for b in boots if b["at"] > 0]
    assert len(sending) == 12 or len(sending) == 13  # 96 / batch of 8, plus a status every 12 uplinks
    figures = {
        "boots": len(boots),
        "quiet_cycle_awake_ms": max(b["awake_ms"] for b in quiet),
        "send_cycle_awake_ms": max(b["awake_ms"] for b in sending),
        "at_exchanges_per_send_cycle": max(b["at"] for b in sending),
        "tx_ms_per_day": round(sum(b["tx_ms"] for b in boots)),
        "heap_peak_firmware_bytes": max(b["heap_peak"] for b in boots),
        "sim_layer_heap_bytes": max(b["sim_heap"] for b in boots),
        "quiet_cycle_sensor_ms": max(b["sensor_ms"] for b in quiet),
        "quiet_cycle_light_sleep_ms": max(b["light_ms"] for b in quiet),
        "modules_imported_quiet_cycle": max(b["imports"] for b in quiet),
        "battery_life_days": round(battery_life_days(boots)),
        "d_cell_life_days": round(battery_life_days(boots, "li_socl2_d")),
    }
    with capsys.disabled():
        print("\nFIGURES " + json.dumps(figures))
    assert figures["quiet_cycle_awake_ms"] < 1500
    assert figures["at_exchanges_per_send_cycle"] <= 5  # wake AT (LPM), SEND, RECV=?, ...: see rui3.py
    assert figures["battery_life_days"] > 365
    assert figures["d_cell_life_days"] > 10 * 365
