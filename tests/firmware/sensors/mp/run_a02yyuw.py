"""A02YYUW UART ranger tests run in the MicroPython Unix port (64 KB heap) against the sim module.
Run by tests/firmware/sensors/test_sensor_drivers_mp.py; prints `ok <test>` / `FAIL <test>: <why>`."""

import time

from harness import Tape, check, heap_of, near, run, uart_sensor
from sensors.a02yyuw import A02yyuw
from sensors.ultrasonic import FAULT, NO_ECHO

# ------------------------------------------------------------------ A02YYUW


def test_a02_distance_round_trip():
    world, dev, ranger, _ = uart_sensor(distance_cm=195.3, temperature_c=20.0)
    start = time.ticks_ms()
    near(ranger.measure(20.0), 1953, 2, "distance")
    elapsed = time.ticks_diff(time.ticks_ms(), start)
    # three agreeing frames are the reading (issue 11: read only as long as needed); were five
    check(200 <= elapsed <= 450, f"3 agreeing frames at 100 ms should take ~0.3 s, took {elapsed} ms")
    check(dev.pings == 3, f"3 frames expected once they agree, the driver took {dev.pings}")


def test_a02_temperature_compensation():
    world, _, ranger, _ = uart_sensor(distance_cm=250.0, temperature_c=-10.0)
    near(ranger.measure(-10.0), 2500, 4, "compensated at -10 C")
    check(ranger.measure(None) > 2580, "the module's own 20 C figure should read ~5 % long")


def test_a02_discards_stale_frames():
    world, _, ranger, uart = uart_sensor(distance_cm=100.0)
    ranger.measure(20.0)
    time.sleep_ms(2000)
    uart.any()  # the RX buffer now holds 2 s of frames saying 100 cm
    world.env["distance_cm"] = 200.0
    near(ranger.measure(20.0), 2000, 2, "fresh reading after the bin changed")


def test_a02_resyncs_on_noise():
    world, dev, ranger, _ = uart_sensor(distance_cm=333.3)
    world.faults["ultrasonic"] = "noisy"  # junk bytes between frames
    near(ranger.measure(20.0), 3333, 2, "distance through junk bytes")


def test_a02_bad_checksum_is_fault():
    world, _, ranger, _ = uart_sensor()
    world.faults["ultrasonic"] = "crc"
    check(ranger.measure(20.0) == FAULT, "frames with bad checksums")
    check(ranger.frames_bad > 0, "checksum failures should be counted")


def test_a02_garbage_is_fault():
    world, _, ranger, _ = uart_sensor()
    world.faults["ultrasonic"] = "garbage"
    check(ranger.measure(20.0) == FAULT, "random bytes")


def test_a02_silent_line_times_out():
    world, _, ranger, _ = uart_sensor()
    world.faults["ultrasonic"] = "unplugged"
    start = time.ticks_ms()
    check(ranger.measure(20.0) == FAULT, "no bytes at all")
    elapsed = time.ticks_diff(time.ticks_ms(), start)
    check(elapsed <= 5 * 360, f"silent sensor held the cycle for {elapsed} ms")


def test_a02_blind_zone_and_range():
    world, _, ranger, _ = uart_sensor(distance_cm=2.0)
    check(ranger.measure(20.0) == NO_ECHO, "2 cm: the module reports 0")
    world.env["distance_cm"] = 500.0
    check(ranger.measure(20.0) == NO_ECHO, "500 cm is beyond 450 cm")
    world.env["distance_cm"] = 4.0
    near(ranger.measure(20.0), 40, 2, "4 cm is in range")


# ------------------------------------------------------------------ figures


def figures():
    """Heap allocated by one measure() of the driver itself (UART answers replayed from a tape)."""
    _, _, _, uart = uart_sensor()
    tape = Tape(uart)
    ranger = A02yyuw(tape)
    check(ranger.measure(20.0) > 0, "recording failed")
    tape.play()
    yield "alloc_bytes_measure_a02yyuw", heap_of(ranger.measure)
    start = time.ticks_ms()
    uart_sensor()[2].measure(20.0)
    yield "sim_time_ms_measure_a02yyuw", time.ticks_diff(time.ticks_ms(), start)


run(globals(), figures)
