"""The fleet's side of the downlinks (SPEC.md): the encoders of fPort 10 (config) and fPort 11 (command)
and the strict config decoder. A node never loads this; it parses downlinks with downlink.py."""

from protocols import settings as _settings
from protocols.downlink import _config_entries, _value
from protocols.fields import COMMANDS, MAX_PAYLOAD, VERSION, CodecError, get, int_field, u16


def encode_config(config):
    """{"config_version": 1..65535, "settings": {name: value}} -> frame, entries in setting-id order."""
    version = int_field(config, "config_version", "config", 1, 65535)
    values = get(config, "settings", "config")
    if not isinstance(values, dict):
        raise CodecError("format", "config.settings must be an object name -> value")
    chosen = []
    for name in values:
        entry = _settings.BY_NAME.get(name)
        if entry is None:
            raise CodecError(
                "key",
                "unknown setting " + repr(name) + "; known: " + ", ".join([e[1] for e in _settings.SETTINGS]),
            )
        v = values[name]
        if isinstance(v, bool):
            v = 1 if v else 0
        if not isinstance(v, int):
            raise CodecError("format", "setting " + name + " must be an integer, got " + repr(v))
        if v < entry[3] or v > entry[4]:
            raise CodecError(
                "range",
                "setting " + name + " = " + str(v) + " is outside " + str(entry[3]) + ".." + str(entry[4]),
            )
        chosen.append((entry[0], entry[2], v))
    chosen.sort()
    out = bytearray([VERSION << 5, version >> 8, version & 0xFF])
    for sid, nbytes, v in chosen:
        out.append((nbytes << 5) | sid)
        for k in range(nbytes - 1, -1, -1):
            out.append((v >> (8 * k)) & 0xFF)
    if len(out) > MAX_PAYLOAD:  # cannot happen with today's table; guards future settings
        raise CodecError("length", "config frame is " + str(len(out)) + " bytes, over 51")
    return bytes(out)


def decode_config(data):
    settings = {}
    for sid, nbytes, offset in _config_entries(data):
        entry = _settings.BY_ID.get(sid)
        if entry is None:
            raise CodecError(
                "key", "fPort 10 setting id " + str(sid) + " (byte " + str(offset - 1) + ") is unknown"
            )
        if nbytes != entry[2]:
            raise CodecError(
                "length",
                "fPort 10 setting " + entry[1] + " has " + str(nbytes) + " value bytes, "
                "expected " + str(entry[2]),
            )
        v = _value(data, offset, nbytes)
        if v < entry[3] or v > entry[4]:
            raise CodecError(
                "range",
                "fPort 10 setting "
                + entry[1]
                + " = "
                + str(v)
                + " is outside "
                + str(entry[3])
                + ".."
                + str(entry[4]),
            )
        settings[entry[1]] = v
    return {"type": "config", "config_version": u16(data, 1), "settings": settings}


def encode_command(command):
    """'reboot' | 'status_now' | 'measure_now' | 'rejoin' -> 2 bytes."""
    for code in COMMANDS:
        if COMMANDS[code] == command:
            return bytes([VERSION << 5, code])
    raise CodecError(
        "format",
        "unknown command " + repr(command) + "; known: " + ", ".join([COMMANDS[k] for k in sorted(COMMANDS)]),
    )
