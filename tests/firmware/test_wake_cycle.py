"""The firmware's wake cycle under the MicroPython Unix port on simulated hardware (see conftest)."""

from noisy_bin import large_batches, noisy_readings

from protocols import codec


def test_first_boot_joins_and_reports_status(make_node):
    node = make_node()
    (boot,) = node.run(1)
    assert boot["reset_cause"] == "power_on" and boot["end"] == "deepsleep"
    (status,) = node.uplinks()
    assert status["type"] == "status"
    assert status["reset_cause"] == "power_on"
    assert status["join_count"] == 1 and status["watchdog_resets"] == 0
    assert status["battery_mv"] == 3900
    cmds = node.world["modem"]["cfg"]
    assert cmds["DEVEUI"] == "70B3D57ED0050100" and cmds["BAND"] == 4
    # next wake is one measurement interval after this one started
    assert 899_000 < boot["sleep_ms"] + boot["awake_ms"] <= 901_000


def test_steady_state_batches_default_eight_samples(make_node):
    node = make_node()
    node.run(1)
    boots = node.run(8)
    frames = node.uplinks()[1:]
    assert [f["type"] for f in frames] == ["batch"]
    assert len(frames[0]["readings"]) == 8
    assert {r["distance_cm"] for r in frames[0]["readings"]} == {80}
    quiet = [b for b in boots if b["at"] == 0]
    assert len(quiet) == 7, "cycles that only store a sample must not talk to the modem"
    assert all(b["tx_ms"] == 0 for b in quiet)


def test_fill_alarm_sent_at_once_with_hysteresis(make_node):
    node = make_node()
    node.run(2)  # joined, one sample stored
    node.edit(env={**node.world["env"], "distance_cm": 20})  # 120 cm bin: 83 % >= 80 %
    node.run(1)
    alarm = node.uplinks()[-1]
    assert "bin_full" in alarm["flags"]
    sent = len(node.uplinks())
    node.edit(env={**node.world["env"], "distance_cm": 30})  # 75 %: inside the 10 % hysteresis band
    node.run(2)
    node.edit(env={**node.world["env"], "distance_cm": 22})  # back over: still the same alarm
    node.run(2)
    assert len(node.uplinks()) == sent, "no new alarm while the bin stays around the threshold"
    node.edit(env={**node.world["env"], "distance_cm": 60})  # 50 %: emptied, alarm clears
    node.run(1)  # a 32-point drop: the batch goes out early (issue 11)
    assert len(node.uplinks()) == sent + 1 and node.uplinks()[-1]["type"] == "batch"
    node.edit(env={**node.world["env"], "distance_cm": 15})
    node.run(1)
    assert len(node.uplinks()) == sent + 2 and "bin_full" in node.uplinks()[-1]["flags"]


def test_fire_alarm_sent_immediately(make_node):
    node = make_node()
    node.run(1)
    node.edit(env={**node.world["env"], "temperature_c": 72.0})
    node.run(1)
    frame = node.uplinks()[-1]
    assert "fire_alarm" in frame["flags"]
    readings = frame.get("readings") or [frame]
    assert abs(readings[-1]["temperature_c"] - 72.0) < 0.5


def test_config_downlink_applied_persisted_and_reported(make_node):
    node = make_node()
    node.run(1)
    data = codec.encode_config({"config_version": 7, "settings": {"batch_size": 2, "full_threshold_pct": 90}})
    node.queue_downlink(codec.PORT_CONFIG, data)
    node.edit(env={**node.world["env"], "temperature_c": 70.0})  # an alarm uplink opens the RX window
    node.run(1)
    report = node.uplinks()[-1]
    assert report["type"] == "config_report" and report["config_version"] == 7
    assert {e["name"]: e["status"] for e in report["entries"]} == {
        "batch_size": "ok",
        "full_threshold_pct": "ok",
    }
    saved = (node.flash / "config.json").read_text()
    assert '"batch_size": 2' in saved and '"config_version": 7' in saved
    node.edit(env={**node.world["env"], "temperature_c": 20.0})
    node.run(2)
    assert node.uplinks()[-1]["type"] == "batch" and len(node.uplinks()[-1]["readings"]) == 2


