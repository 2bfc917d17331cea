"""The one place the fleet touches the wire contract (protocols/): decoding, encoding, the settings table."""

from protocols import codec
from protocols import settings as wire_settings

CodecError = codec.CodecError
SETTING_NAMES = tuple(s[1] for s in wire_settings.SETTINGS)


def defaults() -> dict:
    return dict(wire_settings.defaults())


def check_setting(name: str, value: object) -> str:
    """'ok' or the reason a setting is refused, as the node would answer."""
    if name not in wire_settings.BY_NAME:
        return "unknown_key"
    if not isinstance(value, int) or isinstance(value, bool):
        if isinstance(value, bool):
            value = int(value)
        else:
            return "bad_format"
    return wire_settings.check(name, value)


def allowed_range(name: str) -> tuple[int, int] | None:
    """(minimum, maximum) the node accepts for a setting, from the wire contract's table."""
    entry = wire_settings.BY_NAME.get(name)
    return (entry[3], entry[4]) if entry else None


def setting_name(setting_id: int) -> str | None:
    entry = wire_settings.BY_ID.get(setting_id)
    return entry[1] if entry else None


def expected_interval_s(applied: dict) -> int:
    d = defaults()
    return (
        int(applied.get("meas_interval_min", d["meas_interval_min"]))
        * int(applied.get("batch_size", d["batch_size"]))
        * 60
    )
