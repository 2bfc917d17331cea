"""Sensor drivers of the node, built from the board's machine objects (docs/CONTRACTS.md section 2).

build() is the one place that knows which hardware key each model needs; the drivers themselves get
only machine objects. Modules are imported lazily so a node carries only its own drivers in RAM.
"""


def _unknown(what, kind):
    """The names come from their one home, protocols/hardware.py, loaded only on this error path (a
    64 KB heap compiling the drivers has no room to spare)."""
    from protocols import hardware

    names = hardware.ULTRASONIC if what == "ultrasonic" else hardware.CLIMATE
    return ValueError(f"unknown {what} sensor {kind!r} (expected one of {', '.join(names)})")


def _need(hw, key, kind):
    obj = hw.get(key)
    if obj is None:
        raise ValueError(f"sensor {kind} needs hardware {key!r}, which this board does not provide")
    return obj


def build_ultrasonic(hw, kind):
    if kind == "jsn_sr04t":
        trig, echo = _need(hw, "trig", kind), _need(hw, "echo", kind)
        from .jsn_sr04t import JsnSr04t

        return JsnSr04t(trig, echo)
    if kind == "rak12007":
        trig, echo = _need(hw, "trig", kind), _need(hw, "echo", kind)
        from .rak12007 import Rak12007

        return Rak12007(trig, echo, hw.get("us_power_down"))
    if kind == "a02yyuw":
        uart = _need(hw, "sensor_uart", kind)
        from .a02yyuw import A02yyuw

        return A02yyuw(uart)
    raise _unknown("ultrasonic", kind)


def build_climate(hw, kind):
    if kind not in ("shtc3", "sht4x", "bme280"):
        raise _unknown("climate", kind)
    i2c = _need(hw, "i2c", kind)
    if kind == "shtc3":
        from .shtc3 import Shtc3

        return Shtc3(i2c)
    if kind == "sht4x":
        from .sht4x import Sht4x

        return Sht4x(i2c)
    from .bme280 import Bme280

    return Bme280(i2c)


def build(hw, ultrasonic_kind, climate_kind):
    """(ultrasonic or None, climate or None) for the provisioned kinds; a kind of None means not fitted.

    Raises ValueError naming the kind or the missing hardware key: a provisioning mistake to fix, not a
    sensor fault to flag.
    """
    ultrasonic = build_ultrasonic(hw, ultrasonic_kind) if ultrasonic_kind else None
    climate = build_climate(hw, climate_kind) if climate_kind else None
    return ultrasonic, climate
