"""MicroPython's `esp32`, simulated: wake cause and an NVS kept in the world (survives power cuts)."""

import simworld

WAKEUP_ALL_LOW = 0
WAKEUP_ANY_HIGH = 1


def wake_on_ext0(pin, level):
    pass


def wake_on_ext1(pins, level):
    pass


def gpio_deep_sleep_hold(enable):
    """Keep held non-RTC GPIO pads in deep sleep (modesp32.c: gpio_deep_sleep_hold_en)."""
    simworld.current().deep_sleep_hold = bool(enable)


def raw_temperature():
    return 120


class NVS:
    def __init__(self, namespace):
        self._ns = simworld.current().state.setdefault("nvs", {}).setdefault(namespace, {})
        self._pending = dict(self._ns)

    def set_i32(self, key, value):
        self._pending[key] = int(value)

    def get_i32(self, key):
        if key not in self._ns:
            raise OSError(-0x1102)  # ESP_ERR_NVS_NOT_FOUND
        return self._ns[key]

    def set_blob(self, key, value):
        self._pending[key] = list(value)  # JSON-friendly in the world file

    def get_blob(self, key, buf):
        if key not in self._ns:
            raise OSError(-0x1102)
        data = bytes(self._ns[key])
        buf[: len(data)] = data
        return len(data)

    def erase_key(self, key):
        self._pending.pop(key, None)

    def commit(self):
        self._ns.clear()
        self._ns.update(self._pending)
