"""Log lines on stdout as CONTRACTS section 3 fixes them: `[<ms>] <LEVEL> <message>`.

The technician tool's monitor and the emulator parse these; keep the shape.
"""

# ruff: noqa: UP031  (printf-style formatting: works on every MicroPython build, f-strings need MICROPY_PY_FSTRINGS)

import time

DEBUG = 10
INFO = 20
WARNING = 30
ERROR = 40
_NAMES = {10: "DEBUG", 20: "INFO", 30: "WARNING", 40: "ERROR"}
level = INFO


def log(lvl, msg):
    if lvl >= level:
        print("[%s] %s %s" % (time.ticks_ms(), _NAMES.get(lvl, "INFO"), msg))  # ticks: opaque, not %d


def debug(msg):
    log(DEBUG, msg)


def info(msg):
    log(INFO, msg)


def warning(msg):
    log(WARNING, msg)


def error(msg):
    log(ERROR, msg)
