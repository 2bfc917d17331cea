"""Encoders for fPort 1 (one reading) and fPort 2 (delta-coded batch): SPEC.md. CPython and MicroPython."""

from protocols import bits as _bits
from protocols.fields import (
    BATCH_HEAD_BITS,
    FIELD_BITS,
    FIELD_NAMES,
    MAX_BATCH,
    VERSION,
    CodecError,
    get,
    int_field,
    raw_battery,
    raw_flags,
    raw_reading,
)

# fPort 1: measurement


def encode_measurement(reading):
    """One reading (+ battery_mv, flags) -> 6 bytes, or 8 when the reading has a 'pressure_hpa' key."""
    if not isinstance(reading, dict):
        raise CodecError("format", "measurement must be an object, got " + type(reading).__name__)
    with_p = "pressure_hpa" in reading
    raw = raw_reading(reading, with_p, "measurement")
    batt = raw_battery(get(reading, "battery_mv", "measurement"))
    flags = raw_flags(get(reading, "flags", "measurement"))
    w = _bits.BitWriter(8 if with_p else 6)
    w.write(VERSION, 3)
    w.write(1 if with_p else 0, 1)
    w.write(raw[0], 10)
    w.write(raw[1], 11)
    w.write(raw[2], 8)
    w.write(batt, 7)
    w.write(flags, 6)
    w.write(0, 2)
    if with_p:
        w.write(raw[3], 16)
    return bytes(w.buf)


# fPort 2: batch


def encode_batch(batch):
    """Readings (oldest first) sampled every interval_min -> one delta-coded frame (SPEC fPort 2).

    Raises `range` when a difference needs more than 15 bits (e.g. pressure going to n/a): send such
    readings in separate frames. The caller checks the length against the data rate's max payload.
    """
    readings = get(batch, "readings", "batch")
    if not isinstance(readings, (list, tuple)) or not readings:
        raise CodecError("format", "batch.readings must be a non-empty list of readings")
    n = len(readings)
    if n > MAX_BATCH:
        raise CodecError("range", "batch has " + str(n) + " readings, at most 32 fit in a frame")
    interval = int_field(batch, "interval_min", "batch", 1, 255)
    batt = raw_battery(get(batch, "battery_mv", "batch"))
    flags = raw_flags(get(batch, "flags", "batch"))
    first = readings[0]
    with_p = isinstance(first, dict) and "pressure_hpa" in first
    nf = 4 if with_p else 3
    raws = []
    for i in range(n):
        where = "batch.readings[" + str(i) + "]"
        r = readings[i]
        if isinstance(r, dict) and ("pressure_hpa" in r) != with_p:
            raise CodecError("format", where + ": either every reading has 'pressure_hpa' or none does")
        raws.append(raw_reading(r, with_p, where))
        if isinstance(r, dict) and "flags" in r:  # per-reading flags travel as the batch's OR
            flags |= raw_flags(r["flags"])
    widths = [0, 0, 0, 0]
    for f in range(nf):
        top = 0
        for i in range(1, n):
            z = _bits.zigzag(raws[i][f] - raws[i - 1][f])
            if z > top:
                top = z
        wd = _bits.width(top)
        if wd > 15:
            raise CodecError(
                "range",
                "batch " + FIELD_NAMES[f] + " changes too much between readings to delta-code "
                "(needs " + str(wd) + " bits, max 15): send those readings in separate frames",
            )
        widths[f] = wd
    nbits = BATCH_HEAD_BITS + (4 if with_p else 0)
    for f in range(nf):
        nbits += FIELD_BITS[f] + widths[f] * (n - 1)
    w = _bits.BitWriter((nbits + 7) >> 3)
    w.write(VERSION, 3)
    w.write(1 if with_p else 0, 1)
    w.write(n - 1, 5)
    w.write(interval, 8)
    w.write(batt, 7)
    w.write(flags, 6)
    for f in range(nf):
        w.write(widths[f], 4)
    for f in range(nf):
        w.write(raws[0][f], FIELD_BITS[f])
    for i in range(1, n):
        for f in range(nf):
            if widths[f]:
                w.write(_bits.zigzag(raws[i][f] - raws[i - 1][f]), widths[f])
    return bytes(w.buf)
