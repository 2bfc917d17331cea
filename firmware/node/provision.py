"""provision.json (CONTRACTS section 3): identity, keys, band, board and fitted sensors.

Written by the technician tool. load() returns the checked dict or raises ProvisionError with a message
a technician can act on; the app then stays in its safe unprovisioned mode instead of crash-looping.
"""

# ruff: noqa: UP031  (printf-style formatting: works on every MicroPython build, f-strings need MICROPY_PY_FSTRINGS)

import json

from node import store

PATH = "provision.json"
_HEX = "0123456789abcdefABCDEF"
ULTRASONIC = ("a02yyuw", "jsn_sr04t", "rak12007")
CLIMATE = ("shtc3", "sht4x", "bme280")


class ProvisionError(ValueError):
    pass


def _hex(doc, key, n):
    value = doc.get(key)
    if not isinstance(value, str) or len(value) != n or any(c not in _HEX for c in value):
        raise ProvisionError("%s: %s must be %d hex digits" % (PATH, key, n))
    return value.upper()


def load(path=PATH):
    text = store.read_text(path)
    if text is None:
        raise ProvisionError(f"{path} missing: node is not provisioned")
    try:
        doc = json.loads(text)
    except ValueError:
        raise ProvisionError(f"{path} is not valid JSON") from None
    if not isinstance(doc, dict) or doc.get("v") != 1:
        raise ProvisionError("{}: unsupported format version {!r} (expected 1)".format(path, doc.get("v")))
    out = {
        "dev_eui": _hex(doc, "dev_eui", 16),
        "join_eui": _hex(doc, "join_eui", 16),
        "app_key": _hex(doc, "app_key", 32),
        "name": str(doc.get("name") or ""),
    }
    band = doc.get("band", 4)
    if not isinstance(band, int) or not 0 <= band <= 11:
        raise ProvisionError(f"{path}: band must be a RUI3 band number 0..11, got {band!r}")
    out["band"] = band
    from node import boards

    board = doc.get("board")
    if board not in boards.PROFILES:
        raise ProvisionError(f"{path}: unknown board {board!r}")
    out["board"] = board
    for key, kinds in (("ultrasonic", ULTRASONIC), ("climate", CLIMATE)):
        kind = doc.get(key)
        if kind is not None and kind not in kinds:
            raise ProvisionError(
                "{}: {} must be one of {} or null, got {!r}".format(path, key, ",".join(kinds), kind)
            )
        out[key] = kind
    return out
