"""Sensirion SHT40/41/45 temperature/humidity, I2C address 0x44.

One command (0xFD, high precision, 8.3 ms) then 6 bytes: T word + CRC, RH word + CRC. The SHT4x sleeps
by itself after each measurement, so there is no wake/sleep. RH is clamped to 0-100 % as Sensirion
specifies (the linear formula can give -6..119 %). NACK or CRC mismatch gives None.
"""

import time

from micropython import const

from .sensirion import word

ADDRESS = const(0x44)
_MEASURE_HIGH = b"\xfd"
_MEASURE_MS = const(9)
_READ_TRIES = const(3)


def temperature_c(raw):
    return -45 + 175 * raw / 65535


def humidity_pct(raw):
    rh = -6 + 125 * raw / 65535
    return 0.0 if rh < 0 else 100.0 if rh > 100 else rh


class Sht4x:
    def __init__(self, i2c, address=ADDRESS):
        self._i2c = i2c
        self._address = address
        self._buf = bytearray(6)

    def read(self):
        """(temperature_c, humidity_pct, None), or None on NACK / CRC error."""
        try:
            self._i2c.writeto(self._address, _MEASURE_HIGH)
            time.sleep_ms(_MEASURE_MS)
            for attempt in range(_READ_TRIES):
                try:
                    self._i2c.readfrom_into(self._address, self._buf)
                    break
                except OSError:
                    if attempt == _READ_TRIES - 1:
                        raise
                    time.sleep_ms(2)
        except OSError:
            return None
        raw_t = word(self._buf, 0)
        raw_rh = word(self._buf, 3)
        if raw_t < 0 or raw_rh < 0:
            return None
        return (temperature_c(raw_t), humidity_pct(raw_rh), None)
