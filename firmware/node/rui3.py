"""RAK3172 (RUI3 firmware) LoRaWAN modem over UART AT commands (reference: rui3-at.md).

The LoRaWAN stack lives in the modem; this driver only talks AT. Asynchronous `+EVT:` lines can arrive at
any time, in any order, in both the current (`JOIN_FAILED_RX_TIMEOUT`) and the older spaced spelling
(`JOIN FAILED`), so every line read anywhere goes through one event parser. A modem that stops answering
is reset (NRST pin if the board wires it, `ATZ` otherwise) and re-configured by the caller.

What the real RUI3 does and this driver allows for (RAK-STM32-RUI, RUI_5.0.0 source):
- line noise on the UART (any byte, not only UTF-8) is dropped, never raised;
- with AT+LPM=1 the first byte after the modem wakes can be corrupted (RAK forum): a throwaway `AT` wakes
  it first, and an `AT_COMMAND_NOT_FOUND` answer is retried once;
- every setter rewrites the modem's config flash (service_nvm_common.c: udrv_flash_write in each
  service_nvm_set_*): setup() reads and sets only what differs;
- `AT_BUSY_ERROR` after a `Restricted_Wait_<ms>_ms` line is the duty cycle (service_lora.c
  service_lora_send): the uplink waits for a later wake instead of hammering the modem;
- `AT_PARAM_ERROR` on AT+SEND means payload + pending MAC answers did not fit the data rate: RUI3 sent an
  empty frame carrying the answers (service_lora_send, LoRaMacQueryTxPossible) -> PayloadTooLong.
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
_WAKE_IDLE_MS = const(500)  # idle longer than this: the modem may be in LPM sleep, wake it first
_JOIN_ATTEMPTS = const(0)  # AT+JOIN's last field: RUI3 retries while its count <= this; 0 = one attempt


class ModemError(Exception):
    """The modem answered with an AT_* status line (str(e) is that line)."""


class ModemSilent(ModemError):
    """No answer within the timeout: hung, unpowered or miswired."""


class NotJoined(ModemError):
    """AT_NO_NETWORK_JOINED: the session is gone, join again."""


class DutyCycle(ModemError):
    """AT_BUSY_ERROR with RUI3's `Restricted_Wait_<ms>_ms`: the band is closed for wait_ms."""

    def __init__(self, wait_ms):
        super().__init__("AT_BUSY_ERROR (duty cycle, %d ms)" % wait_ms)
        self.wait_ms = wait_ms


class PayloadTooLong(ModemError):
    """AT_PARAM_ERROR on AT+SEND: payload + pending MAC answers over the data rate's limit; the modem
    has sent an empty frame carrying the MAC answers instead (and is ready again)."""


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
        self._last_ms = None  # ticks of the last line the modem sent: None = not talked to in this wake
        self.lines = []  # answer lines of the last command
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
                # printable ASCII only: a noise byte must never become a UnicodeError (AT answers are ASCII)
                line = bytes(b for b in self._rx[:i] if 31 < b < 127).decode().strip()
                self._rx = self._rx[i + 1 :]
                self._last_ms = time.ticks_ms()
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

    def _wake(self):
        """A throwaway `AT` to a modem that may sleep (AT+LPM=1): the first byte after its wake-up can be
        corrupted (RAK forum), so it must not be the first byte of a real command. Any answer will do."""
        last = self._last_ms
        if last is not None and time.ticks_diff(time.ticks_ms(), last) < _WAKE_IDLE_MS:
            return
        self.exchanges += 1
        self._uart.write("AT\r\n")
        deadline = time.ticks_add(time.ticks_ms(), 200)
        while True:
            line = self._readline(deadline)
            if line is None or line == "OK" or line.startswith("AT_"):
                self._last_ms = time.ticks_ms()  # silence is the next command's to find out
                return
            if line.startswith("+EVT"):
                self._event(line)

    def command(self, cmd, timeout_ms=_CMD_TIMEOUT_MS):
        """Send one AT command; the answer lines before OK. AT_* raise ModemError, silence ModemSilent.

        The lines before an AT_* answer stay in self.lines (RUI3 prints `Restricted_Wait_<ms>_ms` there).
        """
        self._wake()
        for attempt in range(2):
            self.exchanges += 1
            self._uart.write(cmd + "\r\n")
            deadline = time.ticks_add(time.ticks_ms(), timeout_ms)
            lines = self.lines = []
            while True:
                line = self._readline(deadline)
                if line is None:
                    raise ModemSilent("no answer to " + cmd)
                if line.startswith("+EVT"):
                    self._event(line)
                elif line == "OK":
                    return lines
                elif line.startswith("AT_"):
                    break
                elif line != cmd:  # echo off by default; tolerate it on
                    lines.append(line)
            if line != "AT_COMMAND_NOT_FOUND" or attempt:
                break
            # a command we know: its first byte met a waking modem; it is awake now
        if line == "AT_NO_NETWORK_JOINED":
            raise NotJoined(line)
        raise ModemError(line)

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
        self._last_ms = time.ticks_ms()  # a modem fresh out of reset is awake
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

    # setup(), ensure(), set_rate() and set_confirmed() live in node/rui3_setup.py: used at a join and on a
    # config change only, so a cycle's radio work does not carry their code (64 KB heap)

    def join(self, timeout_ms=_JOIN_TIMEOUT_MS):
        """One OTAA join attempt; True when +EVT:JOINED arrives. Backoff is the caller's (it persists it).

        RUI3 counts failed attempts and retries while the count <= AT+JOIN's last field (service_lora.c
        MlmeConfirm: `++auto_join_retry_cnt > service_lora_get_auto_join_max_cnt()` stops), so `:1` would
        be two attempts, the second one after this wake has given up and slept: its +EVT:JOINED lost and
        its airtime wasted. `:0` is exactly one; the persisted back-off decides when the next one is.
        """
        self._clear()
        self.command("AT+JOIN=1:0:8:%d" % _JOIN_ATTEMPTS)
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
                answer = str(e)
                if answer == "AT_PARAM_ERROR":
                    # RUI3 sent an empty frame with the MAC answers instead: wait for its TX_DONE (the
                    # modem is busy until its receive windows end), then let the caller send less
                    self._wait_tx()
                    raise PayloadTooLong(answer) from None
                if answer != "AT_BUSY_ERROR":
                    raise
                wait_ms = _restricted_wait(self.lines)
                if wait_ms is not None:  # the duty cycle: do not hammer, try again on a later wake
                    raise DutyCycle(wait_ms) from None
                if attempt == _BUSY_RETRIES:
                    raise
                time.sleep_ms(_BUSY_WAIT_MS)  # the MAC is still busy (receive windows)
        if not self._wait_tx():
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

    def _wait_tx(self):
        """Pump until the uplink's TX_DONE / SEND_CONFIRMED_*; False when none came."""
        deadline = time.ticks_add(time.ticks_ms(), _TX_TIMEOUT_MS)
        while not self.tx_done and time.ticks_diff(deadline, time.ticks_ms()) > 0:
            self.pump(100)
        return self.tx_done


def _restricted_wait(lines):
    """ms from RUI3's `Restricted_Wait_<ms>_ms` line (printed before AT_BUSY_ERROR), else None."""
    for line in lines:
        if line.startswith("Restricted_Wait_"):
            try:
                return int(line[16:].split("_")[0])
            except ValueError:
                return 0
    return None
