"""The firmware's live heap peak per kind of cycle must fit 64 KB on this 64-bit port (objects are made of
pointers, twice an ESP32's, so the device needs less).

KUMPEL_SIM_HEAP_EXACT collects garbage at every simulated clock step, so the peak is live data, not
garbage awaiting a collection. It is counted from the sim layer's heap before the firmware first ran in
the process (the sim's sensor models already built), so the names the firmware interns, which a real node
interns again on every wake, count as the firmware's own.
"""

from protocols import codec

HEAP_LIMIT = 64 * 1024


def test_heap_peak_per_cycle(make_node, monkeypatch, capsys):
    monkeypatch.setenv("KUMPEL_SIM_HEAP_EXACT", "1")
    node = make_node()
    (first,) = node.run(1)
    boots = node.run(8)  # 7 quiet cycles, then the batch goes out
    quiet = [b for b in boots if b["at"] == 0]
    send = [b for b in boots if b["at"] > 0]
    assert len(quiet) == 7 and len(send) == 1
    node.queue_downlink(
        codec.PORT_CONFIG, codec.encode_config({"config_version": 3, "settings": {"batch_size": 2}})
    )
    node.edit(env={**node.world["env"], "temperature_c": 70.0})
    (config,) = node.run(1)
    assert node.uplinks()[-1]["type"] == "config_report"
    peaks = {
        "first_boot": first["heap_peak"],
        "quiet": max(b["heap_peak"] for b in quiet),
        "send": send[0]["heap_peak"],
        "config_downlink": config["heap_peak"],
    }
    with capsys.disabled():
        print("\nHEAP_PEAKS " + str(peaks))
    for kind, peak in peaks.items():
        assert 10_000 < peak <= HEAP_LIMIT, (kind, peak)


def test_heap_peak_of_the_largest_batch(make_node, monkeypatch, capsys):
    """The worst send: 32 readings that don't compress, split into several frames to fit DR0's 51 bytes."""
    monkeypatch.setenv("KUMPEL_SIM_HEAP_EXACT", "1")
    node = make_node()
    node.run(1)
    settings = {"batch_size": 32, "bin_height_cm": 1000, "full_threshold_pct": 100}
    node.queue_downlink(codec.PORT_CONFIG, codec.encode_config({"config_version": 2, "settings": settings}))
    node.edit(env={**node.world["env"], "temperature_c": 70.0})
    node.run(1)
    boots = []
    for i in range(32):
        env = {"distance_cm": 25 + (i * 97) % 400, "temperature_c": (i * 13) % 50 - 10 + 0.1 * i}
        node.edit(env={**node.world["env"], **env, "humidity_pct": (i * 41) % 100})
        boots += node.run(1)
    split = max(boots, key=lambda b: b["heap_peak"])
    with capsys.disabled():
        print(f"\nHEAP_PEAK largest batch {split['heap_peak']}")
    assert 10_000 < split["heap_peak"] <= HEAP_LIMIT
