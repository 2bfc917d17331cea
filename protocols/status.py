"""Encoder for fPort 3 (status / health): SPEC.md. CPython and MicroPython. fPort 4 (config report) is in
report.py: a node builds one or the other in a step, never both (64 KB heap)."""

from protocols.fields import (
    RESET_CAUSES,
    VERSION,
    CodecError,
    get,
    int_field,
    is_number,
    raw_battery,
)

# fPort 3: status


def _saturate(obj, key, top):
    v = get(obj, key, "status")
    if not isinstance(v, int) or isinstance(v, bool):
        raise CodecError("format", "status." + key + " must be an integer, got " + repr(v))
    if v < 0:
        raise CodecError("range", "status." + key + " = " + str(v) + " is negative")
    return top if v > top else v


def _signal(obj, key):
    """Link quality as i8: null -> -128 (none yet); rounded, saturating at -127..127."""
    v = get(obj, key, "status")
    if v is None:
        return 128
    if not is_number(v) or v != v:
        raise CodecError("format", "status." + key + " must be a number or null, got " + repr(v))
    v = -127 if v < -127 else 127 if v > 127 else int(v + 127.5) - 127  # round half up, floor via offset
    return v & 0xFF


def _fw_version(text):
    if not isinstance(text, str):
        raise CodecError("format", "status.fw_version must be 'major.minor.patch', got " + repr(text))
    parts = text.split(".")
    if len(parts) != 3:
        raise CodecError("format", "status.fw_version " + repr(text) + " is not 'major.minor.patch'")
    nums = []
    for p in parts:
        if not p or not p.isdigit() or len(p) > 3:
            raise CodecError("format", "status.fw_version " + repr(text) + " is not 'major.minor.patch'")
        nums.append(int(p))
    if nums[0] > 15 or nums[1] > 63 or nums[2] > 63:
        raise CodecError("range", "status.fw_version " + text + ": major 0..15, minor and patch 0..63")
    return (nums[0] << 12) | (nums[1] << 6) | nums[2]


def encode_status(status):
    """Health snapshot -> 15 bytes. Counters saturate (wake_count wraps at 2^24), as SPEC says."""
    cause = get(status, "reset_cause", "status")
    if cause in RESET_CAUSES:
        cause = RESET_CAUSES.index(cause)
    elif not (isinstance(cause, int) and not isinstance(cause, bool) and 0 <= cause < len(RESET_CAUSES)):
        raise CodecError(
            "format", "status.reset_cause " + repr(cause) + "; known: " + ", ".join(RESET_CAUSES)
        )
    fw = _fw_version(get(status, "fw_version", "status"))
    cfg = int_field(status, "config_version", "status", 0, 65535)
    wake = get(status, "wake_count", "status")
    if not isinstance(wake, int) or isinstance(wake, bool) or wake < 0:
        raise CodecError("format", "status.wake_count must be a non-negative integer, got " + repr(wake))
    wake = wake & 0xFFFFFF
    out = bytearray(15)
    out[0] = (VERSION << 5) | (cause << 2)
    out[1] = fw >> 8
    out[2] = fw & 0xFF
    out[3] = cfg >> 8
    out[4] = cfg & 0xFF
    out[5] = wake >> 16
    out[6] = (wake >> 8) & 0xFF
    out[7] = wake & 0xFF
    out[8] = _saturate(status, "sensor_errors", 255)
    out[9] = _saturate(status, "radio_errors", 255)
    out[10] = _saturate(status, "watchdog_resets", 255)
    out[11] = raw_battery(get(status, "battery_mv", "status"))
    out[12] = _signal(status, "rssi")
    out[13] = _signal(status, "snr")
    out[14] = _saturate(status, "join_count", 255)
    return bytes(out)
