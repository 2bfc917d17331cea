"""One wake cycle of the node, as a small state machine (DESIGN.md "Firmware").

wake -> restore -> power_sensors -> measure -> decide -> radio (join if needed, send, downlinks) ->
persist -> sensors_off -> deep sleep. Each step is a method named in STEPS, so the cycle reads as a list and
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
JOIN_BACKOFF_BASE_S = const(900)  # 15 min, doubled per failed join ...
JOIN_BACKOFF_MAX_S = const(21600)  # ... up to 6 h, so a node in a dead zone tries 4 times a day
MEASURE_NOW_SLEEP_MS = const(5000)
MAX_UPLINKS_PER_CYCLE = const(4)
FOPTS_MAX = const(15)  # LoRaWAN 1.0.x FOpts: room the modem's MAC answers may take in a frame
SENSOR_WARMUP_MS = const(20)
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

STEPS = ("restore", "power_sensors", "measure", "decide", "radio", "persist", "sensors_off")


def reset_cause_name(cause):
    """machine.reset_cause() as the status uplink names it (protocols/hardware.py RESET_CAUSES)."""
    from protocols import hardware

    names = hardware.RESET_CAUSES
    name = names[cause] if 0 < cause < len(names) else "unknown"
    _unload("protocols.hardware")  # a cycle that never sends must not keep it (heap)
    return name


class Node:
    """The node for one wake; `hw` and `modem` may be passed in (tests, other boards)."""

    state: "store.State"  # set by restore(), the first step
    reading: "Any"  # measure() -> decide(): the wake's reading dict

    def __init__(self, prov, cfg, hw, modem, rtc):
        self.prov = prov
        self.cfg = cfg
        self.hw = hw
        self._modem = modem
        self.rtc = rtc
        self.wdt = None
        self.reset_cause = reset_cause_name(machine.reset_cause())
        self.reading = None
        self.faults = 0  # _US_FAULT | _CLIMATE_FAULT | _LOW_BATTERY of this wake's measurement
        self.alarm = False
        self.flushing = False
        self.uplinks = 0
        self.reboot = False
        self.report_tried = False  # a report not acknowledged waits for the next cycle, not this one
        self.too_long = 0  # AT+SEND answers "payload + MAC answers too long" in this cycle
        self.fopts_room = 0  # bytes a batch leaves free for MAC answers after the modem refused one twice
        self.sleep_ms = cfg["meas_interval_min"] * 60000
        self.started_ms = time.ticks_ms()

    @property
    def modem(self):
        """The RAK3172 driver, made on first use: a cycle that only stores a sample never loads it."""
        if self._modem is None:
            from node import rui3

            self._modem = rui3.Rui3(self.hw["modem_uart"], self.hw.get("modem_reset"))
        return self._modem

    # -- steps ---------------------------------------------------------------------------------------
    def restore(self):
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

    def _next_uplink(self):
        """(fport, payload, samples it carries) of the most urgent pending uplink, or None."""
        st = self.state
        cfg = self.cfg
        if self.flushing or self.alarm or st.has(store.F_MEASURE_NOW) or st.batch_len >= cfg["batch_size"]:
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
        st = self.state
        while self.uplinks < MAX_UPLINKS_PER_CYCLE:
            nxt = self._next_uplink()
            _unload(*_FRAMES)  # the frame is built: its encoder is not needed while the radio works
            if nxt is None:
                return
            from node import rui3  # not before: a quiet cycle never loads the modem driver

            if not st.has(store.F_JOINED):
                if not self._ensure_joined():
                    return
                nxt = self._next_uplink()  # again: a status must count this join
                _unload(*_FRAMES)
            fport, payload, samples = nxt
            nxt = None
            self._feed()
            try:
                ok = self.modem.send(fport, payload)
            except rui3.NotJoined:
                log.warning("modem lost its session: join again")
                st.set(store.F_JOINED, False)
                st.radio_errors += 1
                self.uplinks += 1  # counts against the cycle's budget: no join/send loop
                continue
            except rui3.ModemSilent as e:
                log.error(f"modem silent ({e}): resetting it")
                st.radio_errors += 1
                self._recover()
                return
            except rui3.DutyCycle as e:  # the band is closed: the data waits for a later wake
                log.warning("uplink on fPort %d waits: %s" % (fport, e))
                return
            except rui3.PayloadTooLong:
                # the modem sent the pending MAC answers in an empty frame instead (airtime: counts);
                # the same frame fits now unless the answers are sticky: then leave room for them
                log.warning("fPort %d: %d bytes + MAC answers over the limit" % (fport, len(payload)))
                self.uplinks += 1
                if self.too_long:
                    self.fopts_room = FOPTS_MAX
                self.too_long += 1
                continue
            except rui3.ModemError as e:
                log.error("uplink on fPort %d refused: %s" % (fport, e))
                st.radio_errors += 1
                return
            self.uplinks += 1
            if not ok:
                log.warning("confirmed uplink on fPort %d not acknowledged" % fport)
                st.radio_errors += 1
            log.info("uplink fPort %d, %d bytes" % (fport, len(payload)))
            self._sent(fport, samples, ok)
            if self.modem.rssi is not None:
                st.rssi, st.snr = self.modem.rssi, self.modem.snr
            if self.modem.downlink is not None:
                self._downlink(*self.modem.downlink)

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
                self.alarm = False
                st.set(store.F_MEASURE_NOW, False)

    def _ensure_joined(self):
        from node import rui3

        st = self.state
        if st.has(store.F_JOINED):
            return True
        now = time.time()
        if now < st.next_join_s:
            log.info("join backoff: next attempt in %d s" % (st.next_join_s - now))
            return False
        self._feed()
        try:
            if not st.has(store.F_IDENTITY_SET):
                p = self.prov
                c = self.cfg
                self.modem.setup(
                    p["dev_eui"],
                    p["join_eui"],
                    p["app_key"],
                    p["band"],
                    c["adr"],
                    c["data_rate"],
                    c["confirmed"],
                )
                st.set(store.F_IDENTITY_SET)
            joined = self.modem.join()
        except rui3.ModemSilent as e:
            log.error(f"modem silent ({e}): resetting it")
            st.radio_errors += 1
            self._recover()
            return False
        except rui3.ModemError as e:
            log.error(f"modem setup/join refused: {e}")
            st.radio_errors += 1
            joined = False
        if joined:
            st.set(store.F_JOINED)
            st.join_count += 1
            st.join_failures = 0
            st.next_join_s = 0
            log.info("joined (join %d)" % st.join_count)
            return True
        st.radio_errors += 1
        self._back_off("join failed")
        return False

    def _back_off(self, what):
        """Next modem attempt 15 min after this wake began, doubled per failure up to 6 h (RTC memory)."""
        st = self.state
        st.join_failures += 1
        delay = min(JOIN_BACKOFF_BASE_S << min(st.join_failures - 1, 8), JOIN_BACKOFF_MAX_S)
        woke_s = time.time() - time.ticks_diff(time.ticks_ms(), self.started_ms) // 1000
        st.next_join_s = woke_s + delay
        log.warning("%s (%d in a row): next attempt in %d s" % (what, st.join_failures, delay))

    def _recover(self):
        st = self.state
        st.set(store.F_JOINED, False)
        st.set(store.F_IDENTITY_SET, False)  # a reset modem needs its setup again
        if self.modem.recover():
            log.info("modem answers again after reset")
        else:
            # unpowered or miswired: without a back-off every cycle with data due would spend ~5 s of
            # time-outs and resets on it; the join schedule's back-off applies (no session without it)
            self._back_off("modem still silent after reset")

    def _downlink(self, fport, data):
        st = self.state
        self.modem.downlink = None
        try:
            if fport == codec.PORT_CONFIG:
                version, entries = codec.parse_config(data)
                report = self.cfg.apply(version, entries)
                self.cfg.save()
                st.set_report(version, [(sid, settings.STATUSES.index(s)) for sid, s in report])
                st.set(store.F_REPORT_DUE)
                log.info("config %d applied: %s" % (version, report))
                changed = [settings.BY_ID[sid][1] for sid, s in report if s == "ok"]
                if "adr" in changed or "data_rate" in changed:  # the modem holds these
                    self.modem.set_rate(self.cfg["adr"], self.cfg["data_rate"])
                if "confirmed" in changed:
                    self.modem.set_confirmed(self.cfg["confirmed"])
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
        store.save_rtc(self.rtc, self.state)

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


def main():
    """Boot entry (main.py): build the node from the provisioning file and run one wake cycle."""
    setup = _setup()
    if setup is None:
        return
    prov, cfg, hw = setup
    gc.collect()
    node = Node(prov, cfg, hw, None, machine.RTC())
    sleep_ms = node.run()
    modem = node._modem
    log.info(
        "cycle done: %d uplinks, %d AT exchanges, sleeping %d ms"
        % (node.uplinks, modem.exchanges if modem else 0, sleep_ms)
    )
    if node.reboot:
        machine.reset()
    import esp32

    from node import boards

    boards.hold(hw, esp32)  # outputs keep their levels in deep sleep instead of floating
    machine.deepsleep(sleep_ms)
