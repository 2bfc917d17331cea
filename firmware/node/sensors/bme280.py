"""Bosch BME280 temperature/humidity/pressure, I2C address 0x76 (SDO low) or 0x77.

Forced mode: one conversion per read (x1 oversampling of T, P, H, filter off: the weather-station
setting of the datasheet, 3.6 uA at 1 Hz), then back to sleep by itself. The raw ADC values are turned
into physical units with Bosch's integer compensation (datasheet section 4.2.3) from the factory
calibration at 0x88-0xA1 and 0xE1-0xE7, read once and kept. The chip has no CRC: the chip-id check on
every read and the datasheet's operating ranges catch a broken bus. Any fault gives None.
"""

import struct
import time

from micropython import const

ADDRESSES = (0x76, 0x77)  # SDO to GND / to VDDIO (datasheet 6.2 "I2C interface"); breakouts ship either
CHIP_ID = const(0x60)
_REG_CALIB_TP = const(0x88)  # 0x88..0xA1: T1..P9 (24 bytes), 0xA0 reserved, 0xA1 H1
_REG_CALIB_H = const(0xE1)  # 0xE1..0xE7: H2..H6
_REG_ID = const(0xD0)
_REG_CTRL_HUM = const(0xF2)
_REG_STATUS = const(0xF3)
_REG_CTRL_MEAS = const(0xF4)
_REG_DATA = const(0xF7)  # press[3], temp[3], hum[2]
_OSRS_H_X1 = const(0x01)
_CTRL_MEAS_FORCED = const(0x25)  # osrs_t x1 (001 << 5), osrs_p x1 (001 << 2), mode forced (01)
_STATUS_MEASURING = const(0x08)
_MEASURE_MS = const(10)  # 9.3 ms max for x1/x1/x1
_SKIPPED = const(0x80000)  # T/P data register reset value: no conversion has happened
_SKIPPED_H = const(0x8000)  # the same for humidity


def _s8(b):
    return b - 256 if b > 127 else b


def _tdiv(a, b):
    """C integer division (truncates toward zero), as the Bosch reference code does."""
    q = abs(a) // abs(b)
    return q if (a >= 0) == (b > 0) else -q


def parse_calibration(tp, h):
    """The 18 trimming values (T1..T3, P1..P9, H1..H6) from the 26 + 7 calibration bytes."""
    cal = list(struct.unpack_from("<HhhHhhhhhhhh", tp, 0))
    cal.append(tp[25])  # H1, unsigned 8
    cal.append(struct.unpack_from("<h", h, 0)[0])  # H2
    cal.append(h[2])  # H3, unsigned 8
    cal.append((_s8(h[3]) << 4) | (h[4] & 0x0F))  # H4: 0xE4[7:0] 0xE5[3:0], signed 12
    cal.append((_s8(h[5]) << 4) | (h[4] >> 4))  # H5: 0xE6[7:0] 0xE5[7:4], signed 12
    cal.append(_s8(h[6]))  # H6
    return tuple(cal)


def compensate(cal, adc_t, adc_p, adc_h):
    """(temperature in 0.01 C, pressure in Pa Q24.8, humidity in %RH Q22.10) per the Bosch reference code."""
    t1, t2, t3, p1, p2, p3, p4, p5, p6, p7, p8, p9, h1, h2, h3, h4, h5, h6 = cal
    var1 = (((adc_t >> 3) - (t1 << 1)) * t2) >> 11
    var2 = (((((adc_t >> 4) - t1) * ((adc_t >> 4) - t1)) >> 12) * t3) >> 14
    t_fine = var1 + var2
    temperature = (t_fine * 5 + 128) >> 8

    var1 = t_fine - 128000
    var2 = var1 * var1 * p6
    var2 = var2 + ((var1 * p5) << 17)
    var2 = var2 + (p4 << 35)
    var1 = ((var1 * var1 * p3) >> 8) + ((var1 * p2) << 12)
    var1 = (((1 << 47) + var1) * p1) >> 33
    if var1 == 0:
        pressure = 0  # the reference code's guard against division by zero (P1 == 0: no calibration)
    else:
        p = 1048576 - adc_p
        p = _tdiv(((p << 31) - var2) * 3125, var1)
        var1 = (p9 * (p >> 13) * (p >> 13)) >> 25
        var2 = (p8 * p) >> 19
        pressure = ((p + var1 + var2) >> 8) + (p7 << 4)

    v = t_fine - 76800
    v = ((((adc_h << 14) - (h4 << 20) - (h5 * v)) + 16384) >> 15) * (
        ((((((v * h6) >> 10) * (((v * h3) >> 11) + 32768)) >> 10) + 2097152) * h2 + 8192) >> 14
    )
    v = v - (((((v >> 15) * (v >> 15)) >> 7) * h1) >> 4)
    v = 0 if v < 0 else 419430400 if v > 419430400 else v
    return temperature, pressure, v >> 12


