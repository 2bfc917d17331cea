"""A node's identity as people and machines write it: the DevEUI rule and the TR005 QR label text.

One rule for every place a DevEUI arrives (network-server messages, the API, the CLI, a scanned label, the
node tool): separators and spaces are dropped and hex digits upper-cased, so 70b3d5..., 70-B3-D5-... and
70:b3:d5:... name the same node. Host-side only (the firmware gets its DevEUI from the modem).
"""

_SEPARATORS = ":- \t"
_HEX = "0123456789ABCDEF"


def normalize_eui(text: str) -> str:
    """The canonical form for looking a node up (no validation: an unknown EUI is simply not found)."""
    return "".join(ch for ch in text if ch not in _SEPARATORS).upper()


def parse_eui(value: object, what: str = "DevEUI", digits: int = 16) -> str:
    """normalize_eui() plus the check: exactly `digits` hex digits, else ValueError naming what was given."""
    if not isinstance(value, str):
        raise ValueError(f"{what} missing or not a string")
    eui = normalize_eui(value)
    if len(eui) != digits or any(c not in _HEX for c in eui):
        raise ValueError(f"{what} {value!r} is not {digits} hex digits")
    return eui


def tr005(join_eui: str, dev_eui: str, profile_id: str = "00000000") -> str:
    """LoRa Alliance TR005 QR text `LW:D0:JoinEUI:DevEUI:ProfileID`; never the AppKey."""
    return f"LW:D0:{normalize_eui(join_eui)}:{normalize_eui(dev_eui)}:{(profile_id or '00000000').upper()}"
