"""MicroPython's `machine`, extended with simulated hardware wired by simworld (CONTRACTS section 2).

The built-in module is imported with sys.path emptied (it is an extensible built-in), then the classes a
node uses are added. Every object asks simworld.current() what is attached to its pin or bus number, so
the board profile in firmware/node/boards.py is the only wiring table.
Deep sleep, reset and a watchdog expiry end the boot by raising BaseException subclasses that firmware
`except Exception` blocks cannot swallow; simboot catches them.

Pins in deep sleep, as on the ESP32 (MicroPython docs/esp32/quickref.rst "Deep-sleep mode", ports/esp32/
machine_pin.c): an output keeps its level only with pad hold (`Pin(..., hold=True)`; a non-RTC GPIO also
needs `esp32.gpio_deep_sleep_hold(True)`); otherwise it is released and the part it drives sees a floating
or pulled line. A held pad ignores level changes until it is re-initialised with `hold=` (ESP-IDF
gpio_hold_en latches the pad), and the hold survives the wake. RTC GPIOs keep their pull resistors in deep
sleep. deepsleep() works out the leakage this costs (world.sleep_leak_ua, see _LEAK_UA).
"""

# ruff: noqa: UP031  (printf-style formatting: works on every MicroPython build, f-strings need MICROPY_PY_FSTRINGS)

import sys

_saved = sys.path[:]
sys.path.clear()
from machine import *  # noqa: E402,F401,F403  (the built-in module)

sys.path.extend(_saved)
del _saved

import time  # noqa: E402  (the simulated clock)

import simworld  # noqa: E402

PWRON_RESET = 1
HARD_RESET = 2
WDT_RESET = 3
DEEPSLEEP_RESET = 4
SOFT_RESET = 5
PIN_WAKE = 2
TIMER_WAKE = 4


class DeepSleep(BaseException):
    """machine.deepsleep(ms) was called: args[0] = ms."""


class Reset(BaseException):
    """machine.reset() / soft_reset(): args[0] = the reset cause of the next boot."""


class WatchdogExpired(BaseException):
    """The simulated WDT was not fed in time."""


class PowerCut(BaseException):
    """Supply lost (simulated fault): RTC memory is lost too."""


def _w():
    return simworld.current()


# ESP32 datasheet (v4.x), IO_MUX table, "Reset" column: pads with a weak pull at reset (WPU / WPD); a pin
# created without `pull=` keeps it
_RESET_PULL = {0: 2, 2: 1, 4: 1, 5: 2, 12: 1, 15: 2}  # 2 = PULL_UP, 1 = PULL_DOWN
# ESP32 technical reference manual, RTC IO_MUX: the GPIOs the RTC domain keeps in deep sleep
_RTC_GPIO = (0, 2, 4, 12, 13, 14, 15, 25, 26, 27, 32, 33, 34, 35, 36, 37, 38, 39)
_PULL_UA = 73  # a driven pad against its own ~45 kOhm weak pull: 3.3 V / 45 kOhm
# What a released (floating or pulled) output costs in deep sleep, by the board role it drives:
_LEAK_UA = {
    # devkit GPIO4 -> RAK3172 NRST: the ESP32's reset-default pull-down (~45 kOhm) against the STM32WL's
    # NRST pull-up (~40 kOhm, STM32WLE5 datasheet RPU): NRST sits at ~1.7 V and ~40 uA flow (measured by
    # others, issue 11)
    "modem_reset": 40,
    # guesses: a floating load-switch enable / RAK12007 power-down input lets the part half-on
    "sensor_power": 50,
    "us_power_down": 30,
}


