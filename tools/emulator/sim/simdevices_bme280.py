"""Simulated Bosch BME280 on I2C: register file with real calibration; raw values by inverting the
datasheet's floating-point compensation, so the driver's integer compensation is checked independently."""

import struct

from simdevices import Device

BME280_CAL = {
    "T1": 27504, "T2": 26435, "T3": -1000,
    "P1": 36477, "P2": -10685, "P3": 3024, "P4": 2855, "P5": 140, "P6": -7, "P7": 15500, "P8": -14600,
    "P9": 6000,
    "H1": 75, "H2": 362, "H3": 0, "H4": 313, "H5": 50, "H6": 30,
}  # fmt: skip


def bme280_float_t(c, adc_t):
    """(t_fine, temperature C) by the datasheet's floating-point formula."""
    var1 = (adc_t / 16384.0 - c["T1"] / 1024.0) * c["T2"]
    var2 = (adc_t / 131072.0 - c["T1"] / 8192.0) ** 2 * c["T3"]
    t_fine = var1 + var2
    return t_fine, t_fine / 5120.0


def bme280_float_p(c, adc_p, t_fine):
    """Pressure in Pa by the datasheet's floating-point formula."""
    var1 = t_fine / 2.0 - 64000.0
    var2 = var1 * var1 * c["P6"] / 32768.0
    var2 = var2 + var1 * c["P5"] * 2.0
    var2 = var2 / 4.0 + c["P4"] * 65536.0
    var1 = (c["P3"] * var1 * var1 / 524288.0 + c["P2"] * var1) / 524288.0
    var1 = (1.0 + var1 / 32768.0) * c["P1"]
    p = 1048576.0 - adc_p
    p = (p - var2 / 4096.0) * 6250.0 / var1
    var1 = c["P9"] * p * p / 2147483648.0
    var2 = p * c["P8"] / 32768.0
    return p + (var1 + var2 + c["P7"]) / 16.0


def bme280_float_h(c, adc_h, t_fine):
    """Relative humidity in % by the datasheet's floating-point formula (unclamped)."""
    h = t_fine - 76800.0
    h = (adc_h - (c["H4"] * 64.0 + c["H5"] / 16384.0 * h)) * (
        c["H2"] / 65536.0 * (1.0 + c["H6"] / 67108864.0 * h * (1.0 + c["H3"] / 67108864.0 * h))
    )
    return h * (1.0 - c["H1"] * h / 524288.0)


def _invert(fn, target, lo, hi):
    """The integer x in [lo, hi] whose fn(x) is nearest target; fn monotonic (either direction)."""
    rising = fn(hi) > fn(lo)
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if (fn(mid) < target) == rising:
            lo = mid
        else:
            hi = mid
    return lo if abs(fn(lo) - target) <= abs(fn(hi) - target) else hi


def bme280_calibration_bytes(c):
    """The 26 bytes at 0x88-0xA1 and the 7 bytes at 0xE1-0xE7 that hold the trimming values `c`."""
    tp = bytearray(
        struct.pack(
            "<HhhHhhhhhhhh",
            c["T1"],
            c["T2"],
            c["T3"],
            c["P1"],
            c["P2"],
            c["P3"],
            c["P4"],
            c["P5"],
            c["P6"],
            c["P7"],
            c["P8"],
            c["P9"],
        )
    )
    tp += bytes((0, c["H1"]))  # 0xA0 reserved, 0xA1 H1
    h = bytearray(struct.pack("<h", c["H2"]))
    h.append(c["H3"])
    h.append((c["H4"] >> 4) & 0xFF)
    h.append((c["H4"] & 0x0F) | ((c["H5"] & 0x0F) << 4))
    h.append((c["H5"] >> 4) & 0xFF)
    h.append(c["H6"] & 0xFF)
    return bytes(tp), bytes(h)


