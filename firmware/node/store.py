"""Per-cycle state in RTC memory (kept across deep sleep, lost on power-off) and the flash helpers.

RTC layout: version byte, payload length, CRC-32 (binascii, as zlib computes it), then a fixed struct
header, the pending config report and the batch of samples. A wrong version or checksum means "first
boot": the state is rebuilt from defaults, never trusted half-way. Flash files are written atomically
(temp file, then rename) because a node can lose power in the middle of a write.
"""

import struct
from binascii import crc32

from micropython import const

VERSION = const(3)
MAX_BATCH = const(32)
MAX_REPORT = const(16)
NONE_I16 = const(-32768)

# flags
F_JOINED = const(1)
F_BIN_FULL = const(2)
F_FIRE = const(4)
F_STATUS_DUE = const(8)
F_MEASURE_NOW = const(16)
F_IDENTITY_SET = const(32)
F_REPORT_DUE = const(64)

_HDR = "<BIHHHHHHBIhbHHBBB"
# One list of the header's attributes, in _HDR's order, for pack and unpack alike. rssi and snr are
# stored with sentinels (0, NO_SNR) for "no downlink heard yet".
_HDR_FIELDS = (
    "flags",
    "wake_count",
    "uplinks_since_status",
    "sensor_errors",
    "radio_errors",
    "watchdog_resets",
    "join_count",
    "join_failures",
    "batch_flags",
    "next_join_s",
    "rssi",
    "snr",
    "report_version",
    "battery_mv",
    "report_len",
    "batch_len",
    "last_fill_pct",
)
_RSSI_AT = const(10)
_SNR_AT = const(11)
_HDR_SIZE = struct.calcsize(_HDR)
_SAMPLE = "<hhBH"  # distance_cm (-1 none, -2 no echo), temperature x10, humidity % (255 none), hPa x10
_SAMPLE_SIZE = struct.calcsize(_SAMPLE)
_FRAME = "<BHI"
_FRAME_SIZE = const(7)
NO_SNR = const(127)


def checksum(buf, start, end):
    # CRC-32, not a sum: a flipped byte (0x00 <-> 0xFF included) always shows
    return crc32(memoryview(buf)[start:end]) & 0xFFFFFFFF


