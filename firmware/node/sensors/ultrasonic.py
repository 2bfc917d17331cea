"""Ultrasonic fill-level measurement shared by every ranger model.

One reading is several pings, because a single ultrasonic ping in a bin is unreliable (a bag edge, a
wall echo, rain on the transducer). The pings are filtered here, once, for every model:
blind zone and maximum range of the model, a quorum of in-range pings, outlier rejection by the median
absolute deviation, then the median. Every failure ends as a return code, never an exception, so a broken
sensor costs one flag in the uplink, not the wake cycle.
"""

import time

from micropython import const

NO_ECHO = const(-1)  # nothing inside the model's valid range (empty space, target in the blind zone)
FAULT = const(-2)  # sensor missing, timed out, or answered garbage

DEFAULT_TEMPERATURE_C = 20.0  # used when no climate reading is available
_MAD_FACTOR = const(3)  # keep pings within 3 x MAD of the median ...
_MIN_SPREAD_MM = const(15)  # ... but never reject a ping closer than 15 mm (MAD of identical pings is 0)
_AGREE_MM = const(30)  # a majority of pings within 30 mm ...
_AGREE_FRACTION = const(20)  # ... or 5 % of the distance, whichever is larger, is one surface


def speed_of_sound(temperature_c):
    """Speed of sound in air in m/s at temperature_c (c = 331.3 + 0.606 T); 20 C when unknown."""
    if temperature_c is None:
        temperature_c = DEFAULT_TEMPERATURE_C
    return 331.3 + 0.606 * temperature_c


def sound_dms(temperature_c):
    """Speed of sound in 0.1 m/s as an int: per-ping maths stays in small ints (no float allocations)."""
    return int(speed_of_sound(temperature_c) * 10 + 0.5)


def echo_to_mm(width_us, c_dms):
    """One-way distance in mm from a round-trip echo width in us at c_dms (0.1 m/s), rounded."""
    # width_us * 1e-6 s * c_dms / 10 m/s / 2 * 1000 mm/m; a 40 ms echo x 3600 stays below 2**30
    return (width_us * c_dms + 10000) // 20000


def _median(values, start, end):
    """Median of the sorted slice values[start:end] without slicing (no allocation)."""
    half = start + ((end - start) >> 1)
    if (end - start) & 1:
        return values[half]
    return (values[half - 1] + values[half]) // 2


def _sort_prefix(values, n):
    """Insertion sort of values[:n] in place (n is a handful of pings)."""
    for i in range(1, n):
        v = values[i]
        j = i - 1
        while j >= 0 and values[j] > v:
            values[j + 1] = values[j]
            j -= 1
        values[j + 1] = v


