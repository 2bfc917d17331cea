"""The scenario runner of run_mac.py and run_radio.py, under MicroPython.

Each test_* prints "ok <name>" or "FAIL <name>: <why>"; the host test reads those lines.
"""

# ruff: noqa: UP031  (printf-style formatting: works on every MicroPython build)

import gc
import sys


class Check(Exception):
    pass


def check(cond, why):
    if not cond:
        raise Check(why)


def run(scope, only=()):
    """Run the test_* functions in scope (those named in only, if any); returns the live heap peak."""
    peak = 0
    for name in sorted(n for n in scope if n.startswith("test_")):
        if only and name not in only:
            continue
        gc.collect()
        try:
            scope[name]()
            print("ok", name)
        except Check as e:
            print("FAIL %s: %s" % (name, e))
        except Exception as e:  # noqa: BLE001
            sys.print_exception(e)
            print("FAIL %s: %s %s" % (name, type(e).__name__, e))
        gc.collect()
        peak = max(peak, gc.mem_alloc())
    return peak
