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
MEASURE_NOW_SLEEP_MS = const(5000)
SENSOR_WARMUP_MS = const(20)

# codec imports these per frame type; a cycle drops them once the frame is built or parsed
_FRAMES = (
    "protocols.measurement",
    "protocols.uplink",
    "protocols.status",
    "protocols.report",
    "protocols.downlink",
    "protocols.bits",
    "protocols.airtime",
)

# what measure() found wrong (node/reading.py); decide() turns these into the SPEC's flag bits
US_FAULT = const(1)
CLIMATE_FAULT = const(2)
LOW_BATTERY = const(4)

# sensors_off right after measure: the supply is not held through the radio's seconds (issue 11)
STEPS = ("restore", "power_sensors", "measure", "sensors_off", "decide", "radio", "persist")


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
        from node import wake

        self.reset_cause = wake.reset_cause_name(machine.reset_cause())
        self.reading = None
        self.faults = 0  # US_FAULT | CLIMATE_FAULT | _LOW_BATTERY of this wake's measurement
        self.alarm = False
        self.moved = False  # the fill moved reading.EARLY_FILL_CHANGE_PCT: send the batch now
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
        from node import wake

        wake.restore(self)
        _unload("node.wake")  # the boot's code: not needed for the rest of the cycle (heap)

    def power_sensors(self):
        pin = self.hw.get("sensor_power")
        if pin is not None:
            pin.value(1)
            time.sleep_ms(SENSOR_WARMUP_MS)

    # measure and decide live in node/reading.py, loaded for these two steps only: the radio's peak
    # does not carry their code (64 KB heap)
    def measure(self):
        from node import reading

        reading.measure(self)

    def decide(self):
        global codec
        from node import reading
        from protocols import codec

        reading.decide(self, codec)
        _unload("node.reading")

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
        """A downlink (config or command): node/downlinks.py, loaded only when one arrives."""
        from node import downlinks

        downlinks.handle(self, fport, data, codec)
        _unload("node.downlinks", *_FRAMES)  # the parser is done

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
                    self.faults = US_FAULT | CLIMATE_FAULT
                    self.state.sensor_errors += 1
            now = time.ticks_ms()
            phases += " %s=%d" % (step, time.ticks_diff(now, t))
            t = now
        log.info("phases ms: " + phases)  # where the awake time goes (energy: tools/energy.py)
        if self.reboot:
            return 0
        awake = time.ticks_diff(time.ticks_ms(), self.started_ms)
        return max(self.sleep_ms - awake, 1000)


def _release():
    """Unload what the cycle used (codec, the link, the config) once it is over."""
    global codec
    import sys

    codec = None
    names = [n for n in sys.modules if n.startswith("node.") and n not in _KEEP]
    # protocols.hardware stays: the pad hold's peak is low anyway, and the sim's deep sleep names the reset
    # cause from it (unloaded here, the emulator would charge its reload to the firmware's imports)
    _unload(*names, *_FRAMES, "protocols.codec", "protocols.fields")


_KEEP = ("node.app", "node.log", "node.store")


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
    from node import wake

    setup = wake.setup()
    del wake
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
    # the cycle's code and data are done: free them before the board table is loaded for the pad hold,
    # or its peak is the radio's plus the boards module (+~5 KB, the first boot's highest moment)
    del node, link, setup
    _release()
    import esp32

    from node import boards

    boards.hold(hw, esp32)  # outputs keep their levels in deep sleep instead of floating
    machine.deepsleep(sleep_ms)
