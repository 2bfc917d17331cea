"""The measure and decide steps of the wake cycle (node/app.py): read the sensors, then alarms with
hysteresis and the stored sample. A module of its own, loaded for these steps and unloaded after decide,
so the radio's part of the cycle (its heap peak) does not carry this code (64 KB heap).
"""

# ruff: noqa: UP031  (printf-style formatting: works on every MicroPython build, f-strings need MICROPY_PY_FSTRINGS)

from micropython import const

from node import log, store
from node.app import CLIMATE_FAULT, US_FAULT, _unload
from node.app import LOW_BATTERY as LOW_BATTERY_FLAG
from protocols import settings

LOW_BATTERY_MV = const(3400)
FIRE_HYSTERESIS_C = const(5)
# A batch goes out before batch_size readings when the fill moved this many points since the previous
# reading or the batch's first (an emptied bin, a bin filling fast); a still bin waits for batch_size,
# the latest the fleet expects an uplink (SPEC: uplink interval = interval x batch_size)
EARLY_FILL_CHANGE_PCT = const(20)

_DRIVERS = (
    "protocols.hardware",  # the sensor kinds' names, if a provisioning mistake needed them
    "node.sensors.battery",
    "node.sensors.ultrasonic",
    "node.sensors.a02yyuw",
    "node.sensors.jsn_sr04t",
    "node.sensors.rak12007",
    "node.sensors.sensirion",
    "node.sensors.shtc3",
    "node.sensors.sht4x",
    "node.sensors.bme280",
    "node.sensors",
)


def measure(node):
    from node import sensors
    from node.sensors import ultrasonic as us_mod
    from node.sensors.battery import Battery

    enabled = node.cfg["sensors"]
    us_kind = node.prov["ultrasonic"] if enabled & settings.SENSOR_ULTRASONIC else None
    cl_kind = node.prov["climate"] if enabled & settings.SENSOR_CLIMATE else None
    flags = 0
    reading = {"distance_cm": None, "no_echo": False, "temperature_c": None, "humidity_pct": None}
    ranger = climate = None
    try:  # each on its own: a provisioning mistake in one must not cost the other
        ranger = sensors.build(node.hw, us_kind, None)[0]
    except ValueError as e:  # provisioning names hardware this board lacks
        log.error(f"sensors: {e}")
        flags |= US_FAULT
    try:
        climate = sensors.build(node.hw, None, cl_kind)[1]
    except ValueError as e:
        log.error(f"sensors: {e}")
        flags |= CLIMATE_FAULT
    if climate is not None:
        values = climate.read()
        if values is None:
            flags |= CLIMATE_FAULT
            log.warning(f"climate sensor {cl_kind}: no valid reading")
        else:
            reading["temperature_c"], reading["humidity_pct"], pressure = values
            if enabled & settings.SENSOR_PRESSURE and pressure is not None:
                reading["pressure_hpa"] = pressure
    if ranger is not None:
        mm = ranger.measure(reading["temperature_c"])
        if mm == us_mod.FAULT:
            flags |= US_FAULT
            log.warning(f"ultrasonic sensor {us_kind}: fault")
        elif mm == us_mod.NO_ECHO:
            reading["no_echo"] = True
        else:
            reading["distance_cm"] = min((mm + 5) // 10, 1000)
    if flags & (US_FAULT | CLIMATE_FAULT):
        node.state.sensor_errors += 1
    battery_mv = None
    adc = node.hw.get("battery_adc")
    if adc is not None:
        battery_mv = Battery(adc, node.hw["battery_ratio"]).read_mv()
    if battery_mv is not None:
        node.state.battery_mv = battery_mv
        if battery_mv < LOW_BATTERY_MV:
            flags |= LOW_BATTERY_FLAG
    node.reading = reading
    node.faults = flags
    ranger = climate = None
    _unload(*_DRIVERS)
    log.info(
        "measured: distance %s cm, %s C, battery %s mV, faults %d"
        % (reading["distance_cm"], reading["temperature_c"], battery_mv, flags)
    )


def decide(node, codec):
    """Alarms with hysteresis, then store the sample; what to send is worked out in radio()."""
    st = node.state
    cfg = node.cfg
    r = node.reading
    fill = (
        codec.fill_percent(r["distance_cm"], cfg["bin_height_cm"]) if r["distance_cm"] is not None else None
    )
    if fill is not None:
        node.moved = _moved(node, fill, codec)
        st.last_fill_pct = fill
        threshold = cfg["full_threshold_pct"]
        if not st.has(store.F_BIN_FULL) and fill >= threshold:
            st.set(store.F_BIN_FULL)
            node.alarm = True
            log.warning("bin full: %d %%" % fill)
        elif st.has(store.F_BIN_FULL) and fill < threshold - cfg["hysteresis_pct"]:
            st.set(store.F_BIN_FULL, False)
    t = r["temperature_c"]
    if t is not None:
        if not st.has(store.F_FIRE) and t >= cfg["fire_temp_c"]:
            st.set(store.F_FIRE)
            node.alarm = True
            log.warning(f"fire alarm: {t:.1f} C")
        elif st.has(store.F_FIRE) and t < cfg["fire_temp_c"] - FIRE_HYSTERESIS_C:
            st.set(store.F_FIRE, False)
    flags = 0
    faults = node.faults
    if faults & US_FAULT:
        flags |= codec.FLAG_ULTRASONIC_FAULT
    if faults & CLIMATE_FAULT:
        flags |= codec.FLAG_CLIMATE_FAULT
    if faults & LOW_BATTERY_FLAG:
        flags |= codec.FLAG_LOW_BATTERY
    if st.has(store.F_BIN_FULL):
        flags |= codec.FLAG_BIN_FULL
    if st.has(store.F_FIRE):
        flags |= codec.FLAG_FIRE_ALARM
    st.add_sample(r)
    st.batch_flags |= flags
    node.reading = None


def _moved(node, fill, codec):
    """The fill moved EARLY_FILL_CHANGE_PCT since the previous reading or the batch's first."""
    st = node.state
    if st.last_fill_pct != 255 and abs(fill - st.last_fill_pct) >= EARLY_FILL_CHANGE_PCT:
        return True
    if not st.batch_len:
        return False
    first = st.sample(0, False)["distance_cm"]
    first = codec.fill_percent(first, node.cfg["bin_height_cm"]) if first is not None else None
    return first is not None and abs(fill - first) >= EARLY_FILL_CHANGE_PCT
