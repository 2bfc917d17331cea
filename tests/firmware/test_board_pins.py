"""The ESP32 side in deep sleep and at reset (issue 11, section 2): pad hold, pulls, reset causes.

The simulated `machine` releases outputs that are not held in deep sleep and reports what that leaks
(trace `sleep_leak_ua`), as the ESP32 port does (docs/esp32/quickref.rst "Deep-sleep mode").
"""

import pytest
from fw_defaults import PROVISION


@pytest.mark.parametrize(
    "board,ultrasonic,climate",
    [("devkit_rak3172", "a02yyuw", "bme280"), ("rak11200", "rak12007", "shtc3")],
)
def test_outputs_are_held_in_deep_sleep(make_node, board, ultrasonic, climate):
    node = make_node(provision={**PROVISION, "board": board, "ultrasonic": ultrasonic, "climate": climate})
    boots = node.run(3)
    assert [b["sleep_leak_ua"] for b in boots] == [0, 0, 0], node.log[-2000:]
    held = {pin for pin, *_ in node.world["held_pads"]}
    assert held, "the outputs are held through the sleep"
    batch_sensors_ok = node.run(6)
    assert all(b["sleep_leak_ua"] == 0 for b in batch_sensors_ok)
    batch = node.uplinks()[-1]
    assert batch["type"] == "batch" and batch["flags"] == [], "held pads released at wake: sensors work"


def test_sim_released_outputs_leak_and_held_pads_ignore_writes(make_node):
    code = (
        "import machine\n"
        "p = machine.Pin(25, machine.Pin.OUT, value=0, hold=True)\n"
        "p.value(1)\n"
        "print('LEVEL', p.value())\n"
        "machine.Pin(4, machine.Pin.OUT, value=1)\n"  # NRST, released in sleep
        "machine.deepsleep(1000)\n"
    )
    node = make_node()
    (boot,) = node.run(1, exec_code=code)
    assert "LEVEL 0" in node.log  # a held pad keeps its latched level
    assert boot["sleep_leak_ua"] == 40  # GPIO4's pull-down against the modem's NRST pull-up
    held_against_pull = (
        "import machine\nmachine.Pin(4, machine.Pin.OUT, value=1, hold=True)\nmachine.deepsleep(1)\n"
    )
    (boot,) = make_node().run(1, exec_code=held_against_pull)
    assert boot["sleep_leak_ua"] == 73, "held high against the reset-default pull-down of GPIO4"


def test_machine_reset_reports_hard_reset(make_node):
    (boot,) = make_node().run(1, exec_code="import machine\nmachine.reset()\n")
    assert boot["end"] == "reset"
    (boot,) = make_node().run(1, exec_code="import machine\nmachine.soft_reset()\n")
    assert boot["end"] == "reset"
    node = make_node()
    node.run(1, exec_code="import machine\nmachine.reset()\n")
    assert node.world["reset_cause"] == 2  # HARD_RESET, as esp_restart() is reported on the ESP32 port


@pytest.mark.parametrize("addr", [0x76, 0x77])
def test_bme280_found_at_either_address(make_node, addr):
    # SDO low: 0x76, SDO high: 0x77 (BME280 datasheet 6.2); many breakouts strap it high
    prov = {**PROVISION, "climate": "bme280"}
    devices = {"board": "devkit_rak3172", "ultrasonic": "a02yyuw", "climate": "bme280", "climate_addr": addr}
    node = make_node(provision=prov, devices=devices)
    node.run(9)
    batch = node.uplinks()[-1]
    assert batch["type"] == "batch" and batch["flags"] == [], node.log[-1500:]
    assert {r["temperature_c"] for r in batch["readings"]} == {18.5}
