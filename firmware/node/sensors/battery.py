"""Battery voltage through the board's resistor divider on an ADC pin.

`ratio` is V_adc / V_battery from the board profile (0.6 on the RAK11200). A few samples are averaged
because the ESP32 ADC is noisy by some tens of mV. read_uv() is the ESP32 port's calibrated reading, so
no attenuation maths here. A reading below 0.5 V means no battery on the divider (USB power): None.
"""

from micropython import const

_SAMPLES = const(8)
_MIN_PLAUSIBLE_MV = const(500)


class Battery:
    def __init__(self, adc, ratio, samples=_SAMPLES):
        if not ratio or ratio <= 0 or ratio > 1:
            raise ValueError(f"battery divider ratio must be in (0, 1], got {ratio!r}")
        self._adc = adc
        self._ratio = ratio
        self._samples = samples

    def read_mv(self):
        """Battery voltage in mV, or None when the ADC fails or reads no battery."""
        total = 0
        try:
            for _ in range(self._samples):
                total += self._adc.read_uv()
        except (OSError, ValueError):
            return None
        mv = int(total / self._samples / self._ratio / 1000 + 0.5)
        return mv if mv >= _MIN_PLAUSIBLE_MV else None