class Bme280:
    def __init__(self, i2c, address=None):
        self._i2c = i2c
        self._address = address  # None: probed on first use
        self._reg = bytearray(1)
        self._pair = bytearray(2)
        self._byte = bytearray(1)
        self._data = bytearray(8)
        self._cal = None

    def _read(self, reg, buf):
        self._reg[0] = reg
        self._i2c.writeto(self._address, self._reg)
        self._i2c.readfrom_into(self._address, buf)

    def _write(self, reg, value):
        self._pair[0] = reg
        self._pair[1] = value
        self._i2c.writeto(self._address, self._pair)

    def _calibration(self):
        if self._cal is None:
            tp = bytearray(26)
            h = bytearray(7)
            self._read(_REG_CALIB_TP, tp)
            self._read(_REG_CALIB_H, h)
            cal = parse_calibration(tp, h)
            if cal[0] == 0 or cal[3] == 0:  # T1 / P1 of 0: calibration not readable, never cache it
                return None
            self._cal = cal
        return self._cal

    def _probe(self):
        """The address a BME280 answers on with its chip id (0x76 first), or None."""
        for address in ADDRESSES:
            self._address = address
            try:
                self._read(_REG_ID, self._byte)
            except OSError:  # no acknowledge at this address
                continue
            if self._byte[0] == CHIP_ID:
                return address
        self._address = None
        return None

    def _measure(self):
        if self._address is None and self._probe() is None:
            return None
        self._read(_REG_ID, self._byte)
        if self._byte[0] != CHIP_ID:
            return None
        cal = self._calibration()
        if cal is None:
            return None
        self._write(_REG_CTRL_HUM, _OSRS_H_X1)  # takes effect with the next ctrl_meas write
        self._write(_REG_CTRL_MEAS, _CTRL_MEAS_FORCED)
        time.sleep_ms(_MEASURE_MS)
        for _ in range(5):
            self._read(_REG_STATUS, self._byte)
            if not self._byte[0] & _STATUS_MEASURING:
                break
            time.sleep_ms(2)
        else:
            return None
        d = self._data
        self._read(_REG_DATA, d)
        adc_p = (d[0] << 12) | (d[1] << 4) | (d[2] >> 4)
        adc_t = (d[3] << 12) | (d[4] << 4) | (d[5] >> 4)
        adc_h = (d[6] << 8) | d[7]
        if adc_t == _SKIPPED or adc_p == _SKIPPED or adc_h == _SKIPPED_H:
            return None  # a channel was not converted (oversampling left at "skipped")
        t, p, h = compensate(cal, adc_t, adc_p, adc_h)
        temperature = t / 100
        pressure = p / 25600  # Pa Q24.8 -> hPa
        if not (-40 <= temperature <= 85 and 300 <= pressure <= 1100):
            return None  # outside the operating range: a corrupted transfer, not weather
        return (temperature, h / 1024, pressure)

    def read(self):
        """(temperature_c, humidity_pct, pressure_hpa), or None on NACK / bad chip id / implausible data."""
        try:
            return self._measure()
        except OSError:
            return None
