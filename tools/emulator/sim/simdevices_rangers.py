"""Simulated ultrasonic rangers: JSN-SR04T and RAK12007 echo pulses, A02YYUW UART frames."""

import math

from simdevices import Device


def speed_of_sound(temperature_c):
    """Speed of sound in dry air, m/s (ideal-gas law)."""
    return 331.3 * math.sqrt(1 + temperature_c / 273.15)


class _Ranger(Device):
    ROLE = "ultrasonic"
    MAX_CM = 0
    NO_TARGET_US = 0  # how long the echo stays high when nothing comes back

    def __init__(self, kind, world):
        super().__init__(kind, world)
        self.pings = 0

    def true_distance_cm(self):
        """The distance the sensor hears this ping: world truth, or a false echo under "outliers"."""
        self.pings += 1
        distance = self._env("distance_cm")
        if distance is not None and self.fault() == "outliers" and self.pings % 3 == 0:
            return distance * 0.6
        return distance


class _PulseRanger(_Ranger):
    def __init__(self, kind, world):
        super().__init__(kind, world)
        self._armed = False
        self.triggers = 0

    def trigger(self):
        if self.alive():
            self._armed = True
            self.triggers += 1

    def pulse_us(self, level, timeout_us):
        if level != 1 or not self._armed or not self.alive():
            return -2  # the echo line never rises
        self._armed = False
        if self.fault() == "garbage":
            width = 50 + self._rng.below(self.NO_TARGET_US)
        else:
            distance = self.true_distance_cm()
            if distance is None or distance > self.MAX_CM:
                width = self.NO_TARGET_US
            else:
                c = speed_of_sound(self._env("temperature_c", 20.0))
                width = int(2 * distance / 100 / c * 1000000 + 0.5)
        return -1 if width > timeout_us else width


class JsnSr04tSim(_PulseRanger):
    MAX_CM = 600
    NO_TARGET_US = 60000


class Rak12007Sim(_PulseRanger):
    MAX_CM = 400
    NO_TARGET_US = 30000


class A02yyuwSim(_Ranger):
    """A02YYUW streaming a frame every 100 ms of world time while powered (processed mode).

    The module computes mm with a fixed speed of sound (that of 20 C); the UART keeps only the newest
    RX_BUFFER bytes, as a full ring buffer on the ESP32 does.
    """

    MAX_CM = 450
    MIN_CM = 3
    PERIOD_US = 100000
    RX_BUFFER = 256
    MODULE_C = 331.3 + 0.606 * 20

    def __init__(self, kind, world):
        super().__init__(kind, world)
        self._next_us = None
        self.written = 0  # bytes the firmware sent (processed mode ignores them)

    def uart_write(self, data):
        self.written += len(data)

    def _frame(self):
        fault = self.fault()
        if fault == "garbage":
            return self._junk(4)
        distance = self.true_distance_cm()
        if distance is None or distance > self.MAX_CM or distance < self.MIN_CM:
            mm = 0  # the module's "no valid echo"
        else:
            mm = int(distance * 10 * self.MODULE_C / speed_of_sound(self._env("temperature_c", 20.0)) + 0.5)
        frame = bytearray((0xFF, mm >> 8, mm & 0xFF, 0))
        frame[3] = (0xFF + frame[1] + frame[2]) & 0xFF
        if fault == "crc":
            frame[3] ^= 0x21
        if fault == "noisy":
            return self._junk(1 + self._rng.below(5)) + bytes(frame)
        return bytes(frame)

    def uart_pending(self):
        now = self.world.now_us()
        if not self.alive():
            self._next_us = None  # unpowered: restarts its 100 ms cadence at power-up
            return b""
        if self._next_us is None:
            self._next_us = now + self.PERIOD_US
            return b""
        if now < self._next_us:
            return b""
        count = (now - self._next_us) // self.PERIOD_US + 1
        self._next_us += count * self.PERIOD_US
        count = min(count, self.RX_BUFFER // 4 + 1)  # older frames were overwritten in the RX buffer
        out = bytearray()
        for _ in range(count):
            out += self._frame()
        return bytes(out[-self.RX_BUFFER :])
