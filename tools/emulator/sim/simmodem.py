"""A simulated RAK3172 running RUI3, answering AT commands on the modem UART (reference: rui3-at.md).

It keeps what the real modem keeps across the ESP32's deep sleep (identity, session, frame counter) and
sends joins/uplinks through simworld's radio link. Answers come after a few ms of simulated time; +EVT
lines come when the radio would produce them (RX1 1 s after the uplink, TX_DONE after RX2).
Faults (world.faults["modem"]): "silent" (the AT parser hangs until NRST or ATZ), "dead" (never answers,
not even after a reset: unpowered or miswired), "busy" (every first AT+SEND of a cycle answers
AT_BUSY_ERROR), "noise" (line noise: bytes that are not UTF-8 before every answer), "appkey_write_only"
(a RUI3 build that will not read the AppKey out). world.radio["evt_order"]
= "tx_first" sends TX_DONE before the RX line; world.radio["spaced"] uses the old spaced event spelling;
world.radio["mac_pending"] = n gives the modem n bytes of MAC-command answers to send (taken at the next
boot), world.radio["mac_sticky"] keeps them pending (sticky answers, LoRaWAN 1.0.x: repeated until a
downlink comes).

Behaviours of the real RUI3 modelled here (RAK-STM32-RUI, RUI_5.0.0 source, cores/STM32WLE/component/):
- AT+JOIN=<start>:<auto>:<period s>:<max>: after a failed attempt RUI3 counts and retries after <period> s
  while the count <= <max> (service/lora/service_lora.c MlmeConfirm, `++auto_join_retry_cnt >
  service_lora_get_auto_join_max_cnt()`), so `:1` is two join requests; parameters checked as At_Join does
  (service/mode/cli/atcmd_join_send.c: start/auto 0|1, period 7..255, max 0..255).
- AT+SEND: payload + pending MAC answers over the data rate's limit (LoRaMacQueryTxPossible) -> an empty
  frame carrying the MAC answers goes out and the answer is AT_PARAM_ERROR (service_lora_send ->
  -UDRV_WRONG_ARG -> At_Send's AT_PARAM_ERROR); +EVT:TX_DONE follows as for any unconfirmed frame.
- Duty cycle on by default (service_nvm.c: DutycycleEnable = true): LoRaMac-node 4.7 time credits
  (mac/region/RegionCommon.c): a band may spend 1 % of a 1-hour observation window (36 s on air), credits
  refill when the window has elapsed; a send without credits prints `Restricted_Wait_<ms>_ms` and answers
  AT_BUSY_ERROR (service_lora_send).
- Every setter rewrites the config flash, even with the value it holds (service/nvm/
  service_nvm_common.c: each service_nvm_set_*_to_nvm calls udrv_flash_write): counted in flash_writes.
- An unknown command answers AT_COMMAND_NOT_FOUND (service/mode/cli/atcmd.c, exit_rsp).
- With AT+LPM=1 the modem sleeps when idle; the first byte it receives after waking arrives corrupted
  (reported on RAK's forum), so that command is not found. The idle time before it sleeps is a guess
  (_LPM_IDLE_US); the firmware must not depend on it.
"""

# ruff: noqa: UP031  (printf-style formatting: works on every MicroPython build, f-strings need MICROPY_PY_FSTRINGS)

import time
from binascii import hexlify, unhexlify

from protocols import airtime

