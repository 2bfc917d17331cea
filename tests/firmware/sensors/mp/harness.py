"""Shared pieces of the on-device driver tests: assertions, sensor factories over the fake bus, the
record/replay tape used to measure a driver's own heap use, and the runner that prints one line per test.
"""

import gc
import sys

import machine
import simdevices
from fakeworld import World
from sensors import build


def check(cond, msg):
    if not cond:
        raise AssertionError(msg)


def near(value, expected, tol, what):
    ok = value is not None and abs(value - expected) <= tol
    check(ok, f"{what}: got {value!r}, expected {expected!r} +- {tol!r}")


def pulse_sensor(kind, **env):
    """(world, sim device, driver, hw) for a trigger/echo ranger wired through fake pins."""
    world = World(**env)
    dev = simdevices.make(kind, world)
    trig = machine.Pin("trig", on_fall=dev.trigger)
    echo = machine.Pin("echo", device=dev)
    hw = {"trig": trig, "echo": echo}
    if kind == "rak12007":
        power_down = machine.Pin("power_down")
        world.power["rak12007"] = lambda: power_down.value() == 0
        hw["us_power_down"] = power_down
    ranger, _ = build(hw, kind, None)
    return world, dev, ranger, hw


def uart_sensor(**env):
    world = World(**env)
    dev = simdevices.make("a02yyuw", world)
    uart = machine.UART(dev)
    ranger, _ = build({"sensor_uart": uart}, "a02yyuw", None)
    return world, dev, ranger, uart


def climate_sensor(kind, **env):
    world = World(**env)
    dev = simdevices.make(kind, world)
    _, climate = build({"i2c": machine.I2C(dev)}, None, kind)
    return world, dev, climate


class Tape:
    """Stands between a driver and its bus: records every answer, then plays the answers back with the
    simulation out of the loop, so the heap a replayed call allocates is the driver's own."""

    def __init__(self, bus):
        self.bus = bus
        self.log = []
        self.pos = 0
        self.playing = False

    def play(self):
        self.playing = True
        self.pos = 0

    def _next(self):
        value = self.log[self.pos]
        self.pos += 1
        return value

    def _copy(self, data, buf):
        for i in range(len(data)):
            buf[i] = data[i]

    def writeto(self, addr, buf, stop=True):
        if self.playing:
            return self._next()
        result = self.bus.writeto(addr, buf)
        self.log.append(result)
        return result

    def readfrom_into(self, addr, buf, stop=True):
        if self.playing:
            self._copy(self._next(), buf)
            return
        self.bus.readfrom_into(addr, buf)
        self.log.append(bytes(buf))

    def any(self):
        if self.playing:
            return self._next()
        result = self.bus.any()
        self.log.append(result)
        return result

    def readinto(self, buf, nbytes=None):
        if self.playing:
            data = self._next()
            self._copy(data, buf)
            return len(data)
        n = self.bus.readinto(buf)
        self.log.append(bytes(buf[: n or 0]))
        return n

    def pulse_us(self, pin, level, timeout_us):
        if self.playing:
            return self._next()
        result = machine.time_pulse_us(pin, level, timeout_us)
        self.log.append(result)
        return result


class QuietPin:
    """A pin that only keeps its level (the fake machine.Pin logs every edge, which allocates)."""

    def __init__(self):
        self.level = 0

    def value(self, v=None):
        if v is None:
            return self.level
        self.level = v


def heap_of(call):
    """Bytes allocated by one call, with the collector off so nothing is freed meanwhile."""
    gc.collect()
    before = gc.mem_alloc()
    gc.disable()
    call()
    allocated = gc.mem_alloc() - before
    gc.enable()
    return allocated


def run(namespace, figures=None):
    """Run every test_* in namespace (or those named on the command line); print ok/FAIL lines."""
    only = sys.argv[1:]
    failed = 0
    for name in sorted(n for n in namespace if n.startswith("test_")):
        if only and name not in only:
            continue
        gc.collect()
        try:
            namespace[name]()
            print("ok", name)
        except Exception as e:  # noqa: BLE001 - report every failure and go on
            failed += 1
            print(f"FAIL {name}: {type(e).__name__}: {e}")
    if figures and not only:
        for name, value in figures():
            print(f"FIGURE {name} {value}")
    gc.collect()
    print(f"FIGURE heap_in_use_bytes {gc.mem_alloc()}")
    print(f"DONE failed={failed}")
