"""RAK3172 (RUI3 firmware) LoRaWAN modem over UART AT commands (reference: rui3-at.md).

The LoRaWAN stack lives in the modem; this driver only talks AT. Asynchronous `+EVT:` lines can arrive at
any time, in any order, in both the current (`JOIN_FAILED_RX_TIMEOUT`) and the older spaced spelling
(`JOIN FAILED`), so every line read anywhere goes through one event parser. A modem that stops answering
is reset (NRST pin if the board wires it, `ATZ` otherwise) and re-configured by the caller.
"""

# ruff: noqa: UP031  (printf-style formatting: works on every MicroPython build, f-strings need MICROPY_PY_FSTRINGS)

import time
from binascii import hexlify, unhexlify

from micropython import const

_POLL_MS = const(5)
_CMD_TIMEOUT_MS = const(1500)
_JOIN_TIMEOUT_MS = const(20000)
_TX_TIMEOUT_MS = const(12000)
_BUSY_RETRIES = const(3)
_BUSY_WAIT_MS = const(2000)


class ModemError(Exception):
    """The modem answered with an AT_* status line (str(e) is that line)."""


class ModemSilent(ModemError):
    """No answer within the timeout: hung, unpowered or miswired."""


class NotJoined(ModemError):
    """AT_NO_NETWORK_JOINED: the session is gone, join again."""


def _norm(line):
    # "+EVT: SEND CONFIRMED OK" -> "SEND_CONFIRMED_OK"; payload parts keep their case.
    return line[5:].strip().replace(" ", "_")


