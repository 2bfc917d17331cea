"""A simulated RAK3172 running RUI3, answering AT commands on the modem UART (reference: rui3-at.md).

It keeps what the real modem keeps across the ESP32's deep sleep (identity, session, frame counter) and
sends joins/uplinks through simworld's radio link. Answers come after a few ms of simulated time; +EVT
lines come when the radio would produce them (RX1 1 s after the uplink, TX_DONE after RX2).
Faults (world.faults["modem"]): "silent" (the AT parser hangs until NRST or ATZ), "busy" (every first
AT+SEND of a cycle answers AT_BUSY_ERROR). world.radio["evt_order"] = "tx_first" sends TX_DONE before the
RX line; world.radio["spaced"] uses the old spaced event spelling.
"""

# ruff: noqa: UP031  (printf-style formatting: works on every MicroPython build, f-strings need MICROPY_PY_FSTRINGS)

import time
from binascii import hexlify, unhexlify

from protocols import airtime

_REPLY_US = 3000
_RX1_US = 1000000
_RX2_END_US = 2100000
_JOIN_US = 6000000
_BANNER = (
    "RAKwireless RAK3172-E Example",
    "------------------------------------------------------",
    "Version: RUI_4.0.4_RAK3172-E",
)
_HEX = "0123456789abcdefABCDEF"
_RANGES = {
    "NWM": (0, 1),
    "NJM": (0, 1),
    "BAND": (0, 11),
    "CFM": (0, 1),
    "ADR": (0, 1),
    "DR": (0, 5),
    "LPM": (0, 1),
    "TXP": (0, 7),
}


def _is_hex(s, n):
    return len(s) == n and all(c in _HEX for c in s)


