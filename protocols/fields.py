"""Shared pieces of the wire contract: CodecError, the raw field encodings and input checks.

Every frame module (measurement, status, downlink) builds on these; `protocols.codec` is the public face.
Kept small so the MicroPython compiler fits it in a 64 KB heap. Runs on CPython and MicroPython.
"""

try:
    from micropython import const
except ImportError:  # CPython

    def const(x):
        return x


from protocols import settings as _settings
from protocols.hardware import RESET_CAUSES  # noqa: F401  (its home; status, uplink and codec use it from here)

VERSION = const(1)  # format version of every frame (top 3 bits of byte 0)

FLAG_NAMES = ("ultrasonic_fault", "climate_fault", "low_battery", "fire_alarm", "bin_full", "config_pending")
COMMANDS = {1: "reboot", 2: "status_now", 3: "measure_now", 4: "rejoin"}
REPORT_STATUSES = _settings.STATUSES

MAX_PAYLOAD = const(51)  # DR0-DR2: the longest frame any node may need to send or receive
MAX_BATCH = const(32)

# Raw field encodings (SPEC.md table). Special raw values:
DIST_NO_ECHO = const(1023)
DIST_NA = const(1022)
DIST_MAX = const(1000)
TEMP_NA = const(2047)
TEMP_MAX = const(1250)
HUM_NA = const(255)
HUM_MAX = const(200)
PRES_NA = const(65535)
PRES_MAX = const(8000)
BATT_NA = const(127)
BATT_MAX = const(126)

FIELD_BITS = (10, 11, 8, 16)  # distance, temperature, humidity, pressure
FIELD_NAMES = ("distance", "temperature", "humidity", "pressure")
FIELD_NA = (DIST_NA, TEMP_NA, HUM_NA, PRES_NA)
FIELD_MAX = (DIST_MAX, TEMP_MAX, HUM_MAX, PRES_MAX)
BATCH_HEAD_BITS = const(42)  # 3+1+5+8+7+6+4+4+4 bits, +4 (Wp) with pressure


class CodecError(Exception):
    """Anything wrong with a frame or an encoder input: `.code` is the SPEC code, str() is "code: detail"."""

    def __init__(self, code, detail):
        super().__init__(code + ": " + detail)
        self.code = code
        self.detail = detail


# Input checks (encoders) and frame helpers (decoders)


def is_number(v):
    return (isinstance(v, int) or isinstance(v, float)) and not isinstance(v, bool)


def get(obj, key, what):
    if not isinstance(obj, dict):
        raise CodecError("format", what + " must be an object, got " + type(obj).__name__)
    if key not in obj:
        raise CodecError("format", what + " is missing '" + key + "'")
    return obj[key]


def int_field(obj, key, what, lo, hi):
    v = get(obj, key, what)
    if not isinstance(v, int) or isinstance(v, bool):
        raise CodecError("format", what + "." + key + " must be an integer, got " + repr(v))
    if v < lo or v > hi:
        raise CodecError(
            "range", what + "." + key + " = " + str(v) + " is outside " + str(lo) + ".." + str(hi)
        )
    return v


def scaled(v, name, scale, offset, hi):
    """Physical value -> raw: floor(v * scale + offset + 0.5) (round half up, as JS Math.round), checked."""
    if not is_number(v):
        raise CodecError("format", name + " must be a number or null, got " + repr(v))
    x = v * scale + offset
    if not (x > -0.5 and x < hi + 0.5):  # also false for NaN and inf
        raise CodecError("range", name + " = " + repr(v) + " is outside its valid range")
    raw = int(x + 0.5)  # x + 0.5 > 0 here, so int() floors
    if raw > hi:
        raise CodecError("range", name + " = " + repr(v) + " is outside its valid range")
    return raw


def raw_distance(r):
    no_echo = r.get("no_echo", False)
    if not isinstance(no_echo, bool):
        raise CodecError("format", "no_echo must be true or false, got " + repr(no_echo))
    if "distance_cm" not in r:
        raise CodecError("format", "reading is missing 'distance_cm' (null when not measured)")
    d = r["distance_cm"]
    if no_echo:
        if d is not None:
            raise CodecError("format", "no_echo is true but distance_cm is " + repr(d) + " (must be null)")
        return DIST_NO_ECHO
    if d is None:
        return DIST_NA
    return scaled(d, "distance_cm", 1, 0, DIST_MAX)


def raw_reading(r, with_pressure, where):
    """Reading dict -> [distance, temperature, humidity(, pressure)] raw values."""
    if not isinstance(r, dict):
        raise CodecError("format", where + " must be an object, got " + type(r).__name__)
    for key in ("temperature_c", "humidity_pct"):
        if key not in r:
            raise CodecError("format", where + " is missing '" + key + "' (null when not measured)")
    t = r["temperature_c"]
    h = r["humidity_pct"]
    out = [
        raw_distance(r),
        TEMP_NA if t is None else scaled(t, "temperature_c", 10, 400, TEMP_MAX),
        HUM_NA if h is None else scaled(h, "humidity_pct", 2, 0, HUM_MAX),
    ]
    if with_pressure:
        p = r["pressure_hpa"]
        out.append(PRES_NA if p is None else scaled(p, "pressure_hpa", 10, -3000, PRES_MAX))
    return out


def raw_battery(mv):
    """Battery never blocks a report: below 2.00 V sends 0, above 4.52 V sends 126 (SPEC)."""
    if mv is None:
        return BATT_NA
    if not is_number(mv) or mv != mv:
        raise CodecError("format", "battery_mv must be a number or null, got " + repr(mv))
    if mv <= 2000:
        return 0
    if mv >= 4520:
        return BATT_MAX
    return int((mv - 2000) / 20 + 0.5)


def raw_flags(flags):
    if isinstance(flags, int) and not isinstance(flags, bool):
        if flags < 0 or flags > 63:
            raise CodecError("range", "flags = " + str(flags) + " is outside 0..63")
        return flags
    if isinstance(flags, (list, tuple)):
        out = 0
        for name in flags:
            if name not in FLAG_NAMES:
                raise CodecError("format", "unknown flag " + repr(name) + "; known: " + ", ".join(FLAG_NAMES))
            out |= 1 << FLAG_NAMES.index(name)
        return out
    raise CodecError("format", "flags must be a bit mask 0..63 or a list of flag names, got " + repr(flags))


def as_bytes(data):
    if isinstance(data, (bytes, bytearray)):
        return data
    if isinstance(data, memoryview):
        return bytes(data)
    raise CodecError("format", "frame must be bytes, got " + type(data).__name__)


def check_version(data, port):
    if not data:
        raise CodecError("length", "fPort " + str(port) + " frame is empty")
    v = data[0] >> 5
    if v != VERSION:
        raise CodecError(
            "version", "fPort " + str(port) + " frame has format version " + str(v) + ", expected 1"
        )


def length_error(port, n, expected):
    return CodecError("length", "fPort " + str(port) + " frame is " + str(n) + " bytes, expected " + expected)


def u16(data, i):
    return (data[i] << 8) | data[i + 1]