def summarize(pings, min_mm, max_mm, scratch=None, count=None):
    """Reduce a list of per-ping results (mm, NO_ECHO or FAULT) to one reading.

    A majority of the pings must be in range and agree (within max(30 mm, 5 %) of their median),
    else the reading is FAULT when faults or disagreement dominate, NO_ECHO when empty space does.
    From the agreeing pings, outliers beyond 3 x MAD are dropped and the median is returned.
    `pings` is rewritten and sorted in place; `scratch` (a list as long as pings) avoids an allocation;
    `count` takes only the first count pings (a burst that stopped early), without slicing.
    """
    if count is None:
        count = len(pings)
    if count == 0:
        return FAULT
    quorum = count // 2 + 1
    faults = 0
    for i in range(count):
        mm = pings[i]
        if mm == FAULT:
            faults += 1
        elif mm < min_mm or mm > max_mm:
            pings[i] = NO_ECHO  # in the blind zone or beyond the rated range: not trusted
    _sort_prefix(pings, count)
    first = 0
    while first < count and pings[first] < 0:
        first += 1
    valid = count - first
    if valid < quorum:
        return FAULT if faults > count - valid - faults else NO_ECHO
    median = _median(pings, first, count)
    agree = max(_AGREE_MM, median // _AGREE_FRACTION)
    agreeing = 0
    for i in range(first, count):
        if abs(pings[i] - median) <= agree:
            agreeing += 1
    if agreeing < quorum:
        return FAULT  # in-range pings scattered: electrical noise or garbage, not a surface
    if scratch is None:
        scratch = [0] * count
    for i in range(first, count):
        scratch[i - first] = abs(pings[i] - median)
    _sort_prefix(scratch, valid)
    limit = max(_MAD_FACTOR * _median(scratch, 0, valid), _MIN_SPREAD_MM)
    # the pings within the limit are one run of the sorted list: trim both ends, then take its median
    lo, hi = first, count
    while lo < hi - 1 and pings[lo] < median - limit:
        lo += 1
    while hi - 1 > lo and pings[hi - 1] > median + limit:
        hi -= 1
    return _median(pings, lo, hi)


def agree(pings, count, min_mm, max_mm):
    """True when the first `count` pings are all in range and within max(30 mm, 5 %) of each other: one
    surface, so more pings would not change the reading (a burst may stop here and save sensor power)."""
    lo = hi = pings[0]
    for i in range(count):
        mm = pings[i]
        if mm < min_mm or mm > max_mm:
            return False
        lo = min(lo, mm)
        hi = max(hi, mm)
    return hi - lo <= max(_AGREE_MM, lo // _AGREE_FRACTION)


class Ranger:
    """Base of every ultrasonic driver: `measure()` takes `pings` readings via the model's `_ping`.

    Subclasses set MIN_MM / MAX_MM (blind zone and rated range) and GAP_MS (quiet time between pings so
    the previous ping's echoes have died out), and implement `_ping(c_dms) -> mm | NO_ECHO | FAULT`
    where c_dms is the speed of sound in 0.1 m/s. The ping lists are allocated once, here.
    """

    MIN_MM = 0
    MAX_MM = 0
    GAP_MS = 60
    STOP_WHEN_AGREED = False  # stop the burst once a quorum of pings agree (models whose pings are slow)

    def __init__(self, pings=5):
        if pings < 1:
            raise ValueError(f"pings must be >= 1, got {pings}")
        self.pings = pings
        self.last_pings = [0] * pings  # raw per-ping results of the last measure(), for logs and self-test
        self._results = [0] * pings
        self._scratch = [0] * pings

    def _power(self, on):
        """Switch the sensor on/off where the model has its own power pin (default: nothing)."""

    def _ping(self, c_dms):
        """One ping of the model: mm, NO_ECHO or FAULT (each model implements it)."""
        raise NotImplementedError

    def measure(self, temperature_c=None):
        """Distance in mm, or NO_ECHO / FAULT. Never raises for a sensor problem."""
        results = self._results
        c_dms = sound_dms(temperature_c)
        quorum = self.pings // 2 + 1
        done = 0
        count = self.pings
        try:
            self._power(True)
            while done < self.pings:
                if done:
                    time.sleep_ms(self.GAP_MS)
                results[done] = self._ping(c_dms)
                done += 1
                if self.STOP_WHEN_AGREED and done >= quorum:
                    if agree(results, done, self.MIN_MM, self.MAX_MM):
                        count = done  # the quorum agrees: the remaining pings could not outvote it
                        break
        except OSError:
            pass  # a bus error aborts the burst: the pings not taken count as faults
        finally:
            try:
                self._power(False)
            except OSError:
                pass
        for i in range(self.pings):
            if i >= done:
                results[i] = FAULT if count == self.pings else 0  # 0: not taken (stopped early)
            self.last_pings[i] = results[i]
        return summarize(results, self.MIN_MM, self.MAX_MM, self._scratch, count)


class PulseRanger(Ranger):
    """Trigger/echo rangers (JSN-SR04T, RAK12007): a trigger pulse, then the echo width by time_pulse_us.

    The echo timeout is the round trip to MAX_MM at -30 C plus a margin, so "no target" echoes (which
    the modules hold high for 30-60 ms) end as NO_ECHO (-1 from time_pulse_us) instead of blocking, and
    an echo that never rises (-2: unplugged, unpowered) ends as FAULT.
    """

    TRIGGER_US = 20

    def __init__(self, trig, echo, pings=5, pulse_us=None):
        super().__init__(pings)
        self._trig = trig
        self._echo = echo
        if pulse_us is None:
            import machine

            pulse_us = machine.time_pulse_us
        self._pulse_us = pulse_us
        self._timeout_us = int(2000 * self.MAX_MM / speed_of_sound(-30.0)) + 2000
        trig.value(0)

    def _ping(self, c_dms):
        trig = self._trig
        trig.value(0)
        time.sleep_us(5)
        trig.value(1)
        time.sleep_us(self.TRIGGER_US)
        trig.value(0)
        width = self._pulse_us(self._echo, 1, self._timeout_us)
        if width == -2:
            return FAULT  # the echo line never rose: no sensor answering
        if width < 0:
            return NO_ECHO  # echo held beyond the longest valid round trip: nothing in range
        return echo_to_mm(width, c_dms)