class Pin:
    IN = 1
    OUT = 3
    OPEN_DRAIN = 7
    PULL_UP = 2
    PULL_DOWN = 1
    IRQ_RISING = 1
    IRQ_FALLING = 2

    def __init__(self, id, mode=-1, pull=-1, value=None, hold=None):
        self.id = id
        self._world = _w()
        cfg = self._world.pin_cfg.get(id)
        if cfg is None:
            cfg = self._world.pin_cfg[id] = {"mode": Pin.IN, "pull": _RESET_PULL.get(id), "hold": False}
        self._cfg = cfg
        self.init(mode, pull, value, hold)

    def init(self, mode=-1, pull=-1, value=None, hold=None):
        cfg = self._cfg
        if hold is not None:
            cfg["hold"] = False  # machine_pin.c: hold is released to apply the new configuration ...
        if mode != -1:
            cfg["mode"] = mode
        if pull != -1:
            cfg["pull"] = pull
        if value is not None:
            self.value(value)
        if hold:
            cfg["hold"] = True  # ... and taken again

    def value(self, v=None):
        if v is None:
            return self._world.pin_level(self.id)
        if self._cfg["hold"]:
            return None  # a held pad keeps its latched level (gpio_hold_en)
        self._world.set_pin(self.id, 1 if v else 0)
        return None

    def __call__(self, v=None):
        return self.value(v)

    def on(self):
        self.value(1)

    def off(self):
        self.value(0)

    def irq(self, handler=None, trigger=3):
        _w().pin_irq(self.id, handler)
        return None


