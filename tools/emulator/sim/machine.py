"""MicroPython's `machine`, extended with simulated hardware wired by simworld (CONTRACTS section 2).

The built-in module is imported with sys.path emptied (it is an extensible built-in), then the classes a
node uses are added. Every object asks simworld.current() what is attached to its pin or bus number, so
the board profile in firmware/node/boards.py is the only wiring table.
Deep sleep, reset and a watchdog expiry end the boot by raising BaseException subclasses that firmware
`except Exception` blocks cannot swallow; simboot catches them.
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


class Pin:
    IN = 1
    OUT = 3
    OPEN_DRAIN = 7
    PULL_UP = 2
    PULL_DOWN = 1
    IRQ_RISING = 1
    IRQ_FALLING = 2

    def __init__(self, id, mode=-1, pull=-1, value=None):
        self.id = id
        self._world = _w()
        self.init(mode, pull, value)

    def init(self, mode=-1, pull=-1, value=None):
        if mode != -1:
            self.mode = mode
        if value is not None:
            self.value(value)

    def value(self, v=None):
        if v is None:
            return self._world.pin_level(self.id)
        self._world.set_pin(self.id, 1 if v else 0)
        return None

    def __call__(self, v=None):
        return self.value(v)

    def on(self):
        self.value(1)

    def off(self):
        self.value(0)

    def irq(self, handler=None, trigger=3):
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
    raise DeepSleep(ms)


def lightsleep(ms=0):
    _w().light_sleep(ms * 1000)  # counted apart from awake time: ~0.8 mA instead of ~35 mA


def reset():
    raise Reset(SOFT_RESET)  # the ESP32 port reports machine.reset() as a software reset


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
