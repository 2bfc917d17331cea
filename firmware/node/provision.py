"""provision.json (CONTRACTS section 3): identity, keys, band, board and fitted sensors.

Written by the technician tool. load() returns the checked dict or raises ProvisionError with a message
a technician can act on; the app then stays in its safe unprovisioned mode instead of crash-looping. The
rules are protocols/provisioning.py's, shared with the node tool.
"""

# ruff: noqa: UP031  (printf-style formatting: works on every MicroPython build, f-strings need MICROPY_PY_FSTRINGS)

import json

from node import store
from protocols import provisioning

PATH = provisioning.PATH


class ProvisionError(ValueError):
    pass


def load(path=PATH):
    """The checked provisioning (EUIs and key upper case), or ProvisionError naming every bad field."""
    text = store.read_text(path)
    if text is None:
        raise ProvisionError(f"{path} missing: node is not provisioned")
    try:
        doc = json.loads(text)
    except ValueError:
        raise ProvisionError(f"{path} is not valid JSON") from None
    bad = provisioning.problems(doc)  # the node tool checks with the same function
    if bad:
        raise ProvisionError(path + ": " + "; ".join(bad))
    return {
        "dev_eui": doc["dev_eui"].upper(),
        "join_eui": doc["join_eui"].upper(),
        "app_key": doc["app_key"].upper(),
        "name": doc.get("name") or "",
        "band": doc["band"],
        "board": doc["board"],
        "ultrasonic": doc.get("ultrasonic"),
        "climate": doc.get("climate"),
    }
