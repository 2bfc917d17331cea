"""DFRobot A02YYUW / A01NYUB ranger on a UART (9600 8N1), frames `0xFF, H, L, SUM`.

The module streams a frame about every 100 ms on its own. A reading therefore first throws away
what waited in the UART buffer (stale frames from before this wake, or half a frame), then takes the
next `pings` fresh frames. Frames are found with a 4-byte sliding window: any window that starts with
0xFF and whose checksum matches is a frame, so a lost or corrupted byte costs one frame and the parser
is back in step on the next header (resync), with no state to reset.
The module reports 0 when it has no valid echo (nothing in front, or blocked in its 3 cm blind zone).
It converts time of flight with a fixed speed of sound; the driver rescales to the measured temperature
(_NOMINAL_DMS assumes the module's fixed value is that of 20 C: unverified, see README).
"""

import time

from micropython import const

from .ultrasonic import FAULT, NO_ECHO, Ranger

_HEADER = const(0xFF)
_FRAME_TIMEOUT_MS = const(350)  # 100-300 ms per frame in processed mode, plus margin
_POLL_MS = const(10)
_NOMINAL_DMS = const(3434)  # the module's fixed speed of sound, 0.1 m/s: that of 20 C (assumed, see README)
_FLUSH_LIMIT = const(64)  # at most 64 reads while draining stale bytes (a stuck-talking line cannot hang us)
# Frames come >= 100 ms apart (DFRobot SEN0311 wiki: response time 100 ms; 100-300 ms in processed mode)
# and the module starts streaming only after power-up: with nothing pending the CPU naps 80 ms in light
# sleep (~0.8 mA instead of ~35 mA awake, ESP32 datasheet "Power Consumption by Power Modes") before it
# polls. Bytes arriving during light sleep are lost (ESP-IDF sleep modes, UART wakeup): a frame caught
# half-way is dropped by the sliding window and the next one taken, so a nap costs at most one frame.
_NAP_MS = const(80)


def frame_mm(b0, b1, b2, b3):
    """Distance in mm from one 4-byte window, or -1 when it is not a valid frame."""
    if b0 != _HEADER or ((b0 + b1 + b2) & 0xFF) != b3:
        return -1
    return (b1 << 8) | b2


class A02yyuw(Ranger):
    MIN_MM = 30
    MAX_MM = 4500
    GAP_MS = 0  # frames are paced by the module itself
    STOP_WHEN_AGREED = True  # 100-300 ms a frame: three agreeing frames are the reading (saves 2 frames)

    def __init__(self, uart, pings=5, nap=None):
        super().__init__(pings)
        self._uart = uart
        if nap is None:
            import machine

            nap = getattr(machine, "lightsleep", None)  # None: a port without it polls awake instead
        self._nap = nap
        self._buf = bytearray(32)
        self._pos = 0  # next unread byte in _buf
        self._len = 0  # bytes held in _buf
        self._win = bytearray(4)
        self._fill = 0  # bytes pushed into the window since the last frame (a frame needs 4)
        self.frames_bad = 0  # checksum failures seen (garbage on the line), for logs and the self-test

    def _power(self, on):
        if on:  # drop everything that waited in the UART: it was measured before this burst
            uart = self._uart
            for _ in range(_FLUSH_LIMIT):
                if not uart.any():
                    break
                uart.readinto(self._buf)
            self._pos = self._len = self._fill = 0

    def _push(self, byte):
        """Slide one byte into the window; the frame's mm when the window now holds one, else -1."""
        win = self._win
        win[0] = win[1]
        win[1] = win[2]
        win[2] = win[3]
        win[3] = byte
        self._fill += 1
        if self._fill < 4 or win[0] != _HEADER:
            return -1
        mm = frame_mm(win[0], win[1], win[2], win[3])
        if mm < 0:
            self.frames_bad += 1
        else:
            self._fill = 0
        return mm

    def _next_frame(self):
        """mm of the next valid frame, or FAULT when none arrives within the frame timeout."""
        uart = self._uart
        buf = self._buf
        start = time.ticks_ms()
        if self._pos >= self._len and not uart.any():
            (self._nap or time.sleep_ms)(_NAP_MS)
        while True:
            while self._pos < self._len:
                byte = buf[self._pos]
                self._pos += 1
                mm = self._push(byte)
                if mm >= 0:
                    return mm
            if time.ticks_diff(time.ticks_ms(), start) >= _FRAME_TIMEOUT_MS:
                return FAULT
            if uart.any():
                self._len = uart.readinto(buf) or 0
                self._pos = 0
            else:
                time.sleep_ms(_POLL_MS)

    def _ping(self, c_dms):
        mm = self._next_frame()
        if mm < 0:
            return mm
        if mm == 0:
            return NO_ECHO  # the module's "no valid echo"
        return (mm * c_dms + (_NOMINAL_DMS >> 1)) // _NOMINAL_DMS  # rescale to the measured temperature
