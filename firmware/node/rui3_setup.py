"""The RAK3172's identity and radio settings (node/rui3.py's driver): read each, write what differs.

Separate from the driver because a cycle needs it only at a join (once per modem power-up) or when a
config downlink changes ADR, the data rate or confirmed uplinks; the link loads it then and unloads it
after (64 KB heap).
"""

# ruff: noqa: UP031  (printf-style formatting: works on every MicroPython build, f-strings need MICROPY_PY_FSTRINGS)

from node.rui3 import ModemError, ModemSilent


def setup(modem, dev_eui, join_eui, app_key, band, adr, data_rate, confirmed):
    """Identity, band, class and power mode; checked once per modem power-up or reset.

    Each RUI3 setter rewrites the modem's config flash even when the value is unchanged
    (service_nvm_common.c), and the modem keeps its config across resets: read each value and set only
    what differs, so a node's modem flash is written once in its life, not after every reset.
    """
    ensure(modem, "NWM", "1")
    ensure(modem, "NJM", "1")
    ensure(modem, "BAND", "%d" % band)
    ensure(modem, "DEVEUI", dev_eui)
    ensure(modem, "APPEUI", join_eui)
    ensure(modem, "APPKEY", app_key)
    ensure(modem, "CLASS", "A")
    set_rate(modem, adr, data_rate)
    set_confirmed(modem, confirmed)
    ensure(modem, "LPM", "1")  # the modem sleeps whenever it is idle


def ensure(modem, name, value):
    """AT+NAME=value unless the modem already holds it (hex compared case-insensitively). A value the
    modem will not read out (RUI3 lets a build make a key write-only) is set."""
    try:
        held = modem.query(name).upper()
    except ModemSilent:
        raise
    except ModemError:
        held = None
    if held != value.upper():
        modem.command("AT+" + name + "=" + value)


def set_rate(modem, adr, data_rate):
    ensure(modem, "ADR", "1" if adr else "0")
    if not adr:
        ensure(modem, "DR", "%d" % data_rate)


def set_confirmed(modem, confirmed):
    """Confirmed or unconfirmed uplinks; the modem keeps it, so it is set at setup and on change."""
    ensure(modem, "CFM", "1" if confirmed else "0")