class SimModem:
    def __init__(self, world, saved=None):
        self.w = world
        self.cfg = {
            "NWM": 1,
            "NJM": 1,
            "BAND": 4,
            "CFM": 0,
            "ADR": 1,
            "DR": 0,
            "LPM": 0,
            "TXP": 0,
            "CLASS": "A",
            "DEVEUI": world.dev_eui.upper(),  # factory EUI (the label), until AT+DEVEUI= sets another
            "APPEUI": "",
            "APPKEY": "",
        }
        self.joined = False
        self.fcnt = 0
        if saved:
            self.cfg.update(saved.get("cfg", {}))
            self.joined = saved.get("joined", False)
            self.fcnt = saved.get("fcnt", 0)
        self._out = []  # (ready_us, bytes)
        self._line = bytearray()
        self._busy_until = 0
        self._recv = None
        self._in_reset = False
        self._hung = False
        self._silent_seen = False
        self._busy_done = False
        self.exchanges = 0
        self.commands = []  # every command of the current boot (tests look at them)

    def saved(self):
        return {"cfg": self.cfg, "joined": self.joined, "fcnt": self.fcnt}

    def on_boot(self):
        self._busy_done = False
        self.commands = []
        silent = self.w.faults.get("modem") == "silent"
        if silent and not self._silent_seen:
            self._hung = True
        self._silent_seen = silent
        self._out = []

    def power_lost(self):
        """Supply cut: the session is gone (identity is in the modem's flash and stays)."""
        self.joined = False
        self._out = []

    # -- UART --------------------------------------------------------------------------------------------
    def uart_write(self, data):
        if self._in_reset:
            return
        for b in data:
            if b in (10, 13):
                if self._line:
                    line = bytes(self._line).decode()
                    self._line = bytearray()
                    self._command(line.strip())
            else:
                self._line.append(b)

    def uart_pending(self):
        now = time.now_us()
        out = b""
        while self._out and self._out[0][0] <= now:
            out += self._out.pop(0)[1]
        return out

    def _emit(self, line, delay_us=_REPLY_US):
        at = time.now_us() + delay_us
        item = (at, line.encode() + b"\r\n")
        i = len(self._out)
        while i and self._out[i - 1][0] > at:
            i -= 1
        self._out.insert(i, item)

    def _evt(self, text, delay_us):
        if self.w.radio.get("spaced"):
            text = " " + text.replace("_", " ", 2) if not text.startswith("RX_") else text
        self._emit("+EVT:" + text, delay_us)

    def reset_pin(self, level):
        if not level:
            self._in_reset = True
            return
        if self._in_reset:
            self._in_reset = False
            self._restart()

    def _restart(self):
        self._hung = False
        self.joined = False
        self._busy_until = 0
        self._out = []
        for i, line in enumerate(_BANNER):
            self._emit(line, 50000 + i)

    # -- commands ----------------------------------------------------------------------------------------
    def _command(self, line):
        if self._hung and line != "ATZ":
            return
        self.exchanges += 1
        self.commands.append(line)
        if line == "ATZ":
            self._restart()
            return
        if line == "AT":
            return self._emit("OK")
        if not line.startswith("AT+"):
            return self._emit("AT_ERROR")
        body = line[3:]
        if "=" not in body:
            return self._emit("AT_ERROR")  # AT+X? is help text on RUI3; we never need it
        name, arg = body.split("=", 1)
        if arg == "?":
            return self._read(name)
        if name == "JOIN":
            return self._join(arg)
        if name == "SEND":
            return self._send(arg)
        return self._set(name, arg)

    def _read(self, name):
        if name == "RECV":
            dl = self._recv
            self._recv = None
            value = "%d:%s" % (dl["fport"], hexlify(dl["data"]).decode()) if dl else "0:"
        elif name == "NJS":
            value = "1" if self.joined else "0"
        elif name == "VER":
            value = "RUI_4.0.4_RAK3172-E"
        elif name in ("RSSI", "SNR"):
            value = str(self.w.radio.get(name.lower(), 0))
        elif name == "BAT":
            value = "3.300000"
        elif name in self.cfg:
            value = str(self.cfg[name])
        else:
            return self._emit("AT_ERROR")
        self._emit(f"AT+{name}={value}")
        self._emit("OK")

    def _set(self, name, arg):
        if name in ("DEVEUI", "APPEUI"):
            ok = _is_hex(arg, 16)
        elif name == "APPKEY":
            ok = _is_hex(arg, 32)
        elif name == "CLASS":
            ok = arg in ("A", "B", "C")
        elif name in _RANGES:
            ok = arg.isdigit() and _RANGES[name][0] <= int(arg) <= _RANGES[name][1]
            arg = int(arg) if ok else arg
        else:
            return self._emit("AT_ERROR")
        if not ok:
            return self._emit("AT_PARAM_ERROR")
        self.cfg[name] = arg
        self._emit("OK")

    def _join(self, arg):
        parts = arg.split(":")
        if not parts or parts[0] not in ("0", "1"):
            return self._emit("AT_PARAM_ERROR")
        if time.now_us() < self._busy_until:
            return self._emit("AT_BUSY_ERROR")
        if not (self.cfg["DEVEUI"] and self.cfg["APPEUI"] and self.cfg["APPKEY"]):
            return self._emit("AT_ERROR")
        self._emit("OK")
        if parts[0] == "0":
            return
        self._busy_until = time.now_us() + _JOIN_US
        time_saved = time.now_us()
        ok = self.w.join(self.cfg["APPEUI"])
        self.w.cycle_tx_ms += airtime.time_on_air_ms(23 - 13, 12)  # join-request: 23 bytes PHY at SF12
        time.set_us(time_saved)
        if ok:
            self.joined = True
            self.fcnt = 0
            self._evt("JOINED", _JOIN_US)
        else:
            self._evt("JOIN_FAILED_RX_TIMEOUT", _JOIN_US + 1000000)

    def _send(self, arg):
        if ":" not in arg:
            return self._emit("AT_PARAM_ERROR")
        port, payload = arg.split(":", 1)
        if (
            not port.isdigit()
            or not 1 <= int(port) <= 223
            or len(payload) % 2
            or not all(c in _HEX for c in payload)
        ):
            return self._emit("AT_PARAM_ERROR")
        if not self.joined:
            return self._emit("AT_NO_NETWORK_JOINED")
        if time.now_us() < self._busy_until or (self.w.faults.get("modem") == "busy" and not self._busy_done):
            self._busy_done = True
            return self._emit("AT_BUSY_ERROR")
        data = unhexlify(payload)
        dr = self.cfg["DR"]
        if len(data) > airtime.max_payload(dr):
            return self._emit("AT_PARAM_ERROR")
        self._emit("OK")
        self.fcnt += 1
        confirmed = bool(self.cfg["CFM"])
        toa_ms = airtime.time_on_air_ms(len(data), airtime.sf_for_dr(dr))
        self.w.cycle_tx_ms += toa_ms
        dl, acked = self.w.uplink(int(port), data, confirmed, self.fcnt - 1, dr)
        toa_us = int(toa_ms * 1000)
        done_us = toa_us + _RX2_END_US
        self._busy_until = time.now_us() + done_us
        if confirmed:
            done = "SEND_CONFIRMED_OK" if acked else "SEND_CONFIRMED_FAILED(1)"
        else:
            done = "TX_DONE"
        rx_us = toa_us + _RX1_US
        if self.w.radio.get("evt_order") == "tx_first":
            rx_us = done_us + 1000
        if dl:
            self._recv = dl
            self._evt(
                "RX_1:%d:%d:UNICAST:%d:%s"
                % (dl["rssi"], dl["snr"], dl["fport"], hexlify(dl["data"]).decode()),
                rx_us,
            )
        self._evt(done, done_us)
