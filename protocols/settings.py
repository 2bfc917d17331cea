"""The node's configuration schema: the one table the firmware, the fleet and both codecs read.

Runs on CPython and MicroPython. Ids and byte widths are wire format (SPEC.md, "Settings"): a new
setting takes a new id; an id is never reused for a different meaning.
"""

# (id, name, nbytes, minimum, maximum, default)
SETTINGS = (
    (1, "meas_interval_min", 2, 1, 1440, 15),
    (2, "batch_size", 1, 1, 32, 8),
    (3, "bin_height_cm", 2, 20, 1000, 120),
    (4, "full_threshold_pct", 1, 1, 100, 80),
    (5, "fire_temp_c", 1, 30, 85, 65),
    (6, "confirmed", 1, 0, 1, 0),
    (7, "adr", 1, 0, 1, 1),
    (8, "status_every", 1, 1, 255, 12),
    (9, "sensors", 1, 0, 7, 3),
    (10, "data_rate", 1, 0, 5, 0),
    (11, "hysteresis_pct", 1, 0, 50, 10),
)

BY_ID = {}
BY_NAME = {}
for _entry in SETTINGS:
    BY_ID[_entry[0]] = _entry
    BY_NAME[_entry[1]] = _entry
del _entry

# Per-key answers a node gives in its config report, in wire order (status code = index).
STATUSES = ("ok", "unknown_key", "out_of_range", "bad_format")

# Bits of the `sensors` setting.
SENSOR_ULTRASONIC = 1
SENSOR_CLIMATE = 2
SENSOR_PRESSURE = 4


def defaults():
    """A fresh dict name -> default value (callers may change it)."""
    out = {}
    for entry in SETTINGS:
        out[entry[1]] = entry[5]
    return out


def lookup(key):
    """The table entry for a setting name or id, or None."""
    if isinstance(key, str):
        return BY_NAME.get(key)
    if isinstance(key, int) and not isinstance(key, bool):
        return BY_ID.get(key)
    return None


def check(key, value):
    """What a node answers for `key = value`: 'ok', 'unknown_key', 'bad_format' or 'out_of_range'.

    `key` is a name or an id. Booleans count as 0/1 (the bool settings); any other non-int is bad_format.
    """
    entry = lookup(key)
    if entry is None:
        return "unknown_key"
    if isinstance(value, bool):
        value = 1 if value else 0
    elif not isinstance(value, int):
        return "bad_format"
    if value < entry[3] or value > entry[4]:
        return "out_of_range"
    return "ok"
