"""One wake cycle of the node, as a small state machine (DESIGN.md "Firmware").

wake -> restore -> power_sensors -> measure -> decide -> radio (join if needed, send, downlinks) ->
persist -> sensors_off -> deep sleep. The radio side (node/sending.py) talks to the board's LoRaWAN link
(node/link.py: a RAK3172 modem or the native stack on an SX1262); this module knows neither.
Each step is a method named in STEPS, so the cycle reads as a list and
a failing step is named in the log. The watchdog is fed between steps; a step that hangs ends in a
watchdog reset, which the next boot counts and reports in its status uplink.
"""

# ruff: noqa: UP031  (printf-style formatting: works on every MicroPython build, f-strings need MICROPY_PY_FSTRINGS)

import gc
import json
import time

import machine
from micropython import const

from node import log, store
from protocols import settings

TYPE_CHECKING = False
if TYPE_CHECKING:  # mypy only: MicroPython has no typing module
    from typing import Any

codec: "Any" = None  # protocols.codec, imported by decide(): after the sensor drivers are unloaded (heap)

FW_VERSION = "1.0.0"
WDT_TIMEOUT_MS = const(90000)  # longest honest cycle: recovery + join (20 s) + 4 uplinks
UNPROVISIONED_SLEEP_MS = const(3600000)
LOW_BATTERY_MV = const(3400)
FIRE_HYSTERESIS_C = const(5)
MEASURE_NOW_SLEEP_MS = const(5000)
SENSOR_WARMUP_MS = const(20)
# A batch goes out before batch_size readings when the fill moved this many points since the previous
# reading or the batch's first (an emptied bin, a bin filling fast); a still bin waits for batch_size,
# the latest the fleet expects an uplink (SPEC: uplink interval = interval x batch_size)
EARLY_FILL_CHANGE_PCT = const(20)
COUNTERS_PATH = "counters.json"

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
# codec imports these per frame type; a cycle drops them once the frame is built or parsed
_FRAMES = (
    "protocols.measurement",
    "protocols.uplink",
    "protocols.status",
    "protocols.downlink",
    "protocols.bits",
    "protocols.airtime",
)

# what measure() found wrong; decide() turns these into the SPEC's flag bits once codec is loaded
_US_FAULT = const(1)
_CLIMATE_FAULT = const(2)
_LOW_BATTERY = const(4)

# sensors_off right after measure: the supply is not held through the radio's seconds (issue 11)
STEPS = ("restore", "power_sensors", "measure", "sensors_off", "decide", "radio", "persist")


def reset_cause_name(cause):
    """machine.reset_cause() as the status uplink names it (protocols/hardware.py RESET_CAUSES)."""
    from protocols import hardware

    names = hardware.RESET_CAUSES
    name = names[cause] if 0 < cause < len(names) else "unknown"
    _unload("protocols.hardware")  # a cycle that never sends must not keep it (heap)
    return name


