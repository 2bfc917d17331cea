"""MicroPython's `time`, extended with a simulated clock (CONTRACTS section 2).

Sleeping advances the world clock instantly, so a year of wake cycles runs in seconds. Every advance goes
through advance_us(), which gives the simulated watchdog its chance to fire and samples heap use.
"""

import sys

_saved = sys.path[:]
sys.path.clear()
from time import *  # noqa: E402,F401,F403  (the built-in module)

sys.path.extend(_saved)
del _saved

EPOCH_S = 1767225600  # simulated time 0 = 2026-01-01 00:00:00 UTC (the Unix port counts from 1970)
_now = [0]
_hooks = []  # called with the new time after every advance (watchdog, heap sampling)


def now_us():
    return _now[0]


def set_us(t):
    _now[0] = int(t)


def advance_us(us):
    _now[0] += int(us)
    for hook in _hooks:
        hook(_now[0])


def add_hook(fn):
    _hooks.append(fn)


def ticks_us():
    return _now[0]


def ticks_ms():
    return _now[0] // 1000


def ticks_cpu():
    return _now[0]


def ticks_diff(a, b):
    return a - b


def ticks_add(a, b):
    return a + b


def sleep_us(us):
    advance_us(us)


def sleep_ms(ms):
    advance_us(ms * 1000)


def sleep(s):
    advance_us(s * 1000000)


def time():
    return EPOCH_S + _now[0] // 1000000


def time_ns():
    return (EPOCH_S * 1000000 + _now[0]) * 1000
