"""Sizes as a person reads them: the one rule for the node tool's terminal and the fleet's pages."""

UNITS = ("bytes", "KB", "MB", "GB", "TB")


def binary_size(n: float) -> tuple[float, str]:
    """(value, unit), value below 1024 in KiB steps as flash and RAM are sized: 244276060160 -> 227 GB."""
    value, unit = float(n), UNITS[0]
    for bigger in UNITS[1:]:
        if value < 1024:
            break
        value, unit = value / 1024, bigger
    return value, unit


def digits(value: float, unit: str) -> int:
    """Decimals worth showing: none for bytes or three-digit values, else one (227 GB, 9.5 KB)."""
    return 0 if unit == UNITS[0] or value >= 100 else 1