class UART:
    def __init__(self, id, baudrate=115200, **kw):
        self.id = id
        self._dev = _w().uart_device(id)
        self._rx = bytearray()

    def init(self, *a, **kw):
        pass

    def _pull(self):
        if self._dev is not None:
            self._rx += self._dev.uart_pending()

    def any(self):
        self._pull()
        return len(self._rx)

    def read(self, n=None):
        self._pull()
        if not self._rx:
            return None
        n = len(self._rx) if n is None else min(n, len(self._rx))
        out = bytes(self._rx[:n])
        self._rx = self._rx[n:]
        return out

    def readinto(self, buf, nbytes=None):
        data = self.read(len(buf) if nbytes is None else nbytes)
        if not data:
            return None
        buf[: len(data)] = data
        return len(data)

    def readline(self):
        self._pull()
        i = self._rx.find(b"\n")
        return self.read(i + 1 if i >= 0 else None)

    def write(self, data):
        if isinstance(data, str):
            data = data.encode()
        # 10 bits per byte on the wire: the clock moves as the bytes leave
        time.advance_us(len(data) * 10 * 1000000 // 115200 + 1)
        if self._dev is not None:
            self._dev.uart_write(bytes(data))
        return len(data)

    def flush(self):
        pass

    def deinit(self):
        pass


class I2C:
    def __init__(self, id=0, scl=None, sda=None, freq=400000, timeout=50000):
        self.id = id

    def _device(self, addr):
        w = _w()
        w.i2c_hang_check()
        for dev in w.i2c_devices(self.id):
            if dev.addr == addr:
                return dev
        raise OSError(19)  # ENODEV: nobody acknowledged the address

    def _xfer_time(self, n):
        time.advance_us((n + 1) * 90)  # 9 clocks per byte at 100 kHz

    def writeto(self, addr, buf, stop=True):
        self._xfer_time(len(buf))
        if not self._device(addr).i2c_write(bytes(buf)):
            raise OSError(19)
        return len(buf)

    def readfrom_into(self, addr, buf, stop=True):
        self._xfer_time(len(buf))
        data = self._device(addr).i2c_read(len(buf))
        if data is None:
            raise OSError(19)
        buf[:] = data

    def readfrom(self, addr, n, stop=True):
        buf = bytearray(n)
        self.readfrom_into(addr, buf)
        return bytes(buf)

    def writeto_mem(self, addr, reg, buf):
        self.writeto(addr, bytes((reg,)) + bytes(buf))

    def readfrom_mem_into(self, addr, reg, buf):
        self.writeto(addr, bytes((reg,)), False)
        self.readfrom_into(addr, buf)

    def readfrom_mem(self, addr, reg, n):
        buf = bytearray(n)
        self.readfrom_mem_into(addr, reg, buf)
        return bytes(buf)

    def scan(self):
        return [d.addr for d in _w().i2c_devices(self.id) if d.i2c_write(b"")]


SoftI2C = I2C


class SPI:
    """An SPI bus whose device (the SX1262 model of a native-LoRaWAN board) simworld wires by bus id."""

    def __init__(self, id, baudrate=1000000, **kw):
        self.id = id

    def init(self, *a, **kw):
        pass

    def _dev(self):
        dev = _w().spi_device(self.id)
        if dev is None:
            raise OSError(19, "no device on SPI bus %d" % self.id)  # ENODEV
        return dev

    def write(self, buf):
        self._dev().write(buf)

    def readinto(self, buf, write_byte=0):
        self._dev().readinto(buf, write_byte)

    def read(self, n, write_byte=0):
        buf = bytearray(n)
        self._dev().readinto(buf, write_byte)
        return bytes(buf)

    def write_readinto(self, out, buf):
        self._dev().write_readinto(out, buf)

    def deinit(self):
        pass


class ADC:
    ATTN_0DB = 0
    ATTN_2_5DB = 1
    ATTN_6DB = 2
    ATTN_11DB = 3
    WIDTH_12BIT = 3

    def __init__(self, pin, atten=0):
        self._pin = pin.id if isinstance(pin, Pin) else pin

    def atten(self, a):
        pass

    def read_uv(self):
        time.advance_us(20)
        return _w().adc_uv(self._pin)

    def read_u16(self):
        return min(65535, self.read_uv() * 65535 // 3300000)

    def read(self):
        return self.read_u16() >> 4


class RTC:
    def __init__(self, id=0):
        pass

    def memory(self, data=None):
        w = _w()
        if data is None:
            return bytes(w.rtc_memory)
        if len(data) > 2048:
            raise ValueError("RTC memory holds 2048 bytes, got %d" % len(data))
        w.rtc_memory = bytes(data)
        return None

    def datetime(self, dt=None):
        return time.localtime(time.time())[:7] + (0,) if dt is None else None


class WDT:
    def __init__(self, id=0, timeout=5000):
        _w().wdt_start(timeout)

    def feed(self):
        _w().wdt_feed()


def time_pulse_us(pin, level, timeout_us=1000000):
    dev = _w().pulse_device(pin.id)
    width = -2 if dev is None else dev.pulse_us(level, timeout_us)
    time.advance_us(timeout_us if width < 0 else width)
    return width


def deepsleep(ms=0):
    _w().sleep_leak_ua = _sleep_leak_ua()
    raise DeepSleep(ms)


def _sleep_leak_ua():
    """Leakage of the board's outputs in this deep sleep: released pins, and held pins fighting a pull."""
    w = _w()
    roles = {pin: role for role, pin in w.profile.items() if isinstance(pin, int) and role in _LEAK_UA}
    total = 0
    for pin, cfg in w.pin_cfg.items():
        if cfg["mode"] != Pin.OUT:
            continue
        held = cfg["hold"] and (pin in _RTC_GPIO or w.deep_sleep_hold)
        if not held:
            total += _LEAK_UA.get(roles.get(pin), 0)
            continue
        level = w.pins.get(pin, 0)
        pull = cfg["pull"]
        if (pull == Pin.PULL_DOWN and level) or (pull == Pin.PULL_UP and not level):
            total += _PULL_UA
    return total


def lightsleep(ms=0):
    _w().light_sleep(ms * 1000)  # counted apart from awake time: ~0.8 mA instead of ~35 mA


def reset():
    # esp_restart(): the next boot's esp_reset_reason() is ESP_RST_SW, which the ESP32 port reports as
    # HARD_RESET (ports/esp32/modmachine.c mp_machine_reset_cause); SOFT_RESET is only a soft reboot
    raise Reset(HARD_RESET)


def soft_reset():
    raise Reset(SOFT_RESET)


def reset_cause():
    return _w().reset_cause


def wake_reason():
    return TIMER_WAKE if _w().reset_cause == DEEPSLEEP_RESET else 0


def unique_id():
    return bytes(int(_w().dev_eui[i : i + 2], 16) for i in range(4, 16, 2))


def freq(hz=None):
    return 160000000 if hz is None else None


def idle():
    time.advance_us(1000)