_REPLY_US = 3000
_RX1_US = 1000000
_RX2_END_US = 2100000
_JOIN_US = 6000000
_LPM_IDLE_US = 100000  # guess: idle this long (no UART traffic, radio done) and an LPM=1 modem sleeps
_DC_WINDOW_US = 3600000000  # DUTY_CYCLE_TIME_PERIOD (RegionCommon.c): 1 h observation window
_DC_CREDITS_MS = 36000  # 1 % of it on air (EU868 g1 band, LoRaMac-node RegionEU868.h)
_NOISE = b"\x00\xff\xfe"
_KNOWN = ("JOIN", "SEND", "RECV", "NJS", "VER", "RSSI", "SNR", "BAT")
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
        self.join_params = [0, 0, 8, 0]  # AT+JOIN's four fields as kept in the modem's flash
        self.join_requests = 0  # join requests transmitted (each one is airtime)
        self.flash_writes = 0  # config flash rewrites (RUI3 setters)
        self.mac_frames = 0  # empty frames sent to carry MAC answers
        self.mac_pending = 0
        self.dc = [0, _DC_CREDITS_MS]  # duty cycle: [window start us, credits ms]
        if saved:
            self.cfg.update(saved.get("cfg", {}))
            self.joined = saved.get("joined", False)
            self.fcnt = saved.get("fcnt", 0)
            self.join_params = saved.get("join_params", self.join_params)
            self.join_requests = saved.get("join_requests", 0)
            self.flash_writes = saved.get("flash_writes", 0)
            self.mac_frames = saved.get("mac_frames", 0)
            self.mac_pending = saved.get("mac_pending", 0)
            self.dc = saved.get("dc", self.dc)
        self._out = []  # (ready_us, bytes)
        self._line = bytearray()
        self._busy_until = 0
        self._recv = None
        self._in_reset = False
        self._hung = False
        self._silent_seen = False
        self._busy_done = False
        self._io_us = 0  # last UART traffic or radio activity: the LPM sleep starts _LPM_IDLE_US after it
        self.exchanges = 0
        self.commands = []  # every command of the current boot (tests look at them)

    def saved(self):
        return {
            "cfg": self.cfg,
            "joined": self.joined,
            "fcnt": self.fcnt,
            "join_params": self.join_params,
            "join_requests": self.join_requests,
            "flash_writes": self.flash_writes,
            "mac_frames": self.mac_frames,
            "mac_pending": self.mac_pending,
            "dc": self.dc,
        }

    def on_boot(self):
        self._busy_done = False
        self.commands = []
        pending = self.w.radio.pop("mac_pending", None)
        if pending:
            self.mac_pending = pending
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
        if self._in_reset or self.w.faults.get("modem") == "dead":
            return
        now = time.now_us()
        if self.cfg["LPM"] and now - max(self._io_us, self._busy_until) > _LPM_IDLE_US and data:
            data = b"\xf8" + data[1:]  # the byte that woke the modem from its LPM sleep is garbled
        self._io_us = now
        for b in data:
            if b in (10, 13):
                if self._line:
                    # RUI3's parser takes bytes: anything not ASCII just fails to match a command
                    line = "".join(chr(c) if 31 < c < 127 else "?" for c in self._line)
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
        self._io_us = max(self._io_us, at)
        data = line.encode() + b"\r\n"
        if self.w.faults.get("modem") == "noise":
            data = _NOISE + data
        item = (at, data)
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
        self.dc = [0, _DC_CREDITS_MS]  # the MAC starts with full credits
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
            return self._emit("AT_COMMAND_NOT_FOUND")
        body = line[3:]
        if "=" not in body:
            return self._emit("AT_ERROR")  # AT+X? is help text on RUI3; we never need it
        name, arg = body.split("=", 1)
        if name not in self.cfg and name not in _KNOWN:
            return self._emit("AT_COMMAND_NOT_FOUND")
        if arg == "?":
            return self._read(name)
        if name == "JOIN":
            return self._join(arg)
        if name == "SEND":
            return self._send(arg)
        return self._set(name, arg)

    def _read(self, name):
        if name == "APPKEY" and self.w.faults.get("modem") == "appkey_write_only":
            # a RUI3 build whose AT_APPKEY_PERM lacks READ: atcmd.c answers a read with AT_PARAM_ERROR
            return self._emit("AT_PARAM_ERROR")
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
        elif name == "JOIN":
            value = "%d:%d:%d:%d" % tuple(self.join_params)
        elif name in self.cfg:
            value = str(self.cfg[name])
        else:
            return self._emit("AT_ERROR")
        self._emit(f"AT+{name}={value}")
        self._emit("OK")

    def _set(self, name, arg):
        if name in ("DEVEUI", "APPEUI"):
            ok = _is_hex(arg, 16)
            arg = arg.upper()  # read back as %02X (atcmd_key_id.c dump_hex2str)
        elif name == "APPKEY":
            ok = _is_hex(arg, 32)
            arg = arg.upper()
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
        self.flash_writes += 1  # even when the value is the same one (service_nvm_common.c)
        self._emit("OK")

    def _join(self, arg):
        parts = arg.split(":")
        if len(parts) > 4 or not all(p.isdigit() for p in parts):
            return self._emit("AT_PARAM_ERROR")
        val = [int(p) for p in parts]
        bounds = ((0, 1), (0, 1), (7, 255), (0, 255))  # At_Join's checks
        if any(not bounds[i][0] <= v <= bounds[i][1] for i, v in enumerate(val)):
            return self._emit("AT_PARAM_ERROR")
        if time.now_us() < self._busy_until:
            return self._emit("AT_BUSY_ERROR")
        if not (self.cfg["DEVEUI"] and self.cfg["APPEUI"] and self.cfg["APPKEY"]):
            return self._emit("AT_ERROR")
        for i, v in enumerate(val):  # service_lora_join: each field written to flash when it differs
            if v != self.join_params[i]:
                self.join_params[i] = v
                self.flash_writes += 1
        self._emit("OK")
        if val[0] == 0:
            return
        _, _, period, max_cnt = self.join_params
        t_us = 0
        tries = 0
        time_saved = time.now_us()
        while True:  # MlmeConfirm: retry after `period` s while ++count <= max_cnt
            self.join_requests += 1
            ok = self.w.join(self.cfg["APPEUI"])
            self.w.cycle_tx_ms += airtime.time_on_air_ms(23 - 13, 12)  # join-request: 23 bytes PHY at SF12
            time.set_us(time_saved)
            if ok:
                self.joined = True
                self.fcnt = 0
                self._evt("JOINED", t_us + _JOIN_US)
                break
            self._evt("JOIN_FAILED_RX_TIMEOUT", t_us + _JOIN_US)
            tries += 1
            if tries > max_cnt:
                break
            t_us += _JOIN_US + period * 1000000
        self._busy_until = time_saved + t_us + _JOIN_US

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
        sf = airtime.sf_for_dr(dr)
        wait_ms = self._duty_cycle_wait(airtime.time_on_air_ms(len(data) + self.mac_pending, sf))
        if wait_ms:
            self._emit("Restricted_Wait_%d_ms" % wait_ms)
            return self._emit("AT_BUSY_ERROR")
        if len(data) + self.mac_pending > airtime.max_payload(dr):
            return self._mac_only_frame(sf)
        self._emit("OK")
        self.fcnt += 1
        confirmed = bool(self.cfg["CFM"])
        toa_ms = airtime.time_on_air_ms(len(data) + self.mac_pending, sf)
        self._spend(toa_ms)
        if not self.w.radio.get("mac_sticky"):
            self.mac_pending = 0  # the answers went out in this frame's FOpts
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
            self.mac_pending = 0  # a downlink ends sticky answers
            self._evt(
                "RX_1:%d:%d:UNICAST:%d:%s"
                % (dl["rssi"], dl["snr"], dl["fport"], hexlify(dl["data"]).decode()),
                rx_us,
            )
        self._evt(done, done_us)

    def _duty_cycle_wait(self, toa_ms):
        """ms until the band may send `toa_ms` on air, 0 if it may now (RegionCommonUpdateBandTimeOff)."""
        now = time.now_us()
        start, credits = self.dc
        if not start or now - start >= _DC_WINDOW_US:
            self.dc = [now, _DC_CREDITS_MS]
            return 0
        if credits > toa_ms:
            return 0
        return (start + _DC_WINDOW_US - now) // 1000 + 1

    def _spend(self, toa_ms):
        self.w.cycle_tx_ms += toa_ms
        self.dc[1] = max(0, self.dc[1] - toa_ms)  # RegionCommonSetBandTxDone

    def _mac_only_frame(self, sf):
        """service_lora_send when the payload does not fit: an empty frame carries the MAC answers."""
        self._emit("AT_PARAM_ERROR")
        self.fcnt += 1
        self.mac_frames += 1
        toa_ms = airtime.time_on_air_ms(self.mac_pending, sf)
        self._spend(toa_ms)
        done_us = int(toa_ms * 1000) + _RX2_END_US
        self._busy_until = time.now_us() + done_us
        if not self.w.radio.get("mac_sticky"):
            self.mac_pending = 0
        self._evt("TX_DONE", done_us)
