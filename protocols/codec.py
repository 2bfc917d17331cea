"""The Kumpel wire contract v1 (SPEC.md): the one public face of every encoder and decoder.

Both ends import this: the firmware on MicroPython (ESP32, 64 KB heap) and the fleet on CPython. The frame
code lives in small modules imported on first use (encoders: measurement, status; downlinks: downlink;
uplink decoders: uplink), so each compiles within a 64 KB heap and a node never loads the uplink decoders.
Decoders raise nothing but CodecError.
"""

try:
    from micropython import const
except ImportError:  # CPython

    def const(x):
        return x


from protocols.fields import (  # noqa: F401  (re-exported: the contract's names)
    COMMANDS,
    FLAG_NAMES,
    MAX_BATCH,
    MAX_PAYLOAD,
    REPORT_STATUSES,
    RESET_CAUSES,
    VERSION,
    CodecError,
    as_bytes,
    is_number,
)

PORT_MEASUREMENT = const(1)
PORT_BATCH = const(2)
PORT_STATUS = const(3)
PORT_CONFIG_REPORT = const(4)
PORT_CONFIG = const(10)
PORT_COMMAND = const(11)
UPLINK_PORTS = {1: "measurement", 2: "batch", 3: "status", 4: "config_report"}
DOWNLINK_PORTS = {10: "config", 11: "command"}

FLAG_ULTRASONIC_FAULT = const(1)
FLAG_CLIMATE_FAULT = const(2)
FLAG_LOW_BATTERY = const(4)
FLAG_FIRE_ALARM = const(8)
FLAG_BIN_FULL = const(16)
FLAG_CONFIG_PENDING = const(32)


def encode_measurement(reading):
    """One reading + battery_mv + flags -> 6 bytes (8 when the reading has a 'pressure_hpa' key)."""
    from protocols import measurement

    return measurement.encode_measurement(reading)


def encode_batch(batch):
    """{"interval_min", "battery_mv", "flags", "readings": [oldest first]} -> one delta-coded frame."""
    from protocols import measurement

    return measurement.encode_batch(batch)


def encode_status(status):
    """Health snapshot -> 15 bytes."""
    from protocols import status as _status

    return _status.encode_status(status)


def encode_config_report(config_version, entries):
    """Version the node now runs + [(setting_id, status_name)] in the downlink's order -> 3 + n bytes."""
    from protocols import report

    return report.encode_config_report(config_version, entries)


def encode_config(config):
    """{"config_version": 1..65535, "settings": {name: value}} -> config downlink (fleet side)."""
    from protocols import downlink_fleet

    return downlink_fleet.encode_config(config)


def encode_command(command):
    """'reboot' | 'status_now' | 'measure_now' | 'rejoin' -> command downlink (fleet side)."""
    from protocols import downlink_fleet

    return downlink_fleet.encode_command(command)


def parse_config(data):
    """Node side, lenient per key: (config_version, [(setting_id, value | None, status_name)])."""
    from protocols import downlink

    return downlink.parse_config(data)


def _check_port(fport, table, direction):
    if not isinstance(fport, int) or isinstance(fport, bool):
        raise CodecError("port", "fPort must be an integer, got " + repr(fport))
    if fport not in table:
        known = ", ".join([str(p) + " " + table[p] for p in sorted(table)])
        raise CodecError("port", "fPort " + str(fport) + " is not " + direction + " port (" + known + ")")


def decode_uplink(fport, data):
    """Uplink frame -> dict with "type" and the encoder's keys; CodecError for anything else."""
    _check_port(fport, UPLINK_PORTS, "an uplink")
    data = as_bytes(data)
    from protocols import uplink

    if fport == PORT_MEASUREMENT:
        return uplink.decode_measurement(data)
    if fport == PORT_BATCH:
        return uplink.decode_batch(data)
    if fport == PORT_STATUS:
        return uplink.decode_status(data)
    return uplink.decode_config_report(data)


def decode_downlink(fport, data):
    """Downlink frame -> dict; strict: any unknown, duplicate, mis-sized or out-of-range key is an error."""
    _check_port(fport, DOWNLINK_PORTS, "a downlink")
    data = as_bytes(data)
    if fport == PORT_CONFIG:
        from protocols import downlink_fleet

        return downlink_fleet.decode_config(data)
    from protocols import downlink

    return downlink.decode_command(data)


def fill_percent(distance_cm, bin_height_cm):
    """0..100 % full from the distance to the waste surface; None when either is unknown ."""
    if not is_number(distance_cm) or not is_number(bin_height_cm) or not bin_height_cm > 0:
        return None
    x = 100.0 * (bin_height_cm - distance_cm) / bin_height_cm + 0.5
    if x != x:  # NaN or inf in, no fill level out
        return None
    if x <= 0:
        return 0
    if x >= 100:
        return 100
    return int(x)