class State:
    """Everything one wake cycle needs from the previous one. Samples are kept packed, not as dicts."""

    def __init__(self):
        self.flags = 0
        self.wake_count = 0
        self.uplinks_since_status = 0
        self.sensor_errors = 0
        self.radio_errors = 0
        self.watchdog_resets = 0
        self.join_count = 0
        self.join_failures = 0
        self.batch_flags = 0
        self.next_join_s = 0
        self.rssi = None
        self.snr = None
        self.report_version = 0
        self.battery_mv = 0
        self.last_fill_pct = 255
        self.report = bytearray(MAX_REPORT * 2)  # (setting id, status index) pairs
        self.report_len = 0
        self.batch = bytearray(MAX_BATCH * _SAMPLE_SIZE)
        self.batch_len = 0

    def has(self, flag):
        return bool(self.flags & flag)

    def set(self, flag, on=True):
        self.flags = (self.flags | flag) if on else (self.flags & ~flag)

    # -- batch ---------------------------------------------------------------------------------------
    def add_sample(self, reading):
        """Append a reading dict; when full, the oldest sample is dropped (newest data matters most)."""
        if self.batch_len >= MAX_BATCH:
            self.batch[0 : (MAX_BATCH - 1) * _SAMPLE_SIZE] = self.batch[_SAMPLE_SIZE:]
            self.batch_len = MAX_BATCH - 1
        d = reading.get("distance_cm")
        if reading.get("no_echo"):
            d = -2
        elif d is None:
            d = -1
        t = reading.get("temperature_c")
        h = reading.get("humidity_pct")
        p = reading.get("pressure_hpa")
        struct.pack_into(
            _SAMPLE,
            self.batch,
            self.batch_len * _SAMPLE_SIZE,
            d,
            NONE_I16 if t is None else int(round(t * 10)),
            255 if h is None else int(round(h)),
            0 if p is None else int(round(p * 10)),
        )
        self.batch_len += 1

    def sample(self, i, with_pressure):
        d, t, h, p = struct.unpack_from(_SAMPLE, self.batch, i * _SAMPLE_SIZE)
        r = {
            "distance_cm": d if d >= 0 else None,
            "no_echo": d == -2,
            "temperature_c": None if t == NONE_I16 else t / 10,
            "humidity_pct": None if h == 255 else h,
        }
        if with_pressure:
            r["pressure_hpa"] = p / 10 if p else None
        return r

    def drop_samples(self, n):
        n = min(n, self.batch_len)
        keep = (self.batch_len - n) * _SAMPLE_SIZE
        self.batch[0:keep] = self.batch[n * _SAMPLE_SIZE : n * _SAMPLE_SIZE + keep]
        self.batch_len -= n
        if not self.batch_len:
            self.batch_flags = 0

    # -- config report -------------------------------------------------------------------------------
    def set_report(self, version, entries):
        self.report_version = version
        n = 0
        for sid, status in entries[:MAX_REPORT]:
            self.report[2 * n] = sid & 0xFF
            self.report[2 * n + 1] = status
            n += 1
        self.report_len = n

    def report_entries(self, statuses):
        return [(self.report[2 * i], statuses[self.report[2 * i + 1]]) for i in range(self.report_len)]

    # -- RTC image -----------------------------------------------------------------------------------
    def pack(self):
        size = _FRAME_SIZE + _HDR_SIZE + MAX_REPORT * 2 + self.batch_len * _SAMPLE_SIZE
        buf = bytearray(size)
        values = [getattr(self, name) for name in _HDR_FIELDS]
        values[_RSSI_AT] = 0 if self.rssi is None else self.rssi
        values[_SNR_AT] = NO_SNR if self.snr is None else self.snr
        struct.pack_into(_HDR, buf, _FRAME_SIZE, *values)
        off = _FRAME_SIZE + _HDR_SIZE
        buf[off : off + MAX_REPORT * 2] = self.report
        off += MAX_REPORT * 2
        buf[off:] = self.batch[: self.batch_len * _SAMPLE_SIZE]
        struct.pack_into(_FRAME, buf, 0, VERSION, size - _FRAME_SIZE, checksum(buf, _FRAME_SIZE, size))
        return buf

    def unpack(self, buf):
        """Load an RTC image; False (state untouched) when it is empty, of another version or corrupt."""
        if len(buf) < _FRAME_SIZE + _HDR_SIZE:
            return False
        version, length, check = struct.unpack_from(_FRAME, buf, 0)
        if version != VERSION or _FRAME_SIZE + length > len(buf) or length < _HDR_SIZE + MAX_REPORT * 2:
            return False
        if checksum(buf, _FRAME_SIZE, _FRAME_SIZE + length) != check:
            return False
        values = struct.unpack_from(_HDR, buf, _FRAME_SIZE)
        for i, name in enumerate(_HDR_FIELDS):  # no zip(strict=) on MicroPython
            setattr(self, name, values[i])
        self.rssi = None if values[_RSSI_AT] == 0 else values[_RSSI_AT]
        self.snr = None if values[_SNR_AT] == NO_SNR else values[_SNR_AT]
        off = _FRAME_SIZE + _HDR_SIZE
        self.report[:] = buf[off : off + MAX_REPORT * 2]
        off += MAX_REPORT * 2
        n = min(self.batch_len, MAX_BATCH, (length + _FRAME_SIZE - off) // _SAMPLE_SIZE)
        self.batch[: n * _SAMPLE_SIZE] = buf[off : off + n * _SAMPLE_SIZE]
        self.batch_len = n
        return True


def load_rtc(rtc):
    """(State, restored?) from RTC memory."""
    state = State()
    try:
        ok = state.unpack(rtc.memory())
    except (OSError, ValueError):
        ok = False
    return state, ok


def save_rtc(rtc, state):
    rtc.memory(state.pack())


# -- flash ---------------------------------------------------------------------------------------------
def write_atomic(path, text):
    """Write a file so that a power cut leaves the old or the new content, never a mix."""
    import os

    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        f.write(text)
    os.rename(tmp, path)


def read_text(path):
    """File content, or None when it does not exist."""
    try:
        with open(path) as f:
            return f.read()
    except OSError:
        return None