def test_bad_config_values_rejected_per_key(make_node):
    node = make_node()
    node.run(1)
    data = codec.encode_config({"config_version": 9, "settings": {"batch_size": 4}})
    node.queue_downlink(codec.PORT_CONFIG, data)
    node.edit(env={**node.world["env"], "temperature_c": 70.0})
    node.run(1)
    report = node.uplinks()[-1]
    assert report["type"] == "config_report"
    statuses = {e["id"]: e["status"] for e in report["entries"]}
    assert statuses[2] == "ok"
    node2 = make_node()
    node2.run(1)
    bad = _config_frame(11, [(3, 2, 5), (2, 1, 3), (20, 1, 1), (4, 2, 50)])
    node2.queue_downlink(codec.PORT_CONFIG, bad)
    node2.edit(env={**node2.world["env"], "temperature_c": 70.0})
    node2.run(1)
    report = node2.uplinks()[-1]
    assert report["type"] == "config_report", node2.log[-2000:]
    statuses = {e["id"]: e["status"] for e in report["entries"]}
    assert statuses[3] == "out_of_range" and statuses[2] == "ok" and statuses[20] == "unknown_key"
    assert statuses[4] == "bad_format"
    saved = (node2.flash / "config.json").read_text()
    assert '"bin_height_cm": 120' in saved and '"batch_size": 3' in saved


def _config_frame(version, entries):
    """A config downlink built by hand per SPEC (so it can carry values the fleet encoder refuses)."""
    good = codec.encode_config({"config_version": version, "settings": {}})
    body = bytearray(good)
    for sid, nbytes, value in entries:
        body += bytes([(nbytes << 5) | sid]) + value.to_bytes(nbytes, "big")
    return bytes(body)


def test_corrupt_config_file_falls_back_to_defaults_and_is_reported(make_node):
    node = make_node()
    (node.flash / "config.json").write_text('{"config_version": 3, "settings": {"batch_si')
    node.run(1)
    status = node.uplinks()[0]
    assert status["type"] == "status" and status["config_version"] == 0
    assert "ERROR config: corrupt config.json" in node.log


def test_power_cut_during_config_write_keeps_old_config(make_node):
    node = make_node()
    node.run(1)
    old = (node.flash / "counters.json").exists()
    node.queue_downlink(
        codec.PORT_CONFIG, codec.encode_config({"config_version": 5, "settings": {"batch_size": 3}})
    )
    node.edit(
        env={**node.world["env"], "temperature_c": 70.0},
        faults={"power": "cut_during_flash_write"},
    )
    boots = node.run(2)
    assert boots[0]["end"] == "power_cut" and boots[1]["reset_cause"] == "power_on"
    assert not (node.flash / "config.json").exists(), (
        "the half-written temp file must never become config.json"
    )
    assert old
    # the next config write (no fault) lands whole
    node.queue_downlink(
        codec.PORT_CONFIG, codec.encode_config({"config_version": 6, "settings": {"batch_size": 3}})
    )
    node.edit(env={**node.world["env"], "temperature_c": 20.0})
    node.run(1)
    node.edit(env={**node.world["env"], "temperature_c": 71.0})
    node.run(1)
    assert '"config_version": 6' in (node.flash / "config.json").read_text()


def test_sensor_faults_become_flags(make_node):
    node = make_node(faults={"ultrasonic": "unplugged", "climate": "crc"})
    node.run(1)
    node.edit(env={**node.world["env"], "temperature_c": 20.0})
    node.run(8)
    batch = node.uplinks()[-1]
    assert batch["type"] == "batch"
    assert "ultrasonic_fault" in batch["flags"] and "climate_fault" in batch["flags"]
    assert all(r["distance_cm"] is None and r["temperature_c"] is None for r in batch["readings"])


def test_silent_modem_is_reset_and_recovers(make_node):
    node = make_node()
    node.run(1)
    node.edit(faults={"modem": "silent"})
    node.run(8)  # the batch is due: modem does not answer
    assert "modem silent" in node.log and "modem answers again after reset" in node.log
    node.run(1)
    frames = node.uplinks()
    assert frames[-1]["type"] in ("batch", "status")
    assert any(f["type"] == "batch" for f in frames[1:])


def test_join_failures_back_off(make_node):
    node = make_node(radio={"rssi": -120, "snr": -15, "join_fail": 3})
    boots = node.run(12)  # 3 hours at 15 min
    delays = [int(line.rsplit(" ", 2)[-2]) for line in node.log.splitlines() if "join failed" in line]
    assert delays == [900, 1800, 3600], node.log[-2000:]
    tried = [i for i, b in enumerate(boots) if b["at"] > 0]
    assert tried[:4] == [0, 1, 3, 7], tried  # no modem traffic while backing off
    assert any(f["type"] == "status" and f["join_count"] == 1 for f in node.uplinks())