class Rui3:
    def __init__(self, uart, reset_pin=None):
        self._uart = uart
        self._reset = reset_pin
        self._rx = bytearray()
        self.exchanges = 0  # AT commands sent (a figure of the energy spent talking)
        self.rssi = None
        self.snr = None
        self._clear()

    def _clear(self):
        self.joined_evt = None  # True joined, False failed, None nothing yet
        self.tx_done = False
        self.acked = None
        self.downlink = None  # (fport, bytes) from +EVT:RX_ or AT+RECV

    # -- lines -----------------------------------------------------------------------------------------
    def _readline(self, deadline):
        while True:
            i = self._rx.find(b"\n")
            if i >= 0:
                line = bytes(self._rx[:i]).decode().strip()
                self._rx = self._rx[i + 1 :]
                if line:
                    return line
                continue
            if time.ticks_diff(deadline, time.ticks_ms()) <= 0:
                return None
            n = self._uart.any()
            if n:
                self._rx += self._uart.read(n)
            else:
                time.sleep_ms(_POLL_MS)

    def _event(self, line):
        evt = _norm(line)
        if evt == "JOINED":
            self.joined_evt = True
        elif evt.startswith("JOIN_FAILED"):
            self.joined_evt = False
        elif evt.startswith("TX_DONE"):
            self.tx_done = True
        elif evt.startswith("SEND_CONFIRMED_OK"):
            self.tx_done = True
            self.acked = True
        elif evt.startswith("SEND_CONFIRMED_FAILED"):
            self.tx_done = True
            self.acked = False
        elif evt.startswith("RX_"):
            # RX_1:-70:8:UNICAST:10:0a0b
            parts = evt.split(":")
            if len(parts) >= 5:
                try:
                    self.rssi = int(parts[1])
                    self.snr = int(parts[2])
                    port = int(parts[4])
                    data = unhexlify(parts[5]) if len(parts) > 5 else b""
                except ValueError:
                    return
                if port:
                    self.downlink = (port, data)

    def pump(self, ms):
        """Read lines for `ms`, parsing events (waiting for an asynchronous result)."""
        deadline = time.ticks_add(time.ticks_ms(), ms)
        while True:
            line = self._readline(deadline)
            if line is None:
                return
            if line.startswith("+EVT"):
                self._event(line)

    def command(self, cmd, timeout_ms=_CMD_TIMEOUT_MS):
        """Send one AT command; the answer lines before OK. AT_* raise ModemError, silence ModemSilent."""
        self.exchanges += 1
        self._uart.write(cmd + "\r\n")
        deadline = time.ticks_add(time.ticks_ms(), timeout_ms)
        lines = []
        while True:
            line = self._readline(deadline)
            if line is None:
                raise ModemSilent("no answer to " + cmd)
            if line.startswith("+EVT"):
                self._event(line)
            elif line == "OK":
                return lines
            elif line.startswith("AT_"):
                if line == "AT_NO_NETWORK_JOINED":
                    raise NotJoined(line)
                raise ModemError(line)
            elif line != cmd:  # echo off by default; tolerate it on
                lines.append(line)

    def query(self, name):
        """Value of `AT+NAME=?` (both `AT+NAME=v` and the bare value forms)."""
        lines = self.command("AT+" + name + "=?")
        value = lines[-1] if lines else ""
        prefix = "AT+" + name + "="
        return value[len(prefix) :] if value.startswith(prefix) else value

    # -- lifecycle -------------------------------------------------------------------------------------
    def alive(self):
        try:
            self.command("AT", 500)
            return True
        except ModemError:
            return False

    def recover(self):
        """Reset a silent modem (NRST pulse, else ATZ) and wait for it to answer; True when it does."""
        self._rx = bytearray()
        if self._reset is not None:
            self._reset.value(0)
            time.sleep_ms(10)
            self._reset.value(1)
        else:
            self._uart.write("ATZ\r\n")
        time.sleep_ms(300)
        for _ in range(3):
            if self.alive():
                return True
            time.sleep_ms(500)
        return False

    def setup(self, dev_eui, join_eui, app_key, band, adr, data_rate, confirmed):
        """Identity, band, class and power mode; needed once per modem power-up or reset."""
        self.command("AT+NWM=1")
        self.command("AT+NJM=1")
        self.command("AT+BAND=%d" % band)
        self.command("AT+DEVEUI=" + dev_eui)
        self.command("AT+APPEUI=" + join_eui)
        self.command("AT+APPKEY=" + app_key)
        self.command("AT+CLASS=A")
        self.set_rate(adr, data_rate)
        self.set_confirmed(confirmed)
        self.command("AT+LPM=1")  # the modem sleeps whenever it is idle

    def set_rate(self, adr, data_rate):
        self.command("AT+ADR=%d" % (1 if adr else 0))
        if not adr:
            self.command("AT+DR=%d" % data_rate)

    def set_confirmed(self, confirmed):
        """Confirmed or unconfirmed uplinks; the modem keeps it, so it is set at setup and on change."""
        self.command("AT+CFM=%d" % (1 if confirmed else 0))

    def join(self, timeout_ms=_JOIN_TIMEOUT_MS):
        """One OTAA join attempt; True when +EVT:JOINED arrives. Backoff is the caller's (it persists it)."""
        self._clear()
        self.command("AT+JOIN=1:0:8:1")
        deadline = time.ticks_add(time.ticks_ms(), timeout_ms)
        while self.joined_evt is None and time.ticks_diff(deadline, time.ticks_ms()) > 0:
            self.pump(200)
        return bool(self.joined_evt)

    def send(self, fport, data):
        """Send one uplink and collect its downlink; True when it left (and, if confirmed, was acked).

        After TX_DONE the receive windows are over; AT+RECV=? is asked too, which catches a downlink whose
        +EVT:RX line was lost and marks it read so it is never handled twice.
        """
        self._clear()
        cmd = "AT+SEND=%d:%s" % (fport, hexlify(data).decode())
        for attempt in range(_BUSY_RETRIES + 1):
            try:
                self.command(cmd)
                break
            except NotJoined:
                raise
            except ModemSilent:
                raise
            except ModemError as e:
                if str(e) != "AT_BUSY_ERROR" or attempt == _BUSY_RETRIES:
                    raise
                time.sleep_ms(_BUSY_WAIT_MS)
        deadline = time.ticks_add(time.ticks_ms(), _TX_TIMEOUT_MS)
        while not self.tx_done and time.ticks_diff(deadline, time.ticks_ms()) > 0:
            self.pump(100)
        if not self.tx_done:
            raise ModemSilent("no TX_DONE for fPort %d" % fport)
        first = self.downlink
        answer = self.query("RECV")
        parts = answer.split(":", 1)
        try:
            if len(parts) == 2 and int(parts[0]):
                self.downlink = (int(parts[0]), unhexlify(parts[1]))
        except ValueError:
            pass
        if self.downlink is None:
            self.downlink = first
        return self.acked is not False
