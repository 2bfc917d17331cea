"""The wake's first moments (node/app.py): provisioning, config and board before the node exists (or the
unprovisioned mode), the reset cause, and the restore step. Unloaded after restore: the rest of the cycle
does not carry this code (64 KB heap).
"""

# ruff: noqa: UP031  (printf-style formatting: works on every MicroPython build, f-strings need MICROPY_PY_FSTRINGS)

import json
import time

import machine
from micropython import const

from node import log, store
from node.app import _unload

UNPROVISIONED_SLEEP_MS = const(3600000)
COUNTERS_PATH = "counters.json"


def reset_cause_name(cause):
    """machine.reset_cause() as the status uplink names it (protocols/hardware.py RESET_CAUSES)."""
    from protocols import hardware

    names = hardware.RESET_CAUSES
    name = names[cause] if 0 < cause < len(names) else "unknown"
    _unload("protocols.hardware")  # a cycle that never sends must not keep it (heap)
    return name


def restore(node):
    if node.hw.get("link") == "native":
        node.rtc_image = node.rtc.memory()
    node.state, ok = store.load_rtc(node.rtc)
    st = node.state
    if node.reset_cause == "deepsleep" and not ok:
        log.warning("RTC state lost or corrupt: starting afresh")
    if node.reset_cause != "deepsleep":
        st.set(store.F_STATUS_DUE)  # every unexpected boot is reported
        counters = load_counters()
        if node.reset_cause == "watchdog":
            counters["watchdog_resets"] = counters.get("watchdog_resets", 0) + 1
        counters["boots"] = counters.get("boots", 0) + 1
        store.write_atomic(COUNTERS_PATH, json.dumps(counters))
        st.watchdog_resets = counters.get("watchdog_resets", 0)
        log.info("boot: reset cause %s, watchdog resets %d" % (node.reset_cause, st.watchdog_resets))
    if node.cfg.problem:
        log.error("config: " + node.cfg.problem)
        st.set(store.F_STATUS_DUE)
        node.cfg.problem = None
    st.wake_count += 1


def load_counters():
    text = store.read_text(COUNTERS_PATH)
    try:
        counters = json.loads(text) if text else {}
        return counters if isinstance(counters, dict) else {}
    except ValueError:
        return {}


def unprovisioned(reason):
    """Safe mode without provisioning: say why, blink if a board is known, sleep long. Never loops fast."""
    log.error("UNPROVISIONED: %s; sleeping %d s" % (reason, UNPROVISIONED_SLEEP_MS // 1000))
    for _ in range(5):
        led = _any_led()
        if led is None:
            break
        led.value(1)
        time.sleep_ms(100)
        led.value(0)
        time.sleep_ms(200)
    return UNPROVISIONED_SLEEP_MS


def _any_led():
    """The LED of the board named in a readable-but-invalid provision.json, if any."""
    from node import boards

    text = store.read_text("provision.json")
    try:
        board = json.loads(text).get("board") if text else None
        if board is None:
            return None
        pin = boards.PROFILES[board]["led"]
    except (ValueError, KeyError, AttributeError, TypeError):
        return None
    return machine.Pin(pin, machine.Pin.OUT)


def setup():
    """(provisioning, config, hardware); the modules that build them are unloaded again (heap)."""
    from node import provision

    try:
        prov = provision.load()
    except provision.ProvisionError as e:
        machine.deepsleep(unprovisioned(str(e)))
        return None
    del provision
    # one at a time: the heap peak is the largest, not their sum
    _unload("node.provision", "protocols.provisioning", "protocols.hardware")
    from node import boards

    hw = boards.build(prov["board"], machine)
    del boards
    _unload("node.boards")
    from node.config import Config

    return prov, Config().load(), hw