class Node:
    """The node for one wake; `hw` and `link` may be passed in (tests, other boards)."""

    state: "store.State"  # set by restore(), the first step
    reading: "Any"  # measure() -> decide(): the wake's reading dict

    def __init__(self, prov, cfg, hw, link, rtc):
        self.prov = prov
        self.cfg = cfg
        self.hw = hw
        self._link = link
        self.rtc = rtc
        self.rtc_image = None  # native link: the RTC bytes, whose tail is the MAC's state
        self.wdt = None
        self.reset_cause = reset_cause_name(machine.reset_cause())
        self.reading = None
        self.faults = 0  # _US_FAULT | _CLIMATE_FAULT | _LOW_BATTERY of this wake's measurement
        self.alarm = False
        self.moved = False  # the fill moved EARLY_FILL_CHANGE_PCT: send the batch now
        self.flushing = False
        self.uplinks = 0
        self.reboot = False
        self.report_tried = False  # a report not acknowledged waits for the next cycle, not this one
        self.too_long = 0  # AT+SEND answers "payload + MAC answers too long" in this cycle
        self.fopts_room = 0  # bytes a batch leaves free for MAC answers after the modem refused one twice
        self.sleep_ms = cfg["meas_interval_min"] * 60000
        self.started_ms = time.ticks_ms()
        self.setup_ms = 0  # main() before the node existed (provisioning, config, board), for the phase log

    @property
    def link(self):
        """The board's LoRaWAN link, made on first use: a cycle that only stores a sample never loads it."""
        if self._link is None:
            from node import sending

            self._link = sending.make_link(self)
        return self._link

    # -- steps ---------------------------------------------------------------------------------------
    def restore(self):
        if self.hw.get("link") == "native":
            self.rtc_image = self.rtc.memory()
        self.state, ok = store.load_rtc(self.rtc)
        st = self.state
        if self.reset_cause == "deepsleep" and not ok:
            log.warning("RTC state lost or corrupt: starting afresh")
        if self.reset_cause != "deepsleep":
            st.set(store.F_STATUS_DUE)  # every unexpected boot is reported
            counters = _load_counters()
            if self.reset_cause == "watchdog":
                counters["watchdog_resets"] = counters.get("watchdog_resets", 0) + 1
            counters["boots"] = counters.get("boots", 0) + 1
            store.write_atomic(COUNTERS_PATH, json.dumps(counters))
            st.watchdog_resets = counters.get("watchdog_resets", 0)
            log.info("boot: reset cause %s, watchdog resets %d" % (self.reset_cause, st.watchdog_resets))
        if self.cfg.problem:
            log.error("config: " + self.cfg.problem)
            st.set(store.F_STATUS_DUE)
            self.cfg.problem = None
        st.wake_count += 1

    def power_sensors(self):
        pin = self.hw.get("sensor_power")
        if pin is not None:
            pin.value(1)
            time.sleep_ms(SENSOR_WARMUP_MS)

    def measure(self):
        from node import sensors
        from node.sensors import ultrasonic as us_mod
        from node.sensors.battery import Battery

        enabled = self.cfg["sensors"]
        us_kind = self.prov["ultrasonic"] if enabled & settings.SENSOR_ULTRASONIC else None
        cl_kind = self.prov["climate"] if enabled & settings.SENSOR_CLIMATE else None
        flags = 0
        reading = {"distance_cm": None, "no_echo": False, "temperature_c": None, "humidity_pct": None}
        ranger = climate = None
        try:  # each on its own: a provisioning mistake in one must not cost the other
            ranger = sensors.build(self.hw, us_kind, None)[0]
        except ValueError as e:  # provisioning names hardware this board lacks
            log.error(f"sensors: {e}")
            flags |= _US_FAULT
        try:
            climate = sensors.build(self.hw, None, cl_kind)[1]
        except ValueError as e:
            log.error(f"sensors: {e}")
            flags |= _CLIMATE_FAULT
        if climate is not None:
            values = climate.read()
            if values is None:
                flags |= _CLIMATE_FAULT
                log.warning(f"climate sensor {cl_kind}: no valid reading")
            else:
                reading["temperature_c"], reading["humidity_pct"], pressure = values
                if enabled & settings.SENSOR_PRESSURE and pressure is not None:
                    reading["pressure_hpa"] = pressure
        if ranger is not None:
            mm = ranger.measure(reading["temperature_c"])
            if mm == us_mod.FAULT:
                flags |= _US_FAULT
                log.warning(f"ultrasonic sensor {us_kind}: fault")
            elif mm == us_mod.NO_ECHO:
                reading["no_echo"] = True
            else:
                reading["distance_cm"] = min((mm + 5) // 10, 1000)
        if flags & (_US_FAULT | _CLIMATE_FAULT):
            self.state.sensor_errors += 1
        battery_mv = None
        adc = self.hw.get("battery_adc")
        if adc is not None:
            battery_mv = Battery(adc, self.hw["battery_ratio"]).read_mv()
        if battery_mv is not None:
            self.state.battery_mv = battery_mv
            if battery_mv < LOW_BATTERY_MV:
                flags |= _LOW_BATTERY
        self.reading = reading
        self.faults = flags
        ranger = climate = None
        _unload(*_DRIVERS)
        log.info(
            "measured: distance %s cm, %s C, battery %s mV, faults %d"
            % (reading["distance_cm"], reading["temperature_c"], battery_mv, flags)
        )

    def decide(self):
        """Alarms with hysteresis, then store the sample; what to send is worked out in radio()."""
        global codec
        from protocols import codec

        st = self.state
        cfg = self.cfg
        r = self.reading
        fill = (
            codec.fill_percent(r["distance_cm"], cfg["bin_height_cm"])
            if r["distance_cm"] is not None
            else None
        )
        if fill is not None:
            self.moved = self._moved(fill)
            st.last_fill_pct = fill
            threshold = cfg["full_threshold_pct"]
            if not st.has(store.F_BIN_FULL) and fill >= threshold:
                st.set(store.F_BIN_FULL)
                self.alarm = True
                log.warning("bin full: %d %%" % fill)
            elif st.has(store.F_BIN_FULL) and fill < threshold - cfg["hysteresis_pct"]:
                st.set(store.F_BIN_FULL, False)
        t = r["temperature_c"]
        if t is not None:
            if not st.has(store.F_FIRE) and t >= cfg["fire_temp_c"]:
                st.set(store.F_FIRE)
                self.alarm = True
                log.warning(f"fire alarm: {t:.1f} C")
            elif st.has(store.F_FIRE) and t < cfg["fire_temp_c"] - FIRE_HYSTERESIS_C:
                st.set(store.F_FIRE, False)
        flags = 0
        faults = self.faults
        if faults & _US_FAULT:
            flags |= codec.FLAG_ULTRASONIC_FAULT
        if faults & _CLIMATE_FAULT:
            flags |= codec.FLAG_CLIMATE_FAULT
        if faults & _LOW_BATTERY:
            flags |= codec.FLAG_LOW_BATTERY
        if st.has(store.F_BIN_FULL):
            flags |= codec.FLAG_BIN_FULL
        if st.has(store.F_FIRE):
            flags |= codec.FLAG_FIRE_ALARM
        st.add_sample(r)
        st.batch_flags |= flags
        self.reading = None

    def _moved(self, fill):
        """The fill moved EARLY_FILL_CHANGE_PCT since the previous reading or the batch's first."""
        st = self.state
        if st.last_fill_pct != 255 and abs(fill - st.last_fill_pct) >= EARLY_FILL_CHANGE_PCT:
            return True
        if not st.batch_len:
            return False
        first = st.sample(0, False)["distance_cm"]
        first = codec.fill_percent(first, self.cfg["bin_height_cm"]) if first is not None else None
        return first is not None and abs(fill - first) >= EARLY_FILL_CHANGE_PCT

    def _next_uplink(self):
        """(fport, payload, samples it carries) of the most urgent pending uplink, or None."""
        st = self.state
        cfg = self.cfg
        if (
            self.flushing
            or self.alarm
            or self.moved
            or st.has(store.F_MEASURE_NOW)
            or st.batch_len >= cfg["batch_size"]
        ):
            frame = self._batch_frame()
            if frame is not None:
                self.flushing = True  # a split batch goes out whole in this cycle (uplink budget allowing)
                return frame
            self.flushing = False
        if st.has(store.F_REPORT_DUE) and not self.report_tried:
            entries = st.report_entries(settings.STATUSES)
            return codec.PORT_CONFIG_REPORT, codec.encode_config_report(st.report_version, entries), 0
        if st.has(store.F_STATUS_DUE) or st.uplinks_since_status >= cfg["status_every"]:
            return codec.PORT_STATUS, codec.encode_status(self._status()), 0
        return None

    def _flags(self):
        """The batch's flags, plus config_pending while an applied config is not yet reported (SPEC)."""
        st = self.state
        if st.has(store.F_REPORT_DUE):
            return st.batch_flags | codec.FLAG_CONFIG_PENDING
        return st.batch_flags

    def _batch_frame(self):
        st = self.state
        cfg = self.cfg
        if not st.batch_len:
            return None
        from protocols import airtime  # only in cycles that send a batch

        with_pressure = bool(cfg["sensors"] & settings.SENSOR_PRESSURE) and self.prov["climate"] == "bme280"
        limit = airtime.max_payload(0 if cfg["adr"] else cfg["data_rate"]) - self.fopts_room
        if st.batch_len == 1:
            reading = st.sample(0, with_pressure)
            reading["battery_mv"] = st.battery_mv or None
            reading["flags"] = self._flags()
            return codec.PORT_MEASUREMENT, codec.encode_measurement(reading), 1
        # the oldest n samples that fit the data rate's payload: binary search on n (frames compress,
        # so their size is not linear in n)
        lo, hi, best = 1, st.batch_len, None
        while lo <= hi:
            n = (lo + hi) // 2
            frame = codec.encode_batch(
                {
                    "interval_min": cfg["meas_interval_min"],
                    "battery_mv": st.battery_mv or None,
                    "flags": self._flags(),
                    "readings": [st.sample(i, with_pressure) for i in range(n)],
                }
            )
            if len(frame) <= limit:
                best = (codec.PORT_BATCH, frame, n)
                lo = n + 1
            else:
                hi = n - 1
            frame = None
            gc.collect()
        return best

    def _status(self):
        st = self.state
        return {
            "fw_version": FW_VERSION,
            "config_version": self.cfg.version,
            "reset_cause": self.reset_cause,
            "wake_count": st.wake_count,
            "sensor_errors": st.sensor_errors,
            "radio_errors": st.radio_errors,
            "watchdog_resets": st.watchdog_resets,
            "battery_mv": st.battery_mv or None,
            "rssi": st.rssi,
            "snr": st.snr,
            "join_count": st.join_count,
        }

    def radio(self):
        from node import sending

        sending.send_due(self, self._next_uplink, _unload_frames)

    def _sent(self, fport, samples, ok):
        st = self.state
        if fport == codec.PORT_STATUS:
            st.uplinks_since_status = 0
            st.set(store.F_STATUS_DUE, False)
            return
        st.uplinks_since_status += 1
        if fport == codec.PORT_CONFIG_REPORT:
            self.report_tried = True
            if ok:  # a confirmed report that was not acknowledged stays due: config_pending stays set
                st.report_len = 0
                st.set(store.F_REPORT_DUE, False)
        else:
            st.drop_samples(samples)
            if not st.batch_len:
                self.alarm = self.moved = False
                st.set(store.F_MEASURE_NOW, False)

    def _downlink(self, fport, data):
        st = self.state
        try:
            if fport == codec.PORT_CONFIG:
                version, entries = codec.parse_config(data)
                report = self.cfg.apply(version, entries)
                self.cfg.save()
                st.set_report(version, [(sid, settings.STATUSES.index(s)) for sid, s in report])
                st.set(store.F_REPORT_DUE)
                log.info("config %d applied: %s" % (version, report))
                changed = [settings.BY_ID[sid][1] for sid, s in report if s == "ok"]
                if "adr" in changed or "data_rate" in changed:  # the link holds these
                    self.link.set_rate(self.cfg["adr"], self.cfg["data_rate"])
                if "confirmed" in changed:
                    self.link.set_confirmed(self.cfg["confirmed"])
            elif fport == codec.PORT_COMMAND:
                command = codec.decode_downlink(fport, data)["command"]
                log.info("command: " + command)
                if command == "reboot":
                    self.reboot = True
                elif command == "status_now":
                    st.set(store.F_STATUS_DUE)
                elif command == "measure_now":
                    st.set(store.F_MEASURE_NOW)
                    self.sleep_ms = MEASURE_NOW_SLEEP_MS
                elif command == "rejoin":
                    st.set(store.F_JOINED, False)
                    st.next_join_s = 0
                    self.link.forget()
            else:
                log.warning("downlink on unknown fPort %d ignored" % fport)
            _unload(*_FRAMES)  # the parser is done
        except codec.CodecError as e:
            log.error("downlink fPort %d rejected: %s" % (fport, e))
            if (
                fport == codec.PORT_CONFIG
            ):  # SPEC: a broken frame is answered with the old version, no entries
                st.set_report(self.cfg.version, [])
                st.set(store.F_REPORT_DUE)

    def persist(self):
        if self.hw.get("link") != "native":
            store.save_rtc(self.rtc, self.state)
            return
        from node.link import link_tail

        # the MAC's state rides behind the cycle's image; kept as it was when the link slept this cycle
        tail = self._link.persist() if self._link is not None else link_tail(self.rtc_image)
        self.rtc.memory(bytes(self.state.pack()) + (tail or b""))
        if self._link is not None:
            self._link.sleep()

    def sensors_off(self):
        for key, off in (("sensor_power", 0), ("us_power_down", 1)):
            pin = self.hw.get(key)
            if pin is not None:
                pin.value(off)

    # -- the cycle -----------------------------------------------------------------------------------
    def _feed(self):
        if self.wdt is not None:
            self.wdt.feed()

    def run(self):
        """Run all steps; returns the ms to deep-sleep (the caller sleeps or resets)."""
        self.wdt = machine.WDT(timeout=WDT_TIMEOUT_MS)
        phases = "setup=%d" % self.setup_ms
        t = time.ticks_ms()
        for step in STEPS:
            self._feed()
            gc.collect()
            try:
                getattr(self, step)()
            except Exception as e:  # a bug in one step must not cost the stored samples
                if step in ("restore", "persist"):
                    raise
                log.error(f"step {step} failed: {e!r}")
                if step == "measure":  # still store a sample, flagged, so the gap is visible
                    self.reading = {
                        "distance_cm": None,
                        "no_echo": False,
                        "temperature_c": None,
                        "humidity_pct": None,
                    }
                    self.faults = _US_FAULT | _CLIMATE_FAULT
                    self.state.sensor_errors += 1
            now = time.ticks_ms()
            phases += " %s=%d" % (step, time.ticks_diff(now, t))
            t = now
        log.info("phases ms: " + phases)  # where the awake time goes (energy: tools/energy.py)
        if self.reboot:
            return 0
        awake = time.ticks_diff(time.ticks_ms(), self.started_ms)
        return max(self.sleep_ms - awake, 1000)


def _load_counters():
    text = store.read_text(COUNTERS_PATH)
    try:
        counters = json.loads(text) if text else {}
        return counters if isinstance(counters, dict) else {}
    except ValueError:
        return {}


def unprovisioned(reason):
    """Safe mode without provisioning: say why, blink if a board is known, sleep long. Never loops fast."""
    log.error("UNPROVISIONED: %s; sleeping %d s" % (reason, UNPROVISIONED_SLEEP_MS // 1000))
    for _ in range(5):
        led = _any_led()
        if led is None:
            break
        led.value(1)
        time.sleep_ms(100)
        led.value(0)
        time.sleep_ms(200)
    return UNPROVISIONED_SLEEP_MS


def _any_led():
    """The LED of the board named in a readable-but-invalid provision.json, if any."""
    from node import boards

    text = store.read_text("provision.json")
    try:
        board = json.loads(text).get("board") if text else None
        if board is None:
            return None
        pin = boards.PROFILES[board]["led"]
    except (ValueError, KeyError, AttributeError, TypeError):
        return None
    return machine.Pin(pin, machine.Pin.OUT)


def _setup():
    """(provisioning, config, hardware); the modules that build them are unloaded again (heap)."""
    from node import provision

    try:
        prov = provision.load()
    except provision.ProvisionError as e:
        machine.deepsleep(unprovisioned(str(e)))
        return None
    del provision
    # one at a time: the heap peak is the largest, not their sum
    _unload("node.provision", "protocols.provisioning", "protocols.hardware")
    from node import boards

    hw = boards.build(prov["board"], machine)
    del boards
    _unload("node.boards")
    from node.config import Config

    return prov, Config().load(), hw


def _unload_frames():
    _unload(*_FRAMES)


def _unload(*names):
    """Forget modules a cycle no longer needs so the collector can free them (64 KB heap): the entry in
    sys.modules and the attribute on the package both hold the module."""
    import sys

    for name in names:
        sys.modules.pop(name, None)
        parent, _, short = name.rpartition(".")
        pkg = sys.modules.get(parent)
        if pkg is not None and short in pkg.__dict__:
            delattr(pkg, short)
    gc.collect()


# when this module was imported (main.py's first step), for the phase log's "setup": a module global, not
# a local of main() - one more local there kept ~2.3 KB of the setup's garbage alive through the cycle
_MAIN_MS = [time.ticks_ms()]


def main():
    """Boot entry (main.py): build the node from the provisioning file and run one wake cycle."""
    setup = _setup()
    if setup is None:
        return
    prov, cfg, hw = setup
    gc.collect()
    node = Node(prov, cfg, hw, None, machine.RTC())
    node.setup_ms = time.ticks_diff(node.started_ms, _MAIN_MS[0])
    sleep_ms = node.run()
    link = node._link
    log.info(
        "cycle done: %d uplinks, %d AT exchanges, sleeping %d ms"
        % (node.uplinks, getattr(link, "exchanges", 0) if link else 0, sleep_ms)
    )
    if node.reboot:
        machine.reset()
    import esp32

    from node import boards

    boards.hold(hw, esp32)  # outputs keep their levels in deep sleep instead of floating
    machine.deepsleep(sleep_ms)
