"""RAK12007 WisBlock ultrasonic module (CS100 chip), trigger/echo with its own power-down pin.

The power-down pin (high = off) is driven low for the measurement burst and high again after it, so the
module draws nothing between wake cycles even when the 3V3_S rail stays on. 12 us trigger, range
2 cm - 4 m; with no target the echo ends after about 24-33 ms, which the echo timeout turns into NO_ECHO.
"""

import time

from .ultrasonic import PulseRanger


class Rak12007(PulseRanger):
    MIN_MM = 20
    MAX_MM = 4000
    TRIGGER_US = 12
    GAP_MS = 40
    STARTUP_MS = 30  # settle time after releasing power-down before the first trigger (unverified figure)

    def __init__(self, trig, echo, power_down=None, pings=5, pulse_us=None):
        self._power_down = power_down
        if power_down is not None:
            power_down.value(1)
        super().__init__(trig, echo, pings, pulse_us)

    def _power(self, on):
        if self._power_down is None:
            return
        self._power_down.value(0 if on else 1)
        if on:
            time.sleep_ms(self.STARTUP_MS)
