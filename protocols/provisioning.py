"""provision.json (docs/CONTRACTS.md §3): the one checker of the format.

The firmware (firmware/node/provision.py) reads the file with it and the node tool (tools/nodetool/
provision.py) checks what it writes and what it finds on a node with it, so a file one accepts the other
accepts too. Runs under MicroPython: no re, no typing, plain string building.
"""

from protocols.hardware import BOARDS, CLIMATE, ULTRASONIC

PATH = "provision.json"
VERSION = 1
BANDS = 12  # RUI3 AT+BAND values 0..11 (4 = EU868)
_HEX = "0123456789abcdefABCDEF"


def _is_int(v):
    return isinstance(v, int) and not isinstance(v, bool)


def _is_hex(v, digits):
    return isinstance(v, str) and len(v) == digits and all(c in _HEX for c in v)


def problems(doc):
    """What is wrong with a parsed provision.json, one message per field (empty list: valid)."""
    if not isinstance(doc, dict):
        return ["not a JSON object"]
    out = []
    v = doc.get("v")
    if not _is_int(v) or v != VERSION:
        out.append("v must be 1, not " + repr(v))
    for key, digits in (("dev_eui", 16), ("join_eui", 16), ("app_key", 32)):
        if not _is_hex(doc.get(key), digits):
            out.append(key + " must be " + str(digits) + " hex digits")
    band = doc.get("band")
    if not _is_int(band) or not 0 <= band < BANDS:
        out.append("band must be a RUI3 band number 0..11, not " + repr(band))
    board = doc.get("board")
    if board not in BOARDS:
        out.append("board must be one of " + ", ".join(BOARDS) + ", not " + repr(board))
    for key, kinds in (("ultrasonic", ULTRASONIC), ("climate", CLIMATE)):
        kind = doc.get(key)
        if kind is not None and kind not in kinds:
            out.append(key + " must be one of " + ", ".join(kinds) + " or null, not " + repr(kind))
    name = doc.get("name")
    if name is not None and not isinstance(name, str):
        out.append("name must be text")
    return out
