"""Climate, battery and build() tests run in the MicroPython Unix port (64 KB heap) against the sim
I2C sensors. Run by tests/firmware/sensors/test_sensor_drivers_mp.py."""

import machine
import simdevices
from fakeworld import World
from harness import Tape, check, climate_sensor, heap_of, near, run
from sensors import battery, build

# ------------------------------------------------------------------ SHTC3 / SHT4x


def test_shtc3_round_trip_and_sleep():
    world, dev, climate = climate_sensor("shtc3", temperature_c=23.45, humidity_pct=61.2)
    t, rh, p = climate.read()
    near(t, 23.45, 0.005, "temperature")
    near(rh, 61.2, 0.005, "humidity")
    check(p is None, "SHTC3 has no pressure")
    check(dev.asleep, "SHTC3 not sent back to sleep")
    world.env["temperature_c"] = -20.0
    t, _, _ = climate.read()  # must wake it first: asleep it NACKs the measure command
    near(t, -20.0, 0.005, "temperature after sleep")


def test_shtc3_crc_nack_garbage():
    world, dev, climate = climate_sensor("shtc3")
    for fault in ("crc", "nack", "garbage", "unplugged"):
        world.faults["climate"] = fault
        check(climate.read() is None, f"fault {fault} must read as None")
    world.faults.clear()
    check(climate.read() is not None, "recovers when the fault clears")


def test_sht4x_round_trip_and_clamp():
    world, dev, climate = climate_sensor("sht4x", temperature_c=-7.3, humidity_pct=88.8)
    t, rh, p = climate.read()
    near(t, -7.3, 0.005, "temperature")
    near(rh, 88.8, 0.005, "humidity")
    world.env["humidity_pct"] = 100.0
    near(climate.read()[1], 100.0, 0.01, "saturated humidity")


def test_sht4x_faults():
    world, dev, climate = climate_sensor("sht4x")
    for fault in ("crc", "nack"):
        world.faults["climate"] = fault
        check(climate.read() is None, f"fault {fault} must read as None")


def test_wrong_sensor_at_address_is_none():
    world = World()
    dev = simdevices.make("sht4x", world)  # answers at 0x44, the driver asks 0x70
    _, climate = build({"i2c": machine.I2C(dev)}, None, "shtc3")
    check(climate.read() is None, "no device at 0x70")


# ------------------------------------------------------------------ BME280


def test_bme280_round_trip():
    for t, p, h in ((21.37, 987.65, 44.4), (-25.0, 1031.0, 91.0), (48.5, 850.0, 12.5)):
        world, dev, climate = climate_sensor("bme280", temperature_c=t, pressure_hpa=p, humidity_pct=h)
        got = climate.read()
        check(got is not None, f"no reading at {(t, p, h)!r}")
        near(got[0], t, 0.02, "temperature")
        near(got[2], p, 0.05, "pressure")
        near(got[1], h, 0.1, "humidity")


def test_bme280_faults():
    world, dev, climate = climate_sensor("bme280")
    for fault in ("nack", "crc", "garbage"):
        world.faults["climate"] = fault
        check(climate.read() is None, f"fault {fault} must read as None")
    world.faults.clear()
    near(climate.read()[0], 20.0, 0.02, "recovers when the fault clears")


def test_bme280_calibration_not_cached_from_a_bad_read():
    world, dev, climate = climate_sensor("bme280", temperature_c=12.0)
    world.faults["climate"] = "nack"
    check(climate.read() is None, "nack")
    world.faults.clear()
    near(climate.read()[0], 12.0, 0.02, "after the sensor came back")


# ------------------------------------------------------------------ battery, build


def test_battery_divider_and_faults():
    adc = machine.ADC([2_210_000, 2_230_000])  # 2.22 V average at the pin, divider 0.6 -> 3700 mV
    check(battery.Battery(adc, 0.6).read_mv() == 3700, "battery mV")
    check(battery.Battery(machine.ADC(fail=True), 0.6).read_mv() is None, "ADC error")
    check(battery.Battery(machine.ADC(0), 0.6).read_mv() is None, "no battery")
    try:
        battery.Battery(adc, 1.6)
    except ValueError as e:
        check("ratio" in str(e), f"error should name the ratio: {e}")
    else:
        check(False, "ratio > 1 accepted")


def test_build_errors_name_the_problem():
    check(build({}, None, None) == (None, None), "nothing fitted")
    for args, word in (
        (({}, "hcsr04", None), "hcsr04"),
        (({}, None, "dht22"), "dht22"),
        (({}, "a02yyuw", None), "sensor_uart"),
        (({}, None, "bme280"), "i2c"),
    ):
        try:
            build(*args)
        except ValueError as e:
            check(word in str(e), f"error {str(e)!r} should name {word!r}")
        else:
            check(False, f"build{args!r} accepted")


# ------------------------------------------------------------------ figures


def figures():
    """Heap allocated by one read() of each driver itself (bus answers replayed from a tape)."""
    for kind in ("shtc3", "sht4x", "bme280"):
        world = World()
        tape = Tape(machine.I2C(simdevices.make(kind, world)))
        _, climate = build({"i2c": tape}, None, kind)
        climate.read()  # BME280: reads and keeps the calibration
        tape.log = []
        check(climate.read() is not None, "recording failed")
        tape.play()
        yield "alloc_bytes_read_" + kind, heap_of(climate.read)


run(globals(), figures)
