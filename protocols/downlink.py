"""fPort 10 (config) and fPort 11 (command) downlinks, the node's side: the lenient config parser and the
command decoder (SPEC.md). The fleet's encoders and strict config decoder are in downlink_fleet.py, so a
node parsing a downlink does not load them (64 KB heap)."""

from protocols import settings as _settings
from protocols.fields import (
    COMMANDS,
    MAX_PAYLOAD,
    CodecError,
    as_bytes,
    check_version,
    length_error,
    u16,
)

# fPort 10: config downlink


def _config_entries(data):
    """Walk the entries of a config frame: [(setting_id, nbytes, offset)]; header errors raise."""
    check_version(data, 10)
    if len(data) < 3:
        raise length_error(10, len(data), "at least 3")
    if data[0] & 0x1F:
        raise CodecError("reserved", "fPort 10 reserved bits (byte 0, bits 4-0) are not 0")
    if len(data) > MAX_PAYLOAD:
        raise length_error(10, len(data), "at most 51")
    if u16(data, 1) == 0:
        raise CodecError("range", "fPort 10 config version 0 is invalid (1..65535)")
    out = []
    seen = 0
    i = 3
    while i < len(data):
        sid = data[i] & 0x1F
        nbytes = data[i] >> 5
        if i + 1 + nbytes > len(data):
            raise CodecError(
                "length",
                "fPort 10 entry at byte "
                + str(i)
                + " (setting id "
                + str(sid)
                + ", "
                + str(nbytes)
                + " bytes) is cut off by the end of the frame",
            )
        if seen & (1 << sid):
            raise CodecError(
                "key", "fPort 10 setting id " + str(sid) + " appears twice (byte " + str(i) + ")"
            )
        seen |= 1 << sid
        out.append((sid, nbytes, i + 1))
        i += 1 + nbytes
    return out


def _value(data, offset, nbytes):
    v = 0
    for k in range(nbytes):
        v = (v << 8) | data[offset + k]
    return v


def parse_config(data):
    """Node side, lenient per key: (config_version, [(setting_id, value | None, status)]).

    Raises CodecError only when the frame as a whole is broken; then the node applies nothing.
    Values are only built for known keys of the right width (never a 56-bit int on an ESP32).
    """
    data = as_bytes(data)
    result = []
    for sid, nbytes, offset in _config_entries(data):
        entry = _settings.BY_ID.get(sid)
        if entry is None:
            result.append((sid, None, "unknown_key"))
        elif nbytes != entry[2]:
            result.append((sid, None, "bad_format"))
        else:
            v = _value(data, offset, nbytes)
            result.append((sid, v, "ok" if entry[3] <= v <= entry[4] else "out_of_range"))
    return u16(data, 1), result


# fPort 11: command


def decode_command(data):
    check_version(data, 11)
    if len(data) != 2:
        raise length_error(11, len(data), "2")
    if data[0] & 0x1F:
        raise CodecError("reserved", "fPort 11 reserved bits (byte 0, bits 4-0) are not 0")
    if data[1] not in COMMANDS:
        raise CodecError("range", "fPort 11 command " + str(data[1]) + " is unknown (1..4)")
    return {"type": "command", "command": COMMANDS[data[1]]}
