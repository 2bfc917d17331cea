"""Simulated Sensirion SHTC3 and SHT4x on I2C: real commands, real CRC-8, NACK while converting."""

from simdevices import Device


def crc8(data):
    """Sensirion CRC-8 (poly 0x31, init 0xFF)."""
    crc = 0xFF
    for b in data:
        crc ^= b
        for _ in range(8):
            crc = ((crc << 1) ^ 0x31) & 0xFF if crc & 0x80 else (crc << 1) & 0xFF
    return crc


class _Sensirion(Device):
    """Command-driven I2C sensor: a command starts a conversion; reads NACK until it is done."""

    ROLE = "climate"
    MEASURE_US = 0

    def __init__(self, kind, world):
        super().__init__(kind, world)
        self._result = None  # bytes ready to read
        self._ready_us = 0
        self.last_command = None  # for tests and logs

    def _words(self, *words):
        out = bytearray()
        for w in words:
            pair = bytes(((w >> 8) & 0xFF, w & 0xFF))
            out += pair
            out.append(crc8(pair))
        return bytes(out)

    def _start(self, payload, delay_us):
        self._result = payload
        self._ready_us = self.world.now_us() + delay_us

    def i2c_write(self, data):
        if not self.alive():
            return False
        data = bytes(data)
        if len(data) < 1:
            return True
        self.last_command = data
        return self._command(data)

    def i2c_read(self, n):
        if not self.alive() or self._result is None or self.world.now_us() < self._ready_us:
            return None  # NACK of the read header: nothing to read or still converting
        out = bytearray(self._result[:n])
        self._result = None
        fault = self.fault()
        if fault == "crc":
            for i in range(2, len(out), 3):
                out[i] ^= 0x5A
        elif fault == "garbage":
            out = bytearray(self._junk(len(out)))
        while len(out) < n:
            out.append(0xFF)  # reading past the data: the bus idles high
        return bytes(out)

    def _raw(self, value, offset, scale, span):
        raw = int((value - offset) * span / scale + 0.5)
        return 0 if raw < 0 else span - 1 if raw > span - 1 else raw


class Shtc3Sim(_Sensirion):
    """SHTC3 at 0x70: sleep/wake, T-first and RH-first measurement, ID, soft reset."""

    MEASURE_US = 12100

    def __init__(self, kind, world):
        super().__init__(kind, world)
        self.addr = 0x70
        self.asleep = False  # idle after power-up

    def _measurement(self, rh_first):
        raw_t = self._raw(self._env("temperature_c", 20.0), -45, 175, 65536)
        raw_rh = self._raw(self._env("humidity_pct", 50.0), 0, 100, 65536)
        return self._words(raw_rh, raw_t) if rh_first else self._words(raw_t, raw_rh)

    def _command(self, data):
        cmd = (data[0] << 8) | data[1] if len(data) >= 2 else -1
        if self.asleep:
            if cmd == 0x3517:
                self.asleep = False
                return True
            return False  # asleep: everything but wake-up is NACKed
        if cmd == 0x3517:
            return True
        if cmd == 0xB098:
            self.asleep = True
            self._result = None
        elif cmd == 0x805D:
            self._result = None
        elif cmd == 0xEFC8:
            self._start(self._words(0x0887), 0)
        elif cmd in (0x7866, 0x7CA2):  # T first, without / with clock stretching
            self._start(self._measurement(False), self.MEASURE_US)
        elif cmd in (0x58E0, 0x5C24):  # RH first
            self._start(self._measurement(True), self.MEASURE_US)
        else:
            return False
        return True


class Sht4xSim(_Sensirion):
    """SHT4x at 0x44: the three precision measurements, serial number, soft reset."""

    _MEASURE = {0xFD: 8300, 0xF6: 4500, 0xE0: 1700}

    def __init__(self, kind, world):
        super().__init__(kind, world)
        self.addr = 0x44

    def _command(self, data):
        cmd = data[0]
        if cmd in self._MEASURE:
            raw_t = self._raw(self._env("temperature_c", 20.0), -45, 175, 65535)
            raw_rh = self._raw(self._env("humidity_pct", 50.0), -6, 125, 65535)
            self._start(self._words(raw_t, raw_rh), self._MEASURE[cmd])
        elif cmd == 0x89:
            self._start(self._words(0x1234, 0x5678), 0)
        elif cmd == 0x94:
            self._result = None
        else:
            return False
        return True
