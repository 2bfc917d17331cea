"""What a real RAK3172 running RUI3 does that a naive driver misses (issue 11, section 1).

Each behaviour is modelled in tools/emulator/sim/simmodem.py from RUI3's source (RAK-STM32-RUI) and the
firmware runs unchanged under MicroPython against it.
"""

from noisy_bin import large_batches, noisy_readings


def _cmds(node, prefix):
    return [line for line in node.log.splitlines() if prefix in line]


def test_one_join_request_per_failed_wake(make_node):
    # RUI3 retries while its counter <= AT+JOIN's last field: `:1` sent a second request after the
    # firmware had given up and slept (its JOINED lost, the airtime doubled)
    node = make_node(radio={"rssi": -120, "snr": -15, "join_fail": 3})
    node.run(12)
    modem = node.world["modem"]
    assert modem["join_params"][3] == 0, modem["join_params"]
    assert modem["join_requests"] == 4, "3 failed wakes + the one that joined, one request each"
    assert any(f["type"] == "status" and f["join_count"] == 1 for f in node.uplinks())


def test_sim_modem_retries_joins_as_rui3_does(make_node):
    # the simulated part itself: AT+JOIN=1:0:8:1 is two requests, JOINED after the first failure
    node = make_node(radio={"rssi": -90, "snr": 5, "join_fail": 1})
    code = (
        "import machine, time\n"
        "u = machine.UART(2)\n"
        "for c in ('AT+APPEUI=0000000000000001', 'AT+APPKEY=' + '00' * 16, 'AT+JOIN=1:0:8:1'):\n"
        "    u.write(c + '\\r\\n'); time.sleep_ms(10)\n"
        "time.sleep_ms(30000)\n"
        "print('LINES', u.read())\n"
    )
    node.run(1, exec_code=code)
    out = node.log.split("LINES", 1)[1]
    assert "JOIN_FAILED_RX_TIMEOUT" in out and "JOINED" in out.split("JOIN_FAILED_RX_TIMEOUT", 1)[1]
    assert node.world["modem"]["join_requests"] == 2


def test_mac_answers_that_do_not_fit_do_not_stall_the_backlog(make_node):
    # 51-byte frames at DR0 + 5 bytes of pending MAC answers: RUI3 sends an empty frame with the answers
    # and answers AT_PARAM_ERROR; sticky answers stay pending, so the batch must get smaller
    node = make_node()
    large_batches(node, 16)
    node.edit(radio={**node.world["radio"], "mac_pending": 5, "mac_sticky": True})
    sent = len(node.world["uplinks"])
    noisy_readings(node, 16)
    node.run(2)
    frames = [f for f in node.uplinks()[sent:] if f["type"] in ("batch", "measurement")]
    assert sum(len(f.get("readings", [f])) for f in frames) >= 16, node.log[-3000:]
    assert node.world["modem"]["mac_frames"] >= 1
    sizes = [len(bytes.fromhex(u["data"])) for u in node.world["uplinks"][sent:]]
    assert all(s + 5 <= 51 for s in sizes), sizes


def test_mac_answers_flushed_then_the_same_frame_goes(make_node):
    node = make_node()
    large_batches(node, 16)
    node.edit(radio={**node.world["radio"], "mac_pending": 15})  # answered once, then gone
    sent = len(node.world["uplinks"])
    noisy_readings(node, 16)
    frames = node.uplinks()[sent:]
    assert sum(len(f.get("readings", [f])) for f in frames if f["type"] == "batch") == 16, node.log[-3000:]
    assert node.world["modem"]["mac_frames"] == 1
    sizes = [len(bytes.fromhex(u["data"])) for u in node.world["uplinks"][sent:]]
    assert max(sizes) > 51 - 15, "answers flushed: full-size frames again, no permanent headroom"


def test_first_byte_after_lpm_wake_is_corrupted(make_node):
    # every wake after the first: the modem slept (AT+LPM=1) and garbles the byte that wakes it
    node = make_node()
    node.run(1)
    node.run(8)
    assert [f["type"] for f in node.uplinks()] == ["status", "batch"], node.log[-2000:]
    assert "refused" not in node.log
    assert node.world["modem"]["joined"] is True  # no join back-off started by a garbled command


def test_line_noise_on_the_modem_uart_is_survived(make_node):
    node = make_node(faults={"modem": "noise"})
    node.run(9)
    assert "UnicodeError" not in node.log
    assert [f["type"] for f in node.uplinks()] == ["status", "batch"], node.log[-2000:]


def test_dead_modem_backs_off(make_node):
    node = make_node()
    node.run(1)
    node.edit(faults={"modem": "dead"})
    boots = node.run(8 + 24)  # 8 h: a full batch is due every cycle from the 8th on
    tried = [i for i, b in enumerate(boots) if b["at"] > 0]
    assert len(tried) <= 5, tried  # 15 min, 30 min, 1 h, 2 h, 4 h apart, not every 15 minutes
    assert "next attempt in 900 s" in node.log and "next attempt in 1800 s" in node.log
    node.edit(faults={})
    node.run(24)  # the back-off ends; the stored samples go out
    assert node.uplinks()[-1]["type"] in ("batch", "status")


def test_setup_writes_the_modem_flash_only_when_a_value_differs(make_node):
    node = make_node()
    node.run(1)
    first = node.world["modem"]["flash_writes"]
    assert first == 4  # a factory-fresh modem: join EUI, app key, LPM, AT+JOIN's start field
    node.edit(faults={"modem": "silent"})
    node.run(8)  # silent, reset, set up again
    node.edit(faults={})
    node.run(2)
    assert "modem answers again after reset" in node.log
    assert node.world["modem"]["flash_writes"] == first + 0, "nothing differed: nothing rewritten"
    assert node.uplinks()[-1]["type"] in ("batch", "status")


def test_duty_cycle_busy_is_not_hammered(make_node):
    node = make_node()
    node.run(7)  # the 8th sample makes the batch due
    modem = node.world["modem"]
    modem["dc"] = [node.world["time_us"] - 60_000_000, 100]  # 59 min of the window left, 0.1 s credit
    node.edit(modem=modem)
    (boot,) = node.run(1)
    assert "waits: AT_BUSY_ERROR (duty cycle" in node.log, node.log[-2000:]
    assert boot["awake_ms"] < 3000, "no 2-second busy retries while the band is closed"
    assert node.uplinks()[-1]["type"] == "status" and node.world["stats"]["at"] < 40
    sent = len(node.uplinks())
    node.run(6)  # the window has passed: the batch goes
    batches = [f for f in node.uplinks()[sent:] if f["type"] == "batch"]
    assert batches and len(batches[0]["readings"]) >= 8, node.log[-3000:]


def test_setup_sets_a_value_the_modem_will_not_read_out(make_node):
    # RUI3 lets a build make a key write-only (atcmd_permission.h): reading it answers AT_PARAM_ERROR
    node = make_node(faults={"modem": "appkey_write_only"})
    node.run(1)
    assert node.uplinks()[0]["type"] == "status", node.log[-1500:]
    assert node.world["modem"]["cfg"]["APPKEY"] == "000102030405060708090A0B0C0D0E0F"
