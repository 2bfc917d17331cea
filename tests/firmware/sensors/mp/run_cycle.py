"""One wake cycle's worth of sensing, with only the drivers a real node carries loaded (SHTC3 + A02YYUW),
in the MicroPython Unix port with a 64 KB heap. Run by tests/firmware/sensors/test_sensor_drivers_mp.py."""

import machine
import simdevices
from fakeworld import World
from harness import check, near, run
from sensors import build
from sensors.ultrasonic import FAULT


def test_one_wake_cycle_climate_feeds_ultrasonic():
    """As the app does it: one hw dict, climate first, its temperature corrects the ultrasonic reading."""
    world = World(distance_cm=250.0, temperature_c=-5.0)
    i2c = machine.I2C(simdevices.make("shtc3", world))
    uart = machine.UART(simdevices.make("a02yyuw", world))
    ultrasonic, climate = build({"i2c": i2c, "sensor_uart": uart}, "a02yyuw", "shtc3")
    temperature, _, _ = climate.read()
    near(ultrasonic.measure(temperature), 2500, 3, "distance at -5 C")


def test_one_wake_cycle_with_climate_fault():
    """A dead climate sensor: the ultrasonic still measures (20 C assumed), the cycle goes on."""
    world = World(distance_cm=120.0, temperature_c=20.0)
    world.faults["climate"] = "nack"
    i2c = machine.I2C(simdevices.make("shtc3", world))
    uart = machine.UART(simdevices.make("a02yyuw", world))
    ultrasonic, climate = build({"i2c": i2c, "sensor_uart": uart}, "a02yyuw", "shtc3")
    reading = climate.read()
    near(ultrasonic.measure(reading[0] if reading else None), 1200, 2, "distance without a temperature")
    world.faults["ultrasonic"] = "unplugged"
    check(ultrasonic.measure(None) == FAULT, "unplugged ultrasonic")


run(globals())
