"""Decoders for every uplink (fPorts 1-4, SPEC.md): the fleet's and emulator's side, which a node never loads.

Strict: a frame that breaks any rule raises CodecError naming the rule and where. CPython and MicroPython.
"""

from protocols import bits as _bits
from protocols import settings as _settings
from protocols.fields import (
    BATCH_HEAD_BITS,
    BATT_NA,
    DIST_NA,
    DIST_NO_ECHO,
    FIELD_BITS,
    FIELD_MAX,
    FIELD_NA,
    FIELD_NAMES,
    FLAG_NAMES,
    HUM_NA,
    MAX_PAYLOAD,
    PRES_NA,
    REPORT_STATUSES,
    RESET_CAUSES,
    TEMP_NA,
    CodecError,
    check_version,
    length_error,
    u16,
)


def flag_list(raw):
    out = []
    for i in range(6):
        if raw & (1 << i):
            out.append(FLAG_NAMES[i])
    return out


def decoded_battery(raw):
    return None if raw == BATT_NA else 2000 + 20 * raw


def check_raw(i, raw, where):
    """A raw field value must be valid or special (SPEC 'range')."""
    if raw <= FIELD_MAX[i] or raw == FIELD_NA[i] or (i == 0 and raw == DIST_NO_ECHO):
        return
    raise CodecError("range", FIELD_NAMES[i] + " raw " + str(raw) + " is not a valid value" + where)


def decoded_reading(raw):
    """Raw [distance, temperature, humidity(, pressure)] -> reading dict (the encoder's keys)."""
    d = raw[0]
    r = {
        "distance_cm": None if d >= DIST_NA else d,
        "no_echo": d == DIST_NO_ECHO,
        "temperature_c": None if raw[1] == TEMP_NA else (raw[1] - 400) / 10,
        "humidity_pct": None if raw[2] == HUM_NA else raw[2] / 2,
    }
    if len(raw) > 3:
        r["pressure_hpa"] = None if raw[3] == PRES_NA else (raw[3] + 3000) / 10
    return r


def i8(b):
    return b - 256 if b > 127 else b


def decode_measurement(data):
    check_version(data, 1)
    with_p = (data[0] >> 4) & 1
    if len(data) != (8 if with_p else 6):
        raise length_error(1, len(data), "8 (pressure flag set)" if with_p else "6 (pressure flag clear)")
    r = _bits.BitReader(data)
    r.read(4)
    raw = [r.read(10), r.read(11), r.read(8)]
    batt = r.read(7)
    flags = r.read(6)
    if r.read(2):
        raise CodecError("reserved", "fPort 1 reserved bits (byte 5, bits 1-0) are not 0")
    if with_p:
        raw.append(r.read(16))
    for i in range(len(raw)):
        check_raw(i, raw[i], "")
    out = decoded_reading(raw)
    out["type"] = "measurement"
    out["battery_mv"] = decoded_battery(batt)
    out["flags"] = flag_list(flags)
    return out


def decode_batch(data):
    check_version(data, 2)
    with_p = (data[0] >> 4) & 1
    nf = 4 if with_p else 3
    head = BATCH_HEAD_BITS + (4 if with_p else 0)
    r = _bits.BitReader(data)
    if r.bits_left() < head:
        raise CodecError("length", "fPort 2 frame is " + str(len(data)) + " bytes, cut off inside the header")
    r.read(4)
    n = r.read(5) + 1
    interval = r.read(8)
    if interval == 0:
        raise CodecError("range", "fPort 2 interval is 0 minutes (1..255)")
    batt = r.read(7)
    flags = r.read(6)
    widths = [r.read(4) for _ in range(nf)]
    nbits = head
    for f in range(nf):
        nbits += FIELD_BITS[f] + widths[f] * (n - 1)
    expected = (nbits + 7) >> 3
    if len(data) != expected:
        raise length_error(2, len(data), str(expected) + " for " + str(n) + " readings with these widths")
    raw = [r.read(FIELD_BITS[f]) for f in range(nf)]
    for f in range(nf):
        check_raw(f, raw[f], " in reading 0")
    readings = []
    age = (n - 1) * interval
    item = decoded_reading(raw)
    item["age_min"] = age
    readings.append(item)
    for i in range(1, n):
        raw = raw[:]
        for f in range(nf):
            if widths[f]:
                v = raw[f] + _bits.unzigzag(r.read(widths[f]))
                if v < 0 or v >= (1 << FIELD_BITS[f]):
                    raise CodecError(
                        "range",
                        FIELD_NAMES[f]
                        + " in reading "
                        + str(i)
                        + " decodes to raw "
                        + str(v)
                        + ", outside 0.."
                        + str((1 << FIELD_BITS[f]) - 1),
                    )
                check_raw(f, v, " in reading " + str(i))
                raw[f] = v
        age -= interval
        item = decoded_reading(raw)
        item["age_min"] = age
        readings.append(item)
    if r.read(r.bits_left()):
        raise CodecError("reserved", "fPort 2 padding bits after the last reading are not 0")
    return {
        "type": "batch",
        "interval_min": interval,
        "battery_mv": decoded_battery(batt),
        "flags": flag_list(flags),
        "readings": readings,
    }


def decode_status(data):
    check_version(data, 3)
    if len(data) != 15:
        raise length_error(3, len(data), "15")
    if data[0] & 3:
        raise CodecError("reserved", "fPort 3 reserved bits (byte 0, bits 1-0) are not 0")
    if data[11] & 0x80:
        raise CodecError("reserved", "fPort 3 reserved bit (byte 11, bit 7) is not 0")
    cause = (data[0] >> 2) & 7
    if cause >= len(RESET_CAUSES):
        raise CodecError("range", "fPort 3 reset cause " + str(cause) + " is unknown (0..6)")
    fw = u16(data, 1)
    rssi = i8(data[12])
    snr = i8(data[13])
    return {
        "type": "status",
        "fw_version": str(fw >> 12) + "." + str((fw >> 6) & 63) + "." + str(fw & 63),
        "config_version": u16(data, 3),
        "reset_cause": RESET_CAUSES[cause],
        "wake_count": (data[5] << 16) | (data[6] << 8) | data[7],
        "sensor_errors": data[8],
        "radio_errors": data[9],
        "watchdog_resets": data[10],
        "battery_mv": decoded_battery(data[11]),
        "rssi": None if rssi == -128 else rssi,
        "snr": None if snr == -128 else snr,
        "join_count": data[14],
    }


def decode_config_report(data):
    check_version(data, 4)
    if len(data) < 3 or len(data) > MAX_PAYLOAD:  # SPEC: at most 48 entries
        raise length_error(4, len(data), "3 to 51")
    if data[0] & 0x1F:
        raise CodecError("reserved", "fPort 4 reserved bits (byte 0, bits 4-0) are not 0")
    entries = []
    for i in range(3, len(data)):
        b = data[i]
        if b & 0x20:
            raise CodecError("reserved", "fPort 4 reserved bit (byte " + str(i) + ", bit 5) is not 0")
        entry = _settings.BY_ID.get(b & 0x1F)
        entries.append(
            {"id": b & 0x1F, "name": entry[1] if entry else None, "status": REPORT_STATUSES[b >> 6]}
        )
    return {"type": "config_report", "config_version": u16(data, 1), "entries": entries}
