"""The simulated world of one node: physical truth, faults, wiring, RTC memory and the radio link.

Loaded from the JSON file named by KUMPEL_SIM_WORLD (or simboot's first argument) and saved back at
exit. Keys: dev_eui, time_us, end_us, env {distance_cm, temperature_c, humidity_pct, pressure_hpa,
battery_v}, faults {ultrasonic, climate, modem, i2c, power}, radio {dead_zone, rssi, snr, join_fail,
evt_order, spaced}, devices {board, ultrasonic, climate}; written back: rtc_memory, reset_cause, modem,
uplinks/downlinks (offline radio), stats. Sim devices (simdevices.make) are wired to the pins and buses
of the node's board profile, read from firmware/node/boards.py, the firmware's own table.

Radio link (CONTRACTS section 4): JSON lines over TCP when KUMPEL_SIM_RADIO=host:port is set, otherwise
an offline network inside this file.
"""

import gc
import json
import os
import time
from binascii import hexlify, unhexlify

_current = [None]


def current():
    w = _current[0]
    if w is None:
        raise RuntimeError("no simulated world loaded: run the firmware through simboot")
    return w


class TcpLink:
    def __init__(self, address):
        import socket

        host, port = address.rsplit(":", 1)
        self._sock = socket.socket()
        self._sock.connect(socket.getaddrinfo(host, int(port))[0][-1])
        self._buf = b""

    def call(self, msg):
        self._sock.send(json.dumps(msg).encode() + b"\n")
        while b"\n" not in self._buf:
            chunk = self._sock.recv(512)  # small: the firmware shares this heap
            if not chunk:
                raise OSError("radio link closed by the host")
            self._buf += chunk
        line, self._buf = self._buf.split(b"\n", 1)
        reply = json.loads(line)
        if "error" in reply:
            raise RuntimeError("radio link host: {}".format(reply["error"]))
        return reply


