"""Trigger/echo ranger (JSN-SR04T, RAK12007) tests in the MicroPython Unix port (64 KB heap) on the sims.
Run by tests/firmware/sensors/test_sensor_drivers_mp.py; prints `ok <test>` / `FAIL <test>: <why>`."""

import time

from harness import QuietPin, Tape, check, heap_of, near, pulse_sensor, run
from sensors.jsn_sr04t import JsnSr04t
from sensors.rak12007 import Rak12007
from sensors.ultrasonic import FAULT, NO_ECHO

# ------------------------------------------------------------------ JSN-SR04T


def test_jsn_distance_round_trip():
    world, dev, ranger, hw = pulse_sensor("jsn_sr04t", distance_cm=150.0, temperature_c=20.0)
    near(ranger.measure(20.0), 1500, 2, "distance")
    check(dev.triggers == 5, f"5 pings expected, sensor saw {dev.triggers} triggers")
    check(min(hw["trig"].high_us) >= 20, "trigger pulses {!r} shorter than 20 us".format(hw["trig"].high_us))
    world.env["distance_cm"] = 523.4
    near(ranger.measure(20.0), 5234, 4, "far distance")


def test_jsn_temperature_compensation():
    world, dev, ranger, hw = pulse_sensor("jsn_sr04t", distance_cm=300.0, temperature_c=-15.0)
    near(ranger.measure(-15.0), 3000, 4, "compensated at -15 C")
    uncompensated = ranger.measure(None)  # 20 C assumed: about 6.6 % long
    check(uncompensated > 3150, f"without the temperature it should read ~3200 mm, got {uncompensated}")
    world.env["temperature_c"] = 38.0
    near(ranger.measure(38.0), 3000, 6, "compensated at 38 C")


def test_jsn_blind_zone_is_no_echo():
    _, _, ranger, _ = pulse_sensor("jsn_sr04t", distance_cm=18.0)
    check(ranger.measure(20.0) == NO_ECHO, "18 cm is inside the 25 cm blind zone")
    check(ranger.last_pings[0] > 0, f"the sim did echo (so the driver rejected it): {ranger.last_pings!r}")


def test_jsn_out_of_range_is_no_echo():
    world, _, ranger, _ = pulse_sensor("jsn_sr04t", distance_cm=700.0)
    start = time.ticks_ms()
    check(ranger.measure(20.0) == NO_ECHO, "700 cm is beyond 600 cm")
    elapsed = time.ticks_diff(time.ticks_ms(), start)
    check(elapsed < 5 * (45 + 75), f"5 pings with no target took {elapsed} ms: echo timeout too long")
    world.env["distance_cm"] = None  # nothing at all (lid open)
    check(ranger.measure(20.0) == NO_ECHO, "no target at all")


def test_jsn_unplugged_is_fault():
    world, _, ranger, _ = pulse_sensor("jsn_sr04t")
    world.faults["ultrasonic"] = "unplugged"
    check(ranger.measure(20.0) == FAULT, "unplugged sensor")


def test_jsn_garbage_is_fault():
    world, _, ranger, _ = pulse_sensor("jsn_sr04t")
    world.faults["ultrasonic"] = "garbage"
    results = [ranger.measure(20.0) for _ in range(4)]
    check(all(r in (FAULT, NO_ECHO) for r in results), f"random echo widths gave a distance: {results!r}")
    check(FAULT in results, f"scattered in-range echoes are a fault: {results!r}")


def test_jsn_outlier_rejected():
    world, dev, ranger, _ = pulse_sensor("jsn_sr04t", distance_cm=200.0)
    world.faults["ultrasonic"] = "outliers"  # every third ping hears a false echo at 60 %
    near(ranger.measure(20.0), 2000, 2, "median after outlier rejection")
    check(min(ranger.last_pings) < 1300, f"the sim should have injected a near echo: {ranger.last_pings!r}")


# ------------------------------------------------------------------ RAK12007


def test_rak12007_round_trip_and_power_down():
    world, _, ranger, hw = pulse_sensor("rak12007", distance_cm=87.5, temperature_c=5.0)
    pd = hw["us_power_down"]
    check(pd.value() == 1, "power-down must be high (off) after construction")
    near(ranger.measure(5.0), 875, 2, "distance")
    check(pd.value() == 1, "sensor left powered after the measurement")
    check(0 in pd.history, "power-down was never released")
    check(min(hw["trig"].high_us) >= 12, "trigger shorter than 12 us")


def test_rak12007_range_limits():
    world, _, ranger, _ = pulse_sensor("rak12007", distance_cm=3.0)
    near(ranger.measure(20.0), 30, 2, "3 cm is inside the 2-400 cm range")
    world.env["distance_cm"] = 1.0
    check(ranger.measure(20.0) == NO_ECHO, "1 cm is in the blind zone")
    world.env["distance_cm"] = 420.0
    check(ranger.measure(20.0) == NO_ECHO, "420 cm is beyond the 4 m range")


def test_rak12007_unpowered_is_fault():
    world, _, ranger, _ = pulse_sensor("rak12007")
    world.power["rak12007"] = False  # 3V3_S off: nothing answers
    check(ranger.measure(20.0) == FAULT, "unpowered sensor")


# ------------------------------------------------------------------ figures


def figures():
    """Heap allocated by one measure() of each driver itself (bus answers replayed from a tape)."""
    for cls, kind in ((JsnSr04t, "jsn_sr04t"), (Rak12007, "rak12007")):
        _, dev, _, hw = pulse_sensor(kind)
        tape = Tape(None)
        if kind == "rak12007":
            ranger = cls(hw["trig"], hw["echo"], hw["us_power_down"], pulse_us=tape.pulse_us)
        else:
            ranger = cls(hw["trig"], hw["echo"], pulse_us=tape.pulse_us)
        check(ranger.measure(20.0) > 0, "recording failed")
        tape.play()
        ranger._trig = QuietPin()
        if kind == "rak12007":
            ranger._power_down = QuietPin()
        yield "alloc_bytes_measure_" + kind, heap_of(ranger.measure)
    yield "sim_time_ms_measure_jsn_sr04t", _elapsed_ms(pulse_sensor("jsn_sr04t")[2].measure)
    yield "sim_time_ms_measure_rak12007", _elapsed_ms(pulse_sensor("rak12007")[2].measure)


def _elapsed_ms(call):
    start = time.ticks_ms()
    call(20.0)
    return time.ticks_diff(time.ticks_ms(), start)


run(globals(), figures)
