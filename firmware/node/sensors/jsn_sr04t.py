"""JSN-SR04T / AJ-SR04M waterproof ranger in trigger/echo mode.

A 20 us trigger (10 us is the minimum; 20 us triggers more reliably on these modules), echo width is the
round trip. Blind zone about 20-25 cm: pings closer than 25 cm are not trusted. With no target the echo
stays high for about 60 ms, which the echo timeout turns into NO_ECHO.
"""

from .ultrasonic import PulseRanger


class JsnSr04t(PulseRanger):
    MIN_MM = 250
    MAX_MM = 6000
    TRIGGER_US = 20
    GAP_MS = 70  # longer than the 60 ms no-target echo, so one ping never hears the previous one