class Bme280Sim(Device):
    """BME280 register file: chip id, calibration, ctrl_hum latched by ctrl_meas, forced/normal mode,
    status.measuring while converting, 16-bit resolution at x1 oversampling, soft reset."""

    ROLE = "climate"
    CONVERSION_US = 9300  # T, P, H at x1

    def __init__(self, kind, world, addr=None, calibration=None):
        super().__init__(kind, world)
        if addr is None:  # world devices.climate_addr: SDO strapped high on many breakouts (0x77)
            devices = getattr(world, "state", {}).get("devices") or {}
            addr = devices.get("climate_addr", 0x76)
        self.addr = addr
        self.cal = calibration or BME280_CAL
        self._reset()

    def _reset(self):
        regs = bytearray(256)
        tp, h = bme280_calibration_bytes(self.cal)
        regs[0x88 : 0x88 + 26] = tp
        regs[0xE1 : 0xE1 + 7] = h
        regs[0xD0] = 0x60
        regs[0xF7:0xFF] = b"\x80\x00\x00\x80\x00\x00\x80\x00"  # reset values: "no conversion yet"
        self.regs = regs
        self._ptr = 0
        self._hum_latched = 0
        self._done_us = None
        self._pending = None

    def raw_for(self, temperature_c, pressure_hpa, humidity_pct):
        """(adc_T, adc_P, adc_H) that the float formulas turn into the given values, 16-bit T/P at x1."""
        c = self.cal
        adc_t = _invert(lambda x: bme280_float_t(c, x << 4)[1], temperature_c, 0, 0xFFFF) << 4
        t_fine = bme280_float_t(c, adc_t)[0]
        adc_p = _invert(lambda x: bme280_float_p(c, x << 4, t_fine), pressure_hpa * 100, 0, 0xFFFF) << 4
        humidity = 0.0 if humidity_pct < 0 else 100.0 if humidity_pct > 100 else humidity_pct
        adc_h = _invert(lambda x: bme280_float_h(c, x, t_fine), humidity, 0, 0xFFFF)
        return adc_t, adc_p, adc_h

    def _convert(self, ctrl_meas):
        osrs_t, osrs_p = ctrl_meas >> 5, (ctrl_meas >> 2) & 7
        env = self._env
        adc_t, adc_p, adc_h = self.raw_for(
            env("temperature_c", 20.0), env("pressure_hpa", 1013.25), env("humidity_pct", 50.0)
        )
        if not osrs_t:
            adc_t = 0x80000
        if not osrs_p:
            adc_p = 0x80000
        if not self._hum_latched:
            adc_h = 0x8000
        data = bytes(
            (
                adc_p >> 12,
                (adc_p >> 4) & 0xFF,
                (adc_p & 0xF) << 4,
                adc_t >> 12,
                (adc_t >> 4) & 0xFF,
                (adc_t & 0xF) << 4,
                adc_h >> 8,
                adc_h & 0xFF,
            )
        )
        self._pending = data
        self._done_us = self.world.now_us() + self.CONVERSION_US

    def _settle(self):
        if self._done_us is not None and self.world.now_us() >= self._done_us:
            self.regs[0xF7:0xFF] = self._pending
            self._done_us = None
            if self.regs[0xF4] & 3 == 1:
                self.regs[0xF4] &= 0xFC  # forced mode falls back to sleep after one conversion

    def i2c_write(self, data):
        if not self.alive():
            return False
        self._settle()
        data = bytes(data)
        if len(data) == 1:
            self._ptr = data[0]
            return True
        for i in range(0, len(data) - 1, 2):  # (register, value) pairs
            reg, value = data[i], data[i + 1]
            if reg == 0xE0 and value == 0xB6:
                self._reset()
            elif reg == 0xF2:
                self.regs[0xF2] = value & 7
            elif reg == 0xF4:
                self.regs[0xF4] = value
                self._hum_latched = self.regs[0xF2]
                if value & 3:
                    self._convert(value)
            elif reg == 0xF5:
                self.regs[0xF5] = value
        return True

    def i2c_read(self, n):
        if not self.alive():
            return None
        self._settle()
        if self._done_us is not None:
            self.regs[0xF3] |= 0x08
        else:
            self.regs[0xF3] &= ~0x08 & 0xFF
        start = self._ptr
        out = bytearray(n)
        for i in range(n):
            out[i] = self.regs[(start + i) & 0xFF]
        fault = self.fault()
        if fault == "crc":
            for i in range(n):
                out[i] ^= 0x5A
        elif fault == "garbage":
            out = bytearray(self._junk(n))
        return bytes(out)
