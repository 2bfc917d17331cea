"""Encoder for fPort 4 (config report): SPEC.md. CPython and MicroPython. A module of its own, apart from the
status encoder: a node loads only the one its frame needs (64 KB heap)."""

from protocols.fields import MAX_PAYLOAD, REPORT_STATUSES, VERSION, CodecError


def encode_config_report(config_version, entries):
    """The node's answer to a config downlink: version it now runs + one status per entry, same order.

    entries: [(setting_id, status_name), ...]; dicts {"id", "status"} (as decoded) are accepted too.
    """
    if not isinstance(config_version, int) or isinstance(config_version, bool):
        raise CodecError("format", "config_version must be an integer, got " + repr(config_version))
    if config_version < 0 or config_version > 65535:
        raise CodecError("range", "config_version " + str(config_version) + " is outside 0..65535")
    if not isinstance(entries, (list, tuple)):
        raise CodecError("format", "config report entries must be a list of (setting_id, status)")
    if 3 + len(entries) > MAX_PAYLOAD:
        raise CodecError("range", "config report with " + str(len(entries)) + " entries exceeds 51 bytes")
    out = bytearray(3 + len(entries))
    out[0] = VERSION << 5
    out[1] = config_version >> 8
    out[2] = config_version & 0xFF
    for i in range(len(entries)):
        e = entries[i]
        if isinstance(e, dict):
            sid = e.get("id")
            status = e.get("status")
        elif isinstance(e, (list, tuple)) and len(e) == 2:
            sid, status = e
        else:
            raise CodecError("format", "config report entry " + str(i) + " must be (setting_id, status)")
        if not isinstance(sid, int) or isinstance(sid, bool):  # SPEC errors: wrong type is `format`
            raise CodecError(
                "format", "config report entry " + str(i) + ": setting id " + repr(sid) + " is not a number"
            )
        if sid < 0 or sid > 31:
            raise CodecError(
                "range", "config report entry " + str(i) + ": setting id " + repr(sid) + " is not 0..31"
            )
        if status not in REPORT_STATUSES:
            raise CodecError(
                "format",
                "config report entry "
                + str(i)
                + ": status "
                + repr(status)
                + "; known: "
                + ", ".join(REPORT_STATUSES),
            )
        out[3 + i] = (REPORT_STATUSES.index(status) << 6) | sid
    return bytes(out)
