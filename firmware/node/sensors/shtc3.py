"""Sensirion SHTC3 temperature/humidity (RAK1901), I2C address 0x70.

The chip sleeps between cycles (0.3 uA): every read is wake -> measure (T first, normal mode, no clock
stretching: the chip NACKs reads until the 12.1 ms conversion is done) -> read 6 bytes -> sleep.
Any NACK or CRC mismatch gives None; the chip is sent back to sleep whatever happened.
"""

import time

from micropython import const

from .sensirion import word

ADDRESS = const(0x70)
_WAKE = b"\x35\x17"
_SLEEP = b"\xb0\x98"
_MEASURE_T_FIRST = b"\x78\x66"
_WAKE_US = const(240)
_MEASURE_MS = const(13)  # 12.1 ms max in normal mode
_READ_TRIES = const(3)


def temperature_c(raw):
    return -45 + 175 * raw / 65536


def humidity_pct(raw):
    return 100 * raw / 65536


class Shtc3:
    def __init__(self, i2c, address=ADDRESS):
        self._i2c = i2c
        self._address = address
        self._buf = bytearray(6)

    def _measure(self):
        i2c = self._i2c
        i2c.writeto(self._address, _WAKE)
        time.sleep_us(_WAKE_US)
        i2c.writeto(self._address, _MEASURE_T_FIRST)
        time.sleep_ms(_MEASURE_MS)
        for attempt in range(_READ_TRIES):
            try:
                i2c.readfrom_into(self._address, self._buf)
                break
            except OSError:
                if attempt == _READ_TRIES - 1:
                    raise
                time.sleep_ms(2)  # still converting (NACK on read header)
        raw_t = word(self._buf, 0)
        raw_rh = word(self._buf, 3)
        if raw_t < 0 or raw_rh < 0:
            return None
        return (temperature_c(raw_t), humidity_pct(raw_rh), None)

    def read(self):
        """(temperature_c, humidity_pct, None), or None on NACK / CRC error."""
        try:
            return self._measure()
        except OSError:
            return None
        finally:
            try:
                self._i2c.writeto(self._address, _SLEEP)
            except OSError:
                pass