class _CutFile:
    """A file that loses power after half of what it is asked to write."""

    def __init__(self, f, world):
        self._f = f
        self._world = world

    def write(self, data):
        self._f.write(data[: len(data) // 2])
        self._f.close()
        raise self._world.power_cut()

    def __enter__(self):
        return self

    def __exit__(self, *a):
        self._f.close()


class World:
    def __init__(self, path, flash_dir):
        if not path.startswith("/"):
            path = os.getcwd() + "/" + path  # simboot changes into the flash folder
        self.path = path
        self.flash_dir = flash_dir
        with open(path) as f:
            self.state = json.load(f)
        st = self.state
        # uplinks of earlier runs stay JSON text (a third of their size as dicts): the heap is shared
        # with the firmware, and a long test would otherwise grow the sim layer run after run
        self._old_uplinks = json.dumps(st.pop("uplinks", []))
        self.uplinks = []  # this run's
        gc.collect()
        self.dev_eui = st.get("dev_eui", "0000000000000000").lower()
        self.env = st.setdefault("env", {})
        self.faults = st.setdefault("faults", {})
        self.radio = st.setdefault("radio", {})
        devices = st.setdefault("devices", {})
        self.rtc_memory = unhexlify(st.get("rtc_memory", ""))
        self.reset_cause = st.get("reset_cause", 1)
        self.stats = st.setdefault("stats", {"cycles": 0, "awake_ms": 0, "tx_ms": 0, "at": 0, "heap_peak": 0})
        time.set_us(st.get("time_us", 0))
        self.pins = {}
        self.pin_cfg = {}  # pin -> {mode, pull, hold} (sim machine.Pin)
        for pin, level, mode, pull in st.pop("held_pads", []):  # pads held through the last deep sleep
            self.pins[pin] = level
            self.pin_cfg[pin] = {"mode": mode, "pull": pull, "hold": True}
        self.deep_sleep_hold = False
        self.sleep_leak_ua = 0  # leakage of released / fighting pins in the deep sleep that ends the boot
        self.wdt_timeout_us = None
        self.wdt_fed_us = 0
        self.wdt_expired = False
        self.heap_peak = 0
        self.heap_base = 0
        self.heap_floor = 0  # the sim layer's heap before the firmware first ran in this process
        self.cycle_tx_ms = 0.0
        self.boot_us = 0
        self.sensor_on_us = None  # when the switched sensor supply went on (None: off)
        self.sensor_us = 0  # sensor supply on-time this boot (energy: tools/energy.py)
        self.light_us = 0  # time in machine.lightsleep() this boot (ESP32 light sleep, not awake current)
        self.imports = 0  # firmware modules loaded this boot (simboot charges each one)
        self._devices = {}
        self._trace = os.getenv("KUMPEL_SIM_TRACE")
        self._exact_heap = bool(os.getenv("KUMPEL_SIM_HEAP_EXACT"))
        from node import boards

        self.board = devices.get("board") or "devkit_rak3172"
        self.profile = boards.profile(self.board)
        self.ultrasonic_kind = _kind(devices.get("ultrasonic"))
        self.climate_kind = _kind(devices.get("climate"))
        address = os.getenv("KUMPEL_SIM_RADIO")
        self.link = TcpLink(address) if address else None
        import simmodem

        self.modem = simmodem.SimModem(self, st.get("modem"))
        self.lora = None  # native-LoRaWAN boards: SX1262 model + network server (simnative.py)
        if self.profile.get("link") == "native":
            import simnative

            self.lora = simnative.NativeRadio(self, st.get("lorawan_ns"))
        time.add_hook(self._on_time)
        _current[0] = self

    # -- devices ---------------------------------------------------------------------------------------
    def now_us(self):
        return time.now_us()

    def _device(self, kind):
        if kind is None:
            return None
        dev = self._devices.get(kind)
        if dev is None:
            import simdevices

            dev = self._devices[kind] = simdevices.make(kind, self)
        return dev

    def powered(self, kind):
        pin = self.profile.get("sensor_power")
        if pin is not None and not self.pins.get(pin, 0):
            return False
        if kind == self.ultrasonic_kind and "us_power_down" in self.profile:
            return not self.pins.get(self.profile["us_power_down"], 1)
        return True

    def pin_level(self, pin):
        if self.lora is not None and pin in self.lora.pins:
            return self.lora.level(pin)
        if pin == self.profile.get("echo"):
            return 0
        return self.pins.get(pin, 0)

    def set_pin(self, pin, level):
        old = self.pins.get(pin, 0)
        self.pins[pin] = level
        if pin == self.profile.get("sensor_power"):
            self._sensor_supply(level)
        if self.lora is not None and pin in self.lora.pins:
            self.lora.drive(pin, level)
            return
        if pin == self.profile.get("trig") and old and not level:
            dev = self._device(self.ultrasonic_kind)
            if dev is not None and hasattr(dev, "trigger"):
                dev.trigger()
        elif pin == self.profile.get("modem_reset"):
            self.modem.reset_pin(level)

    def spi_device(self, bus):
        return self.lora.chip.spi if self.lora is not None and bus == self.lora.spi_bus else None

    def pin_irq(self, pin, handler):
        if self.lora is not None:
            self.lora.irq(pin, handler)

    def uart_device(self, bus):
        if "modem_uart" in self.profile and bus == self.profile["modem_uart"][0]:
            return self.modem
        if "sensor_uart" in self.profile and bus == self.profile["sensor_uart"][0]:
            dev = self._device(self.ultrasonic_kind)
            return dev if hasattr(dev, "uart_pending") else None
        return None

    def i2c_devices(self, bus):
        if "i2c" not in self.profile or bus != self.profile["i2c"][0]:
            return ()
        dev = self._device(self.climate_kind)
        return (dev,) if dev is not None and hasattr(dev, "i2c_write") else ()

    def pulse_device(self, pin):
        if pin != self.profile.get("echo"):
            return None
        dev = self._device(self.ultrasonic_kind)
        return dev if hasattr(dev, "pulse_us") else None

    def adc_uv(self, pin):
        if pin != self.profile.get("battery_adc"):
            return 0
        return int((self.env.get("battery_v") or 0) * 1000000 * self.profile["battery_ratio"])

    def i2c_hang_check(self):
        """Fault i2c=hang: a stuck bus blocks the CPU; only the watchdog gets it out."""
        if self.faults.get("i2c") == "hang":
            if self.wdt_expired:  # cleanup code (finally:) touching the bus after the bite
                import machine

                raise machine.WatchdogExpired()
            if self.wdt_timeout_us is None:
                raise RuntimeError("I2C bus hung and no watchdog is running: the node would hang forever")
            while True:
                time.advance_us(1000000)

    def _sensor_supply(self, on):
        now = time.now_us()
        if on and self.sensor_on_us is None:
            self.sensor_on_us = now
        elif not on and self.sensor_on_us is not None:
            self.sensor_us += now - self.sensor_on_us
            self.sensor_on_us = None

    def light_sleep(self, us):
        self.light_us += us
        time.advance_us(us)

    # -- clock hooks: watchdog and heap ----------------------------------------------------------------
    def _on_time(self, now):
        if self._exact_heap:  # figures mode: live data only, not garbage waiting for a collection
            gc.collect()
        alloc = gc.mem_alloc()
        if alloc > self.heap_peak:
            self.heap_peak = alloc
        if self.wdt_timeout_us is not None and now - self.wdt_fed_us > self.wdt_timeout_us:
            import machine

            self.wdt_timeout_us = None
            self.wdt_expired = True
            raise machine.WatchdogExpired()

    def wdt_start(self, timeout_ms):
        self.wdt_timeout_us = timeout_ms * 1000
        self.wdt_fed_us = time.now_us()

    def wdt_feed(self):
        self.wdt_fed_us = time.now_us()

    # -- power -----------------------------------------------------------------------------------------
    def power_cut(self):
        import machine

        self.faults.pop("power", None)
        return machine.PowerCut()

    def flash_open(self, builtin_open):
        """open() as the firmware sees it: a power-cut fault strikes in the middle of the next write."""

        def _open(path, mode="r", *a):
            f = builtin_open(path, mode, *a)
            if "w" in mode and self.faults.get("power") == "cut_during_flash_write":
                return _CutFile(f, self)
            return f

        return _open

    # -- boot / radio link -----------------------------------------------------------------------------
    def boot(self):
        self.boot_us = time.now_us()
        self.wdt_timeout_us = None
        self.wdt_expired = False
        self.cycle_tx_ms = 0.0
        if self.reset_cause == 4:  # a deep-sleep wake: held pads keep level and hold (quickref.rst)
            self.pin_cfg = {p: c for p, c in self.pin_cfg.items() if c["hold"]}
            self.pins = {p: self.pins.get(p, 0) for p in self.pin_cfg}
        else:
            self.pin_cfg = {}
            self.pins = {}
        self.deep_sleep_hold = False
        self.sleep_leak_ua = 0
        # the supply switch: on from the boot if its pad was held high through deep sleep, else off
        sp = self.profile.get("sensor_power")
        self.sensor_on_us = time.now_us() if sp is not None and self.pins.get(sp) else None
        self.sensor_us = 0
        self.light_us = 0
        self.imports = 0
        self.modem.exchanges = 0
        self.modem.on_boot()
        if self.lora is not None:
            self.lora.on_boot()
        for kind in (self.ultrasonic_kind, self.climate_kind):  # the sim's own objects: before the heap base
            try:
                self._device(kind)
            except ValueError:
                pass  # unknown kind: reported when the firmware touches the bus, as before
        gc.collect()
        self.heap_base = gc.mem_alloc()
        self.heap_peak = self.heap_base
        # The firmware's figure is counted from the lowest base of this process (its first boot), not
        # from this boot's: names the firmware interned in earlier boots stay in the heap here but are
        # interned again on every wake of a real node, so they belong to the firmware's share.
        if not self.heap_floor or self.heap_base < self.heap_floor:
            self.heap_floor = self.heap_base
        if self.link is not None:
            reply = self.link.call(
                {
                    "op": "boot",
                    "dev_eui": self.dev_eui,
                    "time_us": time.now_us(),
                    "reset_cause": _cause(self.reset_cause),
                }
            )
            self.env.clear()
            self.env.update(reply.get("env") or {})
            self.faults.clear()
            self.faults.update(reply.get("faults") or {})
            self.radio.update(reply.get("radio") or {})

    def join(self, join_eui):
        if self.link is not None:
            reply = self.link.call(
                {"op": "join", "dev_eui": self.dev_eui, "join_eui": join_eui, "time_us": time.now_us()}
            )
            return bool(reply.get("ok"))
        if self.radio.get("dead_zone"):
            return False
        fails = self.radio.get("join_fail", 0)
        if fails:
            self.radio["join_fail"] = fails - 1
            return False
        return True

    def uplink(self, fport, data, confirmed, fcnt, dr):
        """Send one frame; the downlink dict {fport, data(bytes), rssi, snr} or None, and ack."""
        msg = {
            "op": "uplink",
            "dev_eui": self.dev_eui,
            "fport": fport,
            "data": hexlify(data).decode(),
            "confirmed": confirmed,
            "fcnt": fcnt,
            "dr": dr,
            "time_us": time.now_us(),
        }
        if self.link is not None:
            reply = self.link.call(msg)
            dl = reply.get("downlink")
            if dl:
                dl = {
                    "fport": dl["fport"],
                    "data": unhexlify(dl["data"]),
                    "rssi": dl.get("rssi", -80),
                    "snr": dl.get("snr", 7),
                }
            return dl, bool(reply.get("ack")) or not confirmed
        if self.radio.get("dead_zone"):
            return None, False
        self.uplinks.append(msg)
        queue = self.state.get("downlinks") or []
        if queue:
            dl = queue.pop(0)
            return {
                "fport": dl["fport"],
                "data": unhexlify(dl["data"]),
                "rssi": self.radio.get("rssi", -80),
                "snr": self.radio.get("snr", 7),
            }, not self.radio.get("no_ack")
        return None, not self.radio.get("no_ack")

    def end_cycle(self, cause_next, sleep_ms, note):
        awake_ms = (time.now_us() - self.boot_us) // 1000
        self._sensor_supply(0)  # a supply left on is counted up to the deep sleep
        sensor_ms = self.sensor_us // 1000
        light_ms = self.light_us // 1000
        s = self.stats
        s["cycles"] += 1
        s["awake_ms"] += awake_ms
        s["tx_ms"] += self.cycle_tx_ms
        s["at"] += self.modem.exchanges
        s["heap_peak"] = max(s["heap_peak"], self.heap_peak - self.heap_floor)
        if self._trace:
            with open(self._trace, "a") as f:
                f.write(
                    json.dumps(
                        {
                            "t_us": self.boot_us,
                            "reset_cause": _cause(self.reset_cause),
                            "end": note,
                            "awake_ms": awake_ms,
                            "tx_ms": self.cycle_tx_ms,
                            "at": self.modem.exchanges,
                            "heap_peak": self.heap_peak - self.heap_floor,
                            "sim_heap": self.heap_floor,
                            "sleep_ms": sleep_ms,
                            "sensor_ms": sensor_ms,
                            "light_ms": light_ms,
                            "imports": self.imports,
                            "sleep_leak_ua": self.sleep_leak_ua,
                        }
                    )
                    + "\n"
                )
        self.reset_cause = cause_next
        if self.link is not None:
            reply = self.link.call(
                {
                    "op": "sleep",
                    "dev_eui": self.dev_eui,
                    "time_us": time.now_us(),
                    "sleep_ms": sleep_ms,
                    "awake_ms": awake_ms,
                    "tx_ms": self.cycle_tx_ms,
                    "sensor_ms": sensor_ms,
                    "light_ms": light_ms,
                    "sleep_leak_ua": self.sleep_leak_ua,
                }
            )
            return bool(reply.get("continue"))
        end = self.state.get("end_us")
        return not end or time.now_us() + sleep_ms * 1000 < end

    def save(self):
        st = self.state
        st["time_us"] = time.now_us()
        st["rtc_memory"] = hexlify(self.rtc_memory).decode()
        st["reset_cause"] = self.reset_cause
        st["modem"] = self.modem.saved()
        if self.lora is not None:
            st["lorawan_ns"] = self.lora.state()
        st["held_pads"] = [
            [p, self.pins.get(p, 0), c["mode"], c["pull"]] for p, c in self.pin_cfg.items() if c["hold"]
        ]
        tmp = self.path + ".tmp"
        with open(tmp, "w") as f:  # written piece by piece: no copy of the whole world in the heap
            text = json.dumps(st)
            f.write(text[:-1])
            f.write(', "uplinks": ' if len(text) > 2 else '"uplinks": ')
            old = self._old_uplinks
            f.write(old[:-1] if self.uplinks else old)
            for i, msg in enumerate(self.uplinks):
                f.write(", " if i or old != "[]" else "")
                json.dump(msg, f)
            f.write("]}" if self.uplinks else "}")
        os.rename(tmp, self.path)


def _kind(kind):
    return None if kind in (None, "", "none") else kind


def _cause(code):
    from protocols.hardware import RESET_CAUSES  # the names' one home

    return RESET_CAUSES[code] if 0 < code < len(RESET_CAUSES) else "unknown"


def load(path, flash_dir):
    if not path:
        raise RuntimeError("no world file: set KUMPEL_SIM_WORLD or pass it to simboot")
    return World(path, flash_dir)
