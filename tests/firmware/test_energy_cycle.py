"""What a wake cycle spends (issue 11, section 3): sensor supply on-time, frames waited for, light sleep,
uplinks sent, and the per-phase log that tells where the awake time goes. Figures from the simulated
hardware's trace (simworld: sensor_ms, light_ms, imports)."""

import re

from protocols import codec


def test_sensor_supply_is_off_while_the_radio_works(make_node):
    node = make_node()
    (boot,) = node.run(1)  # first boot: setup, join and a status uplink take seconds at SF12
    assert boot["awake_ms"] > 5000
    assert boot["sensor_ms"] < 700, "the sensors were powered through the join and the uplink"


def test_a02yyuw_is_read_only_as_long_as_the_frames_agree(make_node):
    node = make_node()
    node.run(1)
    (quiet,) = node.run(1)
    assert quiet["at"] == 0
    # warm-up 20 ms + SHTC3 + three 100 ms frames that agree (was five frames, ~560 ms of sensor power)
    assert quiet["sensor_ms"] <= 420, quiet
    assert node.uplinks()[-1]["type"] == "status"


def test_outliers_still_get_all_five_frames_and_the_median(make_node):
    node = make_node(faults={"ultrasonic": "outliers"})  # every third ping hears a false echo at 60 %
    node.run(1)
    node.run(8)
    batch = [f for f in node.uplinks() if f["type"] == "batch"][-1]
    assert {r["distance_cm"] for r in batch["readings"]} == {80}


def test_frames_are_waited_for_in_light_sleep(make_node):
    node = make_node()
    node.run(1)
    (quiet,) = node.run(1)
    assert quiet["light_ms"] >= 150, quiet  # the CPU naps between A02YYUW frames instead of polling


def test_emptied_bin_sends_its_batch_early(make_node):
    node = make_node()
    node.run(1)  # joined; status sent
    node.run(2)  # 80 cm of a 120 cm bin: 33 %
    node.edit(env={**node.world["env"], "distance_cm": 116})  # emptied: 3 %
    node.run(1)
    frames = node.uplinks()
    assert frames[-1]["type"] == "batch", "a bin that moved 30 points waits for the full batch"
    assert frames[-1]["readings"][-1]["distance_cm"] == 116
    node.run(3)  # sitting still again: no uplink until the batch is full
    assert len(node.uplinks()) == len(frames)


def test_still_bin_keeps_the_batch_size(make_node):
    node = make_node()
    node.run(1)
    node.run(8)
    assert [f["type"] for f in node.uplinks()] == ["status", "batch"]
    assert len(node.uplinks()[-1]["readings"]) == 8


def test_phase_log_says_where_the_awake_time_goes(make_node):
    node = make_node()
    node.run(1)
    node.log = ""
    (quiet,) = node.run(1)
    line = [x for x in node.log.splitlines() if "phases ms:" in x][-1]
    phases = dict((k, int(v)) for k, v in re.findall(r"(\w+)=(\d+)", line))
    assert set(phases) >= {"setup", "restore", "measure", "decide", "radio", "persist"}
    assert phases["measure"] >= 300  # the ranger's frames dominate a quiet cycle
    assert quiet["imports"] >= 8  # modules a quiet cycle loads (each costs flash time on an ESP32)
    assert codec  # the frames above were decoded with the contract's codec
