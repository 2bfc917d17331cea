"""A minimal fake `machine` for the driver tests: I2C, UART, Pin, ADC and time_pulse_us routed to the sim
devices through their bus interface (CONTRACTS 2), the same calls the emulator's machine.py routes.

Shadows MicroPython's extensible `machine` (this directory comes first on MICROPYPATH).
"""

import errno
import time


class Pin:
    IN = 1
    OUT = 2

    def __init__(self, name, device=None, on_fall=None):
        self.name = name
        self.device = device  # the pulse device behind an echo pin
        self._on_fall = on_fall
        self._value = 0
        self._rose_us = None
        self.high_us = []  # width of every high pulse driven on this pin
        self.history = []  # every value written, in order

    def value(self, v=None):
        if v is None:
            return self._value
        v = 1 if v else 0
        self.history.append(v)
        if v and not self._value:
            self._rose_us = time.now_us()
        elif self._value and not v:
            self.high_us.append(time.now_us() - self._rose_us)
            if self._on_fall:
                self._on_fall()
        self._value = v
        return None

    def on(self):
        self.value(1)

    def off(self):
        self.value(0)


def time_pulse_us(pin, level, timeout_us):
    width = pin.device.pulse_us(level, timeout_us)
    time.advance_us(timeout_us if width < 0 else width)
    return width


class I2C:
    def __init__(self, *devices):
        self.devices = {d.addr: d for d in devices}

    def _device(self, addr):
        device = self.devices.get(addr)
        if device is None:
            raise OSError(errno.ENODEV)
        return device

    def writeto(self, addr, buf, stop=True):
        if not self._device(addr).i2c_write(bytes(buf)):
            raise OSError(errno.ENODEV)
        return len(buf)

    def readfrom_into(self, addr, buf, stop=True):
        data = self._device(addr).i2c_read(len(buf))
        if data is None:
            raise OSError(errno.ENODEV)
        buf[:] = data

    def readfrom(self, addr, n, stop=True):
        buf = bytearray(n)
        self.readfrom_into(addr, buf)
        return bytes(buf)

    def scan(self):
        return [a for a, d in self.devices.items() if d.i2c_write(b"")]


class UART:
    def __init__(self, device):
        self.device = device
        self._rx = bytearray()

    def _pull(self):
        self._rx += self.device.uart_pending()

    def any(self):
        self._pull()
        return len(self._rx)

    def readinto(self, buf, nbytes=None):
        self._pull()
        n = min(len(buf) if nbytes is None else nbytes, len(self._rx))
        if not n:
            return None
        buf[:n] = self._rx[:n]
        self._rx = self._rx[n:]
        return n

    def read(self, n=None):
        self._pull()
        if not self._rx:
            return None
        n = len(self._rx) if n is None else min(n, len(self._rx))
        out = bytes(self._rx[:n])
        self._rx = self._rx[n:]
        return out

    def write(self, data):
        self.device.uart_write(data)
        return len(data)


class ADC:
    ATTN_11DB = 3

    def __init__(self, uv=0, fail=False):
        self.uv = uv  # an int, or a list of successive readings
        self.fail = fail
        self._i = 0

    def read_uv(self):
        if self.fail:
            raise OSError(errno.EIO)
        if isinstance(self.uv, list):
            value = self.uv[self._i % len(self.uv)]
            self._i += 1
            return value
        return self.uv