def test_watchdog_reset_is_counted_and_reported(make_node):
    node = make_node()
    node.run(1)
    node.edit(faults={"i2c": "hang"})
    boots = node.run(1)
    assert boots[0]["end"] == "watchdog"
    node.edit(faults={})
    node.run(1)
    status = node.uplinks()[-1]
    assert status["type"] == "status"
    assert status["reset_cause"] == "watchdog" and status["watchdog_resets"] == 1


def test_unprovisioned_node_sleeps_long_without_crashing(make_node):
    node = make_node(provision=None)
    boots = node.run(3)
    assert [b["end"] for b in boots] == ["deepsleep"] * 3
    assert all(b["sleep_ms"] == 3_600_000 and b["at"] == 0 for b in boots)
    assert "UNPROVISIONED: provision.json missing" in node.log


def test_events_in_any_order_and_old_spelling(make_node):
    node = make_node(radio={"rssi": -90, "snr": 5, "evt_order": "tx_first", "spaced": True})
    node.run(1)
    node.queue_downlink(codec.PORT_COMMAND, codec.encode_command("status_now"))
    node.edit(env={**node.world["env"], "temperature_c": 70.0})
    node.run(1)
    assert [f["type"] for f in node.uplinks()][-2:][1] == "status"


def test_commands_reboot_measure_now_rejoin(make_node):
    node = make_node()
    node.run(1)
    node.queue_downlink(codec.PORT_COMMAND, codec.encode_command("measure_now"))
    node.edit(env={**node.world["env"], "temperature_c": 70.0})
    boots = node.run(2)
    assert boots[0]["sleep_ms"] <= 5000, "measure_now wakes the node again within seconds"
    assert node.uplinks()[-1]["type"] in ("measurement", "batch")
    node.queue_downlink(codec.PORT_COMMAND, codec.encode_command("reboot"))
    node.edit(env={**node.world["env"], "temperature_c": 20.0, "distance_cm": 15})
    boots = node.run(2)
    # machine.reset() is esp_restart(): HARD_RESET on the ESP32 port (modmachine.c mp_machine_reset_cause)
    assert boots[0]["end"] == "reset" and boots[1]["reset_cause"] == "hard"
    assert node.uplinks()[-1]["type"] == "status" and node.uplinks()[-1]["reset_cause"] == "hard"
    joins = node.uplinks()[-1]["join_count"]
    node.queue_downlink(codec.PORT_COMMAND, codec.encode_command("rejoin"))
    node.edit(env={**node.world["env"], "distance_cm": 60})
    node.run(1)
    node.edit(env={**node.world["env"], "temperature_c": 75.0})
    node.run(1)
    node.queue_downlink(codec.PORT_COMMAND, codec.encode_command("status_now"))
    node.edit(env={**node.world["env"], "temperature_c": 20.0, "distance_cm": 10})
    node.run(1)
    assert node.uplinks()[-1]["type"] == "status" and node.uplinks()[-1]["join_count"] == joins + 1


def test_busy_modem_is_retried(make_node):
    node = make_node(faults={"modem": "busy"})
    node.run(1)
    assert node.uplinks()[0]["type"] == "status"
    assert node.world["stats"]["at"] >= 14


def test_batch_larger_than_dr0_payload_is_split(make_node):
    node = make_node()
    large_batches(node, 32)
    frames_before = len(node.uplinks())
    noisy_readings(node, 32)
    frames = node.uplinks()[frames_before:]
    sizes = [len(bytes.fromhex(u["data"])) for u in node.world["uplinks"][frames_before:]]
    assert len(frames) >= 2 and all(s <= 51 for s in sizes), sizes
    assert sum(len(f.get("readings", [f])) for f in frames if f["type"] in ("batch", "measurement")) == 32


def test_confirmed_uplinks_after_config_change(make_node):
    node = make_node()
    node.run(1)
    node.queue_downlink(
        codec.PORT_CONFIG, codec.encode_config({"config_version": 3, "settings": {"confirmed": 1}})
    )
    node.edit(env={**node.world["env"], "temperature_c": 70.0})
    node.run(1)
    ups = node.world["uplinks"]
    assert ups[-2]["confirmed"] is False and ups[-1]["confirmed"] is True  # the report already goes confirmed
    assert node.world["modem"]["cfg"]["CFM"] == 1
    node.edit(
        radio={**node.world["radio"], "dead_zone": True}, env={**node.world["env"], "temperature_c": 20.0}
    )
    node.run(8)
    assert "not acknowledged" in node.log


