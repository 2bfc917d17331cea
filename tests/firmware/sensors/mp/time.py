"""Fake clock for the driver tests: time passes only when a driver sleeps or waits on the bus.

Shadows MicroPython's extensible `time` (this directory comes first on MICROPYPATH), so a test of a
driver that waits 10 x 100 ms for UART frames takes microseconds, and sim devices see the same clock.
"""

_now_us = [1_000_000]


def advance_us(us):
    _now_us[0] += int(us)


def now_us():
    return _now_us[0]


def ticks_us():
    return _now_us[0]


def ticks_ms():
    return _now_us[0] // 1000


def ticks_diff(a, b):
    return a - b


def ticks_add(a, b):
    return a + b


def sleep_us(us):
    advance_us(us)


def sleep_ms(ms):
    advance_us(ms * 1000)


def sleep(s):
    advance_us(s * 1_000_000)


def time():
    return _now_us[0] // 1_000_000
