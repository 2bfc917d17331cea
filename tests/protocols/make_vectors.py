"""Regenerate protocols/vectors/*.json from the case lists below (run by hand after a SPEC change).

The cases are written by hand; the hex and decoded forms come from the Python codec once, are reviewed,
and are then frozen: the tests check the Python codec (CPython and MicroPython) and the JavaScript codec
against the frozen files, and an independent big-int reference packer re-derives the measurement and
batch bits, so a codec change that alters any byte fails.

    .venv/bin/python tests/protocols/make_vectors.py
"""

import json
from pathlib import Path

from protocols import codec

OUT = Path(__file__).resolve().parents[2] / "protocols" / "vectors"


def reading(d, t, h, *, no_echo=False, **extra):
    r = {"distance_cm": d, "no_echo": no_echo, "temperature_c": t, "humidity_pct": h}
    r.update(extra)
    return r


def meas(d, t, h, batt, flags, **extra):
    r = reading(d, t, h, **extra)
    r["battery_mv"] = batt
    r["flags"] = flags
    return r


def pack_measurement(
    version=1,
    distance=123,
    temperature=615,
    humidity=111,
    battery=85,
    flags=0x10,
    reserved=0,
    pressure=None,
    p_flag=None,
):
    """Hex of a measurement frame packed field by field with one big int (CPython only: a reference)."""
    p = (pressure is not None) if p_flag is None else p_flag
    fields = [
        (version, 3),
        (1 if p else 0, 1),
        (distance, 10),
        (temperature, 11),
        (humidity, 8),
        (battery, 7),
        (flags, 6),
        (reserved, 2),
    ]
    if pressure is not None:
        fields.append((pressure, 16))
    value, nbits = 0, 0
    for v, n in fields:
        value = (value << n) | v
        nbits += n
    return value.to_bytes(nbits // 8, "big").hex()


MEASUREMENT = {
    "valid": [
        ("spec example", meas(123, 21.5, 55.5, 3700, ["bin_full"])),
        ("all minimum", meas(0, -40.0, 0.0, 2000, 0)),
        ("all maximum, every flag", meas(1000, 85.0, 100.0, 4520, 63)),
        ("no echo", meas(None, 12.3, 40.0, 3300, ["ultrasonic_fault"], no_echo=True)),
        ("everything n/a", meas(None, None, None, None, ["ultrasonic_fault", "climate_fault"])),
        ("with pressure", meas(87, -3.4, 92.5, 3010, ["low_battery"], pressure_hpa=1013.2)),
        ("pressure extremes low", meas(5, 0.0, 50.0, 2020, 0, pressure_hpa=300.0)),
        ("pressure extremes high", meas(999, 0.1, 0.5, 4500, 0, pressure_hpa=1100.0)),
        ("pressure n/a", meas(250, 20.0, 45.0, 3600, ["climate_fault"], pressure_hpa=None)),
        ("rounding to the nearest step", meas(42.6, 21.449, 55.76, 3709.9, ["fire_alarm", "config_pending"])),
        ("battery clamps below 2.00 V and flags as a mask", meas(300, 30.0, 30.0, 1500, 0b010100)),
        ("battery clamps above 4.52 V", meas(300, 30.0, 30.0, 5000, 0)),
    ],
    "malformed": [
        ("empty", "", "length"),
        ("all zero: version 0", "000000000000", "version"),
        ("version 2", pack_measurement(version=2), "version"),
        ("five bytes", pack_measurement()[:10], "length"),
        ("seven bytes", pack_measurement() + "00", "length"),
        ("pressure flag set but 6 bytes", pack_measurement(p_flag=1), "length"),
        ("reserved bits set", pack_measurement(reserved=1), "reserved"),
        ("distance raw 1001", pack_measurement(distance=1001), "range"),
        ("distance raw 1021", pack_measurement(distance=1021), "range"),
        ("temperature raw 1251", pack_measurement(temperature=1251), "range"),
        ("humidity raw 201", pack_measurement(humidity=201), "range"),
        ("pressure raw 8001", pack_measurement(pressure=8001), "range"),
    ],
    "bad_input": [
        ("distance over 10 m", meas(1001, 20.0, 50.0, 3700, 0), "range"),
        ("negative distance", meas(-1, 20.0, 50.0, 3700, 0), "range"),
        ("temperature above 85", meas(100, 85.1, 50.0, 3700, 0), "range"),
        ("temperature below -40", meas(100, -40.1, 50.0, 3700, 0), "range"),
        ("humidity above 100", meas(100, 20.0, 100.5, 3700, 0), "range"),
        ("pressure below 300", meas(100, 20.0, 50.0, 3700, 0, pressure_hpa=299.9), "range"),
        ("temperature a string", meas(100, "20", 50.0, 3700, 0), "format"),
        ("temperature a boolean", meas(100, True, 50.0, 3700, 0), "format"),
        ("missing battery", reading(100, 20.0, 50.0, flags=0), "format"),
        ("unknown flag name", meas(100, 20.0, 50.0, 3700, ["on_fire"]), "format"),
        ("flags mask too big", meas(100, 20.0, 50.0, 3700, 64), "range"),
        ("no_echo with a distance", meas(100, 20.0, 50.0, 3700, 0, no_echo=True), "format"),
        ("not an object", [1, 2, 3], "format"),
    ],
}


def drift(n, d0=100, t0=18.0, h0=60.0, dd=-2, dt=0.3, dh=-1.0, **extra):
    return [reading(d0 + dd * i, round(t0 + dt * i, 1), h0 + dh * i, **extra) for i in range(n)]


def batch(readings, interval=15, batt=3700, flags=0):
    return {"interval_min": interval, "battery_mv": batt, "flags": flags, "readings": readings}


STEADY = [reading(64, 7.5, 80.0)] * 20
TYPICAL = [reading(110 - i // 2, round(12.0 + 0.2 * (i % 5), 1), 70.0 + (i % 3) * 1.5) for i in range(16)]
BATCH = {
    "valid": [
        ("one reading", batch([reading(80, 20.0, 50.0)])),
        ("typical 16 readings, 15 min", batch(TYPICAL, 15, 3650, ["bin_full"])),
        ("20 identical readings: zero widths", batch(STEADY, 255, None, 0)),
        ("filling bin, 8 readings", batch(drift(8), 10, 3300, ["low_battery"])),
        ("with pressure", batch(drift(6, pressure_hpa=1000.0), 60, 3900, 0)),
        (
            "no echo and n/a markers between values",
            batch(
                [
                    reading(50, 20.0, 50.0),
                    reading(None, 20.1, 50.0, no_echo=True),
                    reading(None, None, None),
                    reading(48, 19.9, 49.5),
                ],
                1,
                2000,
                ["ultrasonic_fault", "climate_fault"],
            ),
        ),
        (
            "extremes: 0 cm to 1000 cm, -40 to 85 C",
            batch([reading(0, -40.0, 0.0), reading(1000, 85.0, 100.0)]),
        ),
        (
            "per-reading flags OR into the batch flags",
            batch([dict(reading(90, 5.0, 90.0), flags=["fire_alarm"]), reading(91, 5.0, 90.0)], 30, 4000, 0),
        ),
    ],
    "malformed": [
        ("empty", "", "length"),
        ("version 0", "00" * 10, "version"),
        ("cut off inside the header", "200f", "length"),
        ("interval 0", "20000000000000000000", "range"),
        ("one reading frame one byte short", "", "length"),  # filled in below
        ("one reading frame one byte long", "", "length"),
        ("padding bits set", "", "reserved"),
        ("first distance raw 1010", "", "range"),
        ("delta leaves the field", "", "range"),
    ],
    "bad_input": [
        ("no readings", batch([]), "format"),
        ("33 readings", batch([reading(1, 1.0, 1.0)] * 33), "range"),
        ("interval 0", batch([reading(1, 1.0, 1.0)], 0), "range"),
        ("interval 256", batch([reading(1, 1.0, 1.0)], 256), "range"),
        ("interval not an integer", batch([reading(1, 1.0, 1.0)], "15"), "format"),
        (
            "pressure in some readings only",
            batch([reading(1, 1.0, 1.0, pressure_hpa=1000.0), reading(1, 1.0, 1.0)]),
            "format",
        ),
        (
            "pressure jumps to n/a: delta needs 16 bits",
            batch([reading(1, 1.0, 1.0, pressure_hpa=1000.0), reading(1, 1.0, 1.0, pressure_hpa=None)]),
            "range",
        ),
        ("reading out of range", batch([reading(1, 1.0, 1.0), reading(1, 99.0, 1.0)]), "range"),
    ],
}


def _batch_malformed():
    """Malformed batch frames derived from a valid one, so each breaks exactly one rule."""
    one = codec.encode_batch(batch([reading(80, 20.0, 50.0)]))  # 71 bits -> 9 bytes, 1 padding bit
    two = bytearray(codec.encode_batch(batch([reading(80, 20.0, 50.0), reading(81, 20.0, 50.0)])))
    out = {
        "one reading frame one byte short": one[:-1].hex(),
        "one reading frame one byte long": (one + b"\x00").hex(),
        "padding bits set": (one[:-1] + bytes([one[-1] | 1])).hex(),
    }
    # first distance at bits 42..51: raw 1010 (between max 1000 and the n/a marker 1022)
    bad = bytearray(one)
    bits = int.from_bytes(bad, "big")
    total = len(bad) * 8
    bits &= ~(((1 << 10) - 1) << (total - 52))
    bits |= 1010 << (total - 52)
    out["first distance raw 1010"] = bits.to_bytes(len(bad), "big").hex()
    # two readings, distance width 2: first distance 0 and a delta of -1 leaves 0..1023
    two = bytearray(codec.encode_batch(batch([reading(1, 20.0, 50.0), reading(0, 20.0, 50.0)])))
    bits = int.from_bytes(two, "big")
    total = len(two) * 8
    bits &= ~(((1 << 10) - 1) << (total - 52))  # first distance -> 0; delta stays zigzag(-1) = 1
    out["delta leaves the field"] = bits.to_bytes(len(two), "big").hex()
    return out


def status(**over):
    s = {
        "fw_version": "1.0.0",
        "config_version": 3,
        "reset_cause": "deepsleep",
        "wake_count": 12,
        "sensor_errors": 0,
        "radio_errors": 0,
        "watchdog_resets": 0,
        "battery_mv": 3700,
        "rssi": -80,
        "snr": 7,
        "join_count": 1,
    }
    s.update(over)
    return s


STATUS = {
    "valid": [
        ("contract example", status()),
        (
            "fresh node: no downlink yet",
            status(reset_cause="power_on", rssi=None, snr=None, config_version=0),
        ),
        (
            "maximum values",
            status(
                fw_version="15.63.63",
                config_version=65535,
                reset_cause="brownout",
                wake_count=16777215,
                sensor_errors=255,
                radio_errors=255,
                watchdog_resets=255,
                battery_mv=4520,
                rssi=127,
                snr=127,
                join_count=255,
            ),
        ),
        (
            "counters saturate, wake count wraps",
            status(sensor_errors=1000, wake_count=16777216 + 5, join_count=300),
        ),
        (
            "weak link: rssi and snr negative, rssi saturates",
            status(rssi=-135, snr=-19.6, reset_cause="watchdog"),
        ),
        ("battery n/a, unknown reset", status(battery_mv=None, reset_cause="unknown", fw_version="0.1.2")),
        ("reset cause by number", status(reset_cause=5)),
    ],
    "malformed": [
        ("empty", "", "length"),
        ("14 bytes", "30" + "00" * 13, "length"),
        ("16 bytes", "30" + "00" * 15, "length"),
        ("version 7", "f0" + "00" * 14, "version"),
        ("reserved bits in byte 0", "31" + "00" * 14, "reserved"),
        ("reserved battery bit", "30" + "00" * 10 + "80" + "000000", "reserved"),
        ("reset cause 7", "3c" + "00" * 14, "range"),
    ],
    "bad_input": [
        ("unknown reset cause", status(reset_cause="meteor"), "format"),
        ("fw version not dotted", status(fw_version="1.0"), "format"),
        ("fw major 16", status(fw_version="16.0.0"), "range"),
        ("config version 65536", status(config_version=65536), "range"),
        ("negative error count", status(radio_errors=-1), "range"),
        ("rssi a string", status(rssi="-80"), "format"),
        ("missing join count", {k: v for k, v in status().items() if k != "join_count"}, "format"),
    ],
}

CONFIG_REPORT = {
    "valid": [
        ("no entries: version confirmed", {"config_version": 7, "entries": []}),
        ("contract example", {"config_version": 4, "entries": [[1, "ok"], [8, "out_of_range"]]}),
        (
            "every status",
            {
                "config_version": 65535,
                "entries": [[1, "ok"], [31, "unknown_key"], [3, "out_of_range"], [2, "bad_format"]],
            },
        ),
        ("old version kept, version 0", {"config_version": 0, "entries": [[0, "unknown_key"]]}),
        ("all settings ok", {"config_version": 2, "entries": [[i, "ok"] for i in range(1, 12)]}),
        ("48 entries: the 51-byte maximum", {"config_version": 9, "entries": [[5, "bad_format"]] * 48}),
    ],
    "malformed": [
        ("empty", "", "length"),
        ("two bytes", "2000", "length"),
        ("version 0", "000001", "version"),
        ("reserved header bits", "210001", "reserved"),
        ("reserved entry bit", "20000121", "reserved"),
        ("49 entries: over the 51-byte maximum", "200001" + "01" * 49, "length"),
    ],
    "bad_input": [
        ("unknown status", {"config_version": 1, "entries": [[1, "maybe"]]}, "format"),
        ("setting id not a number", {"config_version": 1, "entries": [["batch_size", "ok"]]}, "format"),
        ("setting id 32", {"config_version": 1, "entries": [[32, "ok"]]}, "range"),
        ("version too big", {"config_version": 70000, "entries": []}, "range"),
        ("entry not a pair", {"config_version": 1, "entries": [[1, "ok", 3]]}, "format"),
        ("49 entries", {"config_version": 1, "entries": [[1, "ok"]] * 49}, "range"),
    ],
}

ALL_SETTINGS = {
    "meas_interval_min": 1440,
    "batch_size": 32,
    "bin_height_cm": 1000,
    "full_threshold_pct": 100,
    "fire_temp_c": 85,
    "confirmed": 1,
    "adr": 0,
    "status_every": 255,
    "sensors": 7,
    "data_rate": 5,
    "hysteresis_pct": 50,
}
CONFIG = {
    "valid": [
        ("empty: confirm the version", {"config_version": 1, "settings": {}}),
        ("interval and batch", {"config_version": 4, "settings": {"meas_interval_min": 10, "batch_size": 6}}),
        ("all settings at maximum", {"config_version": 65535, "settings": ALL_SETTINGS}),
        (
            "order does not matter: sorted by id",
            {"config_version": 2, "settings": {"adr": 1, "bin_height_cm": 150}},
        ),
        (
            "minimums",
            {"config_version": 3, "settings": {"meas_interval_min": 1, "bin_height_cm": 20, "sensors": 0}},
        ),
        ("two-byte value over 255", {"config_version": 300, "settings": {"meas_interval_min": 720}}),
    ],
    "malformed": [
        ("empty", "", "length"),
        ("header cut", "2000", "length"),
        ("version 0", "000001", "version"),
        ("reserved header bits", "210001", "reserved"),
        ("config version 0", "200000", "range"),
        ("entry cut off", "2000044100", "length"),
        ("duplicate key", "2000042208220c", "key"),
        ("unknown setting id 20", "2000043401", "key"),
        ("length differs from the table", "2000042108", "length"),
        ("value out of range", "2000042221", "range"),
        ("52 bytes", "200004" + "2208" + "3f00" * 23 + "00", "length"),
    ],
    "bad_input": [
        ("unknown setting", {"config_version": 1, "settings": {"colour": 3}}, "key"),
        ("value above max", {"config_version": 1, "settings": {"batch_size": 33}}, "range"),
        ("value a string", {"config_version": 1, "settings": {"batch_size": "8"}}, "format"),
        ("config version 0", {"config_version": 0, "settings": {}}, "range"),
        ("settings not an object", {"config_version": 1, "settings": [1, 2]}, "format"),
        ("missing config version", {"settings": {}}, "format"),
    ],
}

COMMAND = {
    "valid": [(name, name) for name in ("reboot", "status_now", "measure_now", "rejoin")],
    "malformed": [
        ("empty", "", "length"),
        ("one byte", "20", "length"),
        ("three bytes", "200100", "length"),
        ("version 0", "0001", "version"),
        ("reserved bits", "2101", "reserved"),
        ("command 0", "2000", "range"),
        ("command 5", "2005", "range"),
        ("command 255", "20ff", "range"),
    ],
    "bad_input": [
        ("unknown command", "self_destruct", "format"),
        ("number instead of a name", 1, "format"),
    ],
}

FRAMES = {
    "measurement": (codec.PORT_MEASUREMENT, "up", MEASUREMENT),
    "batch": (codec.PORT_BATCH, "up", BATCH),
    "status": (codec.PORT_STATUS, "up", STATUS),
    "config_report": (codec.PORT_CONFIG_REPORT, "up", CONFIG_REPORT),
    "config": (codec.PORT_CONFIG, "down", CONFIG),
    "command": (codec.PORT_COMMAND, "down", COMMAND),
}


def encode(frame, obj):
    if frame == "config_report":
        return codec.encode_config_report(obj["config_version"], obj["entries"])
    return getattr(codec, "encode_" + frame)(obj)


def decode(direction, port, data):
    return codec.decode_uplink(port, data) if direction == "up" else codec.decode_downlink(port, data)


def build(frame):
    port, direction, cases = FRAMES[frame]
    derived = _batch_malformed() if frame == "batch" else {}
    doc = {
        "frame": frame,
        "fport": port,
        "direction": direction,
        "valid": [],
        "malformed": [],
        "bad_input": [],
    }
    for name, obj in cases["valid"]:
        data = encode(frame, obj)
        doc["valid"].append(
            {"name": name, "object": obj, "hex": data.hex(), "decoded": decode(direction, port, data)}
        )
    for name, hex_text, code in cases["malformed"]:
        hex_text = derived.get(name, hex_text)
        try:
            decode(direction, port, bytes.fromhex(hex_text))
        except codec.CodecError as e:
            assert e.code == code, (frame, name, str(e))
        else:
            raise AssertionError(f"{frame} {name}: decoded without error")
        doc["malformed"].append({"name": name, "hex": hex_text, "error": code})
    for name, obj, code in cases["bad_input"]:
        try:
            encode(frame, obj)
        except codec.CodecError as e:
            assert e.code == code, (frame, name, str(e))
        else:
            raise AssertionError(f"{frame} {name}: encoded without error")
        doc["bad_input"].append({"name": name, "object": obj, "error": code})
    return doc


def dump(doc):
    """Valid JSON with one vector per line, so the MicroPython runner can parse a vector at a time."""
    head = {k: doc[k] for k in ("frame", "fport", "direction")}
    out = [json.dumps(head)[:-1] + ","]
    sections = ("valid", "malformed", "bad_input")
    for i, section in enumerate(sections):
        out.append(json.dumps(section) + ": [")
        rows = [json.dumps(v, separators=(",", ":")) for v in doc[section]]
        out.append(",\n".join(rows))
        out.append("]" + ("," if i < len(sections) - 1 else "}"))
    return "\n".join(out) + "\n"


def main():
    OUT.mkdir(exist_ok=True)
    for frame in FRAMES:
        doc = build(frame)
        (OUT / (frame + ".json")).write_text(dump(doc))
        print(
            frame,
            len(doc["valid"]),
            "valid,",
            len(doc["malformed"]),
            "malformed,",
            len(doc["bad_input"]),
            "bad",
        )


if __name__ == "__main__":
    main()
