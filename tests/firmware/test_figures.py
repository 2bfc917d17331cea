"""A simulated day at the default 15-minute interval: the figures of firmware/README.md, and the energy
budget they imply (a regression that keeps the node awake longer or talks more fails here)."""

import json

# Energy model (firmware/README.md): RAK11200 + RAK3172, 3400 mAh Li-ion, 80 % of it usable.
SLEEP_UA = 20.0  # ESP32 deep sleep ~10 uA + RAK3172 sleep ~2 uA + divider and regulator
AWAKE_MA = 45.0  # ESP32 running MicroPython at 160 MHz, sensors powered
TX_EXTRA_MA = 45.0  # RAK3172 transmitting at 14 dBm, on top of AWAKE_MA
CAPACITY_MAH = 3400 * 0.8


def battery_life_days(boots, sleep_ua=SLEEP_UA, awake_ma=AWAKE_MA, tx_ma=TX_EXTRA_MA):
    day_ms = 86_400_000
    awake_ms = sum(b["awake_ms"] for b in boots)
    tx_ms = sum(b["tx_ms"] for b in boots)
    span_ms = sum(b["awake_ms"] + b["sleep_ms"] for b in boots)
    scale = day_ms / span_ms
    mah_per_day = (awake_ms * awake_ma + tx_ms * tx_ma) * scale / 3_600_000 + sleep_ua / 1000 * 24
    return CAPACITY_MAH / mah_per_day


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
        "battery_life_days": round(battery_life_days(boots)),
    }
    with capsys.disabled():
        print("\nFIGURES " + json.dumps(figures))
    assert figures["quiet_cycle_awake_ms"] < 1500
    assert figures["at_exchanges_per_send_cycle"] <= 5  # wake AT (LPM), SEND, RECV=?, ...: see rui3.py
    assert figures["battery_life_days"] > 365