def test_bad_provisioning_names_the_field_and_stays_safe(make_node):
    from fw_defaults import PROVISION

    node = make_node(provision={**PROVISION, "app_key": "00112233"})
    boots = node.run(2)
    assert all(b["sleep_ms"] == 3_600_000 and b["at"] == 0 for b in boots)
    assert "app_key must be 32 hex digits" in node.log
    assert node.world.get("uplinks", []) == []


def test_corrupt_rtc_memory_starts_afresh(make_node):
    node = make_node()
    node.run(3)
    image = bytearray.fromhex(node.world["rtc_memory"])
    image[20] ^= 0xFF  # one flipped byte: the checksum no longer matches
    node.edit(rtc_memory=image.hex())
    node.run(1)
    assert "RTC state lost or corrupt" in node.log
    node.run(8)
    batch = node.uplinks()[-1]
    assert batch["type"] == "batch" and len(batch["readings"]) == 8  # the 2 stored samples were dropped


def test_rak11200_with_rak12007_and_shtc3(make_node):
    from fw_defaults import PROVISION

    prov = {**PROVISION, "board": "rak11200", "ultrasonic": "rak12007", "climate": "shtc3"}
    node = make_node(provision=prov)
    node.run(9)
    batch = node.uplinks()[-1]
    assert batch["type"] == "batch" and batch["flags"] == []
    assert {r["distance_cm"] for r in batch["readings"]} <= {79, 80, 81}
    assert batch["battery_mv"] == 3900  # AIN0 through the 0.6 divider


def test_sensor_the_board_cannot_host_is_a_fault_flag_not_a_crash(make_node):
    from fw_defaults import PROVISION

    node = make_node(provision={**PROVISION, "board": "rak11200", "ultrasonic": "a02yyuw"})
    node.run(9)
    assert "needs hardware 'sensor_uart'" in node.log
    batch = node.uplinks()[-1]
    assert batch["type"] == "batch" and batch["flags"] == ["ultrasonic_fault"]


def test_modem_that_lost_its_session_is_joined_again(make_node):
    node = make_node()
    node.run(1)
    modem = node.world["modem"]
    modem["joined"] = False  # e.g. the modem browned out on its own while the ESP32 slept
    node.edit(modem=modem, env={**node.world["env"], "temperature_c": 70.0})
    node.run(1)
    assert "modem lost its session: join again" in node.log
    assert "fire_alarm" in node.uplinks()[-1]["flags"]
    assert node.world["modem"]["joined"] is True


def test_config_pending_flag_until_the_report_is_acknowledged(make_node):
    node = make_node()
    node.run(1)
    node.edit(radio={"rssi": -90, "snr": 5, "no_ack": True})  # confirmed uplinks go out but are never acked
    data = codec.encode_config({"config_version": 8, "settings": {"confirmed": 1, "batch_size": 2}})
    node.queue_downlink(codec.PORT_CONFIG, data)
    node.edit(env={**node.world["env"], "temperature_c": 70.0})  # alarm uplink opens the RX window
    node.run(1)
    assert [f["type"] for f in node.uplinks()][-2:] == ["batch", "config_report"]  # alarm, then report
    assert "config_pending" not in node.uplinks()[-2]["flags"], "nothing applied yet when the alarm left"
    node.edit(env={**node.world["env"], "temperature_c": 20.0})
    node.run(2)
    batches = [f for f in node.uplinks() if f["type"] == "batch"]
    assert batches and "config_pending" in batches[-1]["flags"], "applied but unreported config is flagged"
    reports = [f for f in node.uplinks() if f["type"] == "config_report"]
    assert len(reports) >= 2, "an unacknowledged report is sent again in a later cycle"
    node.edit(radio={"rssi": -90, "snr": 5})  # acks get through again: the report is delivered
    node.run(1)
    sent = len(node.uplinks())
    node.run(2)
    after = node.uplinks()[sent:]
    assert [f["type"] for f in after] == ["batch"], after
    assert "config_pending" not in after[0]["flags"]
