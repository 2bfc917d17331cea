"""Semtech SX1262 LoRa driver, written from the SX1261/2 datasheet (rev 2.1, DS.SX1261-2.W.APP).

API shaped like micropython-lib's `lora` modems (configure(lora_cfg), send(packet, tx_at_ms=None) ->
ticks_ms at TX end, recv(timeout_ms) -> RxPacket or None), so micropython-lib's lora-sx126x can be used
instead (firmware/node/radio/README.md). Pins and bus are passed in; board data says which are wired.

Datasheet points this follows: BUSY must be low before NSS falls (§8.3.1); a falling NSS wakes the chip
from sleep (SetSleep); TCXO supply on DIO3 before calibration (SetDIO3AsTCXOCtrl); DIO2 as RF switch
(SetDIO2AsRfSwitchCtrl); image calibration for 863–870 MHz (§9.2.1, Table 9-2: 0xD7 0xDB); LoRa sync
word 0x3444 for public networks in registers 0x0740/0x0741 (Table 12-1); SetRx timeout in 15.625 µs
steps with the timer stopped on the header (StopTimerOnPreamble 0); time on air §6.1.4; the errata of
chapter 15: §15.1 (0x0889 bit 2 per bandwidth), §15.2 (TX clamp 0x08D8), §15.3 (RX timeout event clear
0x0902/0x0944 after an RX with timeout), §15.4 (inverted IQ: 0x0736 bit 2 cleared).
"""

# ruff: noqa: UP031  (printf-style formatting: works on every MicroPython build)

import time

from micropython import const

TYPE_CHECKING = False
if TYPE_CHECKING:  # mypy only: MicroPython has no typing module
    from typing import Any

# opcodes (datasheet Table 11-1..11-5)
_SET_SLEEP = const(0x84)
_SET_STANDBY = const(0x80)
_SET_TX = const(0x83)
_SET_RX = const(0x82)
_STOP_TIMER_ON_PREAMBLE = const(0x9F)
_SET_REGULATOR_MODE = const(0x96)
_CALIBRATE = const(0x89)
_CALIBRATE_IMAGE = const(0x98)
_SET_PA_CONFIG = const(0x95)
_WRITE_REGISTER = const(0x0D)
_READ_REGISTER = const(0x1D)
_WRITE_BUFFER = const(0x0E)
_READ_BUFFER = const(0x1E)
_SET_DIO_IRQ_PARAMS = const(0x08)
_GET_IRQ_STATUS = const(0x12)
_CLEAR_IRQ_STATUS = const(0x02)
_SET_DIO2_AS_RF_SWITCH = const(0x9D)
_SET_DIO3_AS_TCXO = const(0x97)
_SET_RF_FREQUENCY = const(0x86)
_SET_PACKET_TYPE = const(0x8A)
_SET_TX_PARAMS = const(0x8E)
_SET_MODULATION_PARAMS = const(0x8B)
_SET_PACKET_PARAMS = const(0x8C)
_SET_BUFFER_BASE = const(0x8F)
_GET_STATUS = const(0xC0)
_GET_RX_BUFFER_STATUS = const(0x13)
_GET_PACKET_STATUS = const(0x14)
_GET_DEVICE_ERRORS = const(0x17)
_CLEAR_DEVICE_ERRORS = const(0x07)

# IRQ bits (Table 13-29)
IRQ_TX_DONE = const(0x0001)
IRQ_RX_DONE = const(0x0002)
IRQ_HEADER_ERR = const(0x0020)
IRQ_CRC_ERR = const(0x0040)
IRQ_TIMEOUT = const(0x0200)

# registers (Table 12-1) and errata addresses (§15)
REG_SYNC_WORD = const(0x0740)
_REG_IQ_POLARITY = const(0x0736)
_REG_TX_CLAMP = const(0x08D8)
_REG_SENSITIVITY = const(0x0889)
_REG_RTC_CTRL = const(0x0902)
_REG_EVT_CLR = const(0x0944)

_BW = {125: 0x04, 250: 0x05, 500: 0x06}
_TCXO_MV = (1600, 1700, 1800, 2200, 2400, 2700, 3000, 3300)  # Table 13-35
_BUSY_TIMEOUT_US = const(20000)


class RadioError(OSError):
    """The chip did not answer as the datasheet says (BUSY stuck, wrong status, device error)."""


class RxPacket(bytearray):
    """A received frame: the payload bytes plus ticks_ms (RX done), rssi (dBm), snr (dB × 4), crc_error.

    Same attributes as micropython-lib's lora.RxPacket."""

    ticks_ms: "Any" = 0  # a time.ticks_ms() value
    rssi = 0
    snr = 0
    crc_error = False


class PinSwitch:
    """An antenna switch/LNA supply on one pin (e.g. RAK13300 RXEN), with the ant_sw interface of
    micropython-lib: tx(), rx(), idle()."""

    def __init__(self, pin, tx_level=1, rx_level=1):
        self.pin = pin
        self.levels = (tx_level, rx_level)

    def tx(self):
        self.pin(self.levels[0])

    def rx(self):
        self.pin(self.levels[1])

    def idle(self):
        self.pin(0)


class SX1262:
    def __init__(
        self,
        spi,
        cs,
        busy,
        dio1,
        reset=None,
        dio2_rf_sw=True,
        dio3_tcxo_millivolts=None,
        dio3_tcxo_start_time_us=5000,
        ant_sw=None,
        lora_cfg=None,
    ):
        self.spi = spi
        self.cs = cs
        self.busy = busy
        self.dio1 = dio1
        self.ant_sw = ant_sw
        self._cmd_buf = bytearray(10)
        self._irq_ticks = None
        self._asleep = False
        self._cfg = {
            "freq_khz": 868100,
            "sf": 7,
            "bw": 125,
            "coding_rate": 5,
            "preamble_len": 8,
            "implicit_header": False,
            "crc_en": True,
            "invert_iq_tx": False,
            "invert_iq_rx": False,
            "output_power": 14,
            "syncword": 0x34,
        }
        cs(1)
        if reset is not None:
            reset(0)
            time.sleep_ms(1)  # NRESET low ≥ 100 µs (§8.1)
            reset(1)
            time.sleep_ms(5)
        self._wait_busy()
        self._cmd(_SET_STANDBY, 0)  # STDBY_RC
        if (self.status() >> 4) & 7 != 2:
            raise RadioError("SX1262 not in STDBY_RC after reset: status %02x" % self.status())
        if dio3_tcxo_millivolts:
            volt = 0
            while volt < 7 and _TCXO_MV[volt + 1] <= dio3_tcxo_millivolts:
                volt += 1
            delay = (dio3_tcxo_start_time_us * 64 + 999) // 1000  # 15.625 µs steps
            self._cmd(_SET_DIO3_AS_TCXO, volt, delay >> 16, (delay >> 8) & 0xFF, delay & 0xFF)
        self._cmd(_SET_REGULATOR_MODE, 1)  # DC-DC (§13.1.11)
        self._cmd(_CALIBRATE, 0x7F)  # all blocks, after the TCXO is on (§13.1.12)
        time.sleep_ms(4)
        self._wait_busy()
        self._cmd(_CLEAR_DEVICE_ERRORS, 0, 0)  # XOSC_START_ERR is expected once the TCXO is enabled
        if dio2_rf_sw:
            self._cmd(_SET_DIO2_AS_RF_SWITCH, 1)
        self._cmd(_SET_PACKET_TYPE, 1)  # LoRa
        self._cmd(_CALIBRATE_IMAGE, 0xD7, 0xDB)  # 863-870 MHz
        time.sleep_ms(4)
        self._wait_busy()
        self._cmd(_SET_BUFFER_BASE, 0, 0)
        self._cmd(_STOP_TIMER_ON_PREAMBLE, 0)  # RX timeout stops on header: a started frame completes
        mask = IRQ_TX_DONE | IRQ_RX_DONE | IRQ_TIMEOUT | IRQ_CRC_ERR | IRQ_HEADER_ERR
        dio1_mask = IRQ_TX_DONE | IRQ_RX_DONE | IRQ_TIMEOUT
        self._cmd(_SET_DIO_IRQ_PARAMS, mask >> 8, mask & 0xFF, dio1_mask >> 8, dio1_mask & 0xFF, 0, 0, 0, 0)
        clamp = self.read_register(_REG_TX_CLAMP)[0]
        self.write_register(_REG_TX_CLAMP, clamp | 0x1E)  # errata §15.2
        if hasattr(dio1, "irq"):
            dio1.irq(self._isr, 1)  # rising edge
        self._configured = False
        self.configure(lora_cfg or {})

    # -- SPI ---------------------------------------------------------------------------------------
    def _isr(self, _pin):
        self._irq_ticks = time.ticks_ms()

    def _wait_busy(self):
        start = time.ticks_us()
        while self.busy():
            if time.ticks_diff(time.ticks_us(), start) > _BUSY_TIMEOUT_US:
                raise RadioError("SX1262 BUSY stuck high")
            time.sleep_us(50)

    def _wake(self):
        if self._asleep:
            self.cs(0)  # a falling NSS wakes the chip (§13.1.1); this transaction carries no command
            self._wait_busy()
            self.cs(1)
            self._asleep = False
            self._wait_busy()

    def _xfer(self, out, n_read=0):
        """One NSS-framed transaction after BUSY is low; returns the n_read bytes clocked in after `out`."""
        self._wake()
        self._wait_busy()
        self.cs(0)
        try:
            self.spi.write(out)
            res = None
            if n_read:
                res = bytearray(n_read)
                self.spi.readinto(res, 0)
        finally:
            self.cs(1)
        return res

    def _cmd(self, opcode, *args):
        b = self._cmd_buf
        b[0] = opcode
        for i in range(len(args)):
            b[1 + i] = args[i]
        self._xfer(memoryview(b)[: 1 + len(args)])

    def _get(self, opcode, n):
        """A Get command: opcode, NOP (status comes back), then n bytes."""
        r = self._xfer(bytes((opcode, 0)), n)
        return r

    def status(self):
        return self._xfer(bytes((_GET_STATUS,)), 1)[0]

    def read_register(self, addr, n=1):
        return self._xfer(bytes((_READ_REGISTER, addr >> 8, addr & 0xFF, 0)), n)

    def write_register(self, addr, data):
        if isinstance(data, int):
            data = bytes((data,))
        self._xfer(bytes((_WRITE_REGISTER, addr >> 8, addr & 0xFF)) + bytes(data))

    def device_errors(self):
        e = self._get(_GET_DEVICE_ERRORS, 2)
        return (e[0] << 8) | e[1]

    def _irq_status(self):
        r = self._get(_GET_IRQ_STATUS, 2)
        return (r[0] << 8) | r[1]

    def _clear_irq(self):
        self._cmd(_CLEAR_IRQ_STATUS, 0xFF, 0xFF)

    # -- configuration -----------------------------------------------------------------------------
    def configure(self, lora_cfg):
        """Apply micropython-lib-style keys: freq_khz, sf, bw, coding_rate, preamble_len, implicit_header,
        crc_en, invert_iq_tx, invert_iq_rx, output_power, syncword. Unknown keys are ignored."""
        cfg = self._cfg
        first = not self._configured
        for k in lora_cfg:
            cfg[k] = lora_cfg[k]
        if first or "freq_khz" in lora_cfg:
            rf = (
                (int(cfg["freq_khz"]) * 1000 << 25) + 16000000
            ) // 32000000  # SetRfFrequency: Fxtal/2^25 steps
            self._cmd(_SET_RF_FREQUENCY, rf >> 24, (rf >> 16) & 0xFF, (rf >> 8) & 0xFF, rf & 0xFF)
        if first or "sf" in lora_cfg or "bw" in lora_cfg or "coding_rate" in lora_cfg:
            sf, bw = cfg["sf"], cfg["bw"]
            if bw not in _BW or not 5 <= sf <= 12:
                raise ValueError("sf/bw")
            ldro = 1 if (1 << sf) // bw >= 16 else 0  # symbol ≥ 16.38 ms (§6.1.1.4)
            self._cmd(_SET_MODULATION_PARAMS, sf, _BW[bw], cfg["coding_rate"] - 4, ldro)
            sens = self.read_register(_REG_SENSITIVITY)[0]
            self.write_register(_REG_SENSITIVITY, (sens & 0xFB) if bw == 500 else (sens | 0x04))  # §15.1
        if first or "output_power" in lora_cfg:
            power = max(-9, min(22, cfg["output_power"]))
            self._cmd(_SET_PA_CONFIG, 0x04, 0x07, 0x00, 0x01)  # SX1262 up to +22 dBm (Table 13-21)
            self._cmd(_SET_TX_PARAMS, power & 0xFF, 0x04)  # 200 µs ramp
        if first or "syncword" in lora_cfg:
            sw = cfg["syncword"]
            if sw < 0x100:
                sw = ((sw & 0xF0) << 8) | ((sw & 0x0F) << 4) | 0x0404  # 0x34 -> 0x3444
            self.write_register(REG_SYNC_WORD, bytes((sw >> 8, sw & 0xFF)))
        self._configured = True

    def _packet_params(self, length, invert):
        cfg = self._cfg
        pre = cfg["preamble_len"]
        self._cmd(
            _SET_PACKET_PARAMS,
            pre >> 8,
            pre & 0xFF,
            1 if cfg["implicit_header"] else 0,
            length,
            1 if cfg["crc_en"] else 0,
            1 if invert else 0,
        )
        iq = self.read_register(_REG_IQ_POLARITY)[0]
        self.write_register(_REG_IQ_POLARITY, (iq & 0xFB) if invert else (iq | 0x04))  # errata §15.4

    def time_on_air_us(self, n):
        """§6.1.4 for SF7-12: (preamble + 4.25 + 8 + ceil(...)·(CR+4)) symbols."""
        cfg = self._cfg
        sf, bw = cfg["sf"], cfg["bw"]
        ldro = 1 if (1 << sf) // bw >= 16 else 0
        num = 8 * n + (16 if cfg["crc_en"] else 0) - 4 * sf + 8 + (0 if cfg["implicit_header"] else 20)
        den = 4 * (sf - 2 * ldro)
        blocks = (num + den - 1) // den if num > 0 else 0
        sym_x4 = 4 * cfg["preamble_len"] + 17 + 32 + 4 * blocks * (cfg["coding_rate"])
        return sym_x4 * ((1 << sf) * 1000 // bw) // 4

    # -- operations --------------------------------------------------------------------------------
    def _wait_irq(self, deadline_ms, bits, step_ms=1):
        """Poll DIO1 (its interrupt, when wired, has already stamped the event time in _isr)."""
        while True:
            if self.dio1():
                flags = self._irq_status()
                if flags & bits:
                    return flags
            if time.ticks_diff(deadline_ms, time.ticks_ms()) < 0:
                return 0
            time.sleep_ms(step_ms)

    def send(self, packet, tx_at_ms=None):
        """Transmit; returns time.ticks_ms() at TX done (from the DIO1 interrupt when it is wired)."""
        n = len(packet)
        if n > 255:
            raise ValueError("packet over 255 bytes")
        self._cmd(_SET_STANDBY, 0)
        self._packet_params(n, self._cfg["invert_iq_tx"])
        self._xfer(bytes((_WRITE_BUFFER, 0)) + bytes(packet))
        self._clear_irq()
        if tx_at_ms is not None:
            wait = time.ticks_diff(tx_at_ms, time.ticks_ms())
            if wait > 0:
                time.sleep_ms(wait)
        if self.ant_sw:
            self.ant_sw.tx()
        self._irq_ticks = None
        self._cmd(_SET_TX, 0, 0, 0)  # no chip timeout: the host deadline below catches a hang
        toa_ms = self.time_on_air_us(n) // 1000
        if toa_ms > 3:
            time.sleep_ms(toa_ms - 2)
        flags = self._wait_irq(time.ticks_add(time.ticks_ms(), 100 + toa_ms // 4), IRQ_TX_DONE)
        done = self._irq_ticks if self._irq_ticks is not None else time.ticks_ms()
        if self.ant_sw:
            self.ant_sw.idle()
        if not flags & IRQ_TX_DONE:
            raise RadioError("no TxDone (device errors %04x)" % self.device_errors())
        self._clear_irq()
        return done

    def recv(self, timeout_ms=None, rx_length=0xFF, rx_packet=None):
        """Single receive: the packet, or None when no header was detected within timeout_ms (None =
        wait without a chip timeout). A frame whose header arrived in time is received to its end."""
        self._cmd(_SET_STANDBY, 0)
        self._packet_params(rx_length, self._cfg["invert_iq_rx"])
        self._clear_irq()
        if self.ant_sw:
            self.ant_sw.rx()
        steps = 0 if timeout_ms is None else min(0xFFFFFE, max(1, timeout_ms * 64))  # 15.625 µs
        self._irq_ticks = None
        self._cmd(_SET_RX, steps >> 16, (steps >> 8) & 0xFF, steps & 0xFF)
        # a header found just before the timeout still needs the whole frame: allow the longest one
        guard = 0 if timeout_ms is None else timeout_ms + 6000
        deadline = time.ticks_add(time.ticks_ms(), guard if guard else 3600000)
        flags = self._wait_irq(deadline, IRQ_RX_DONE | IRQ_TIMEOUT, 5)
        if timeout_ms is not None:
            # errata §15.3: stop the RTC and clear its event after any RX with a timeout
            self.write_register(_REG_RTC_CTRL, 0)
            self.write_register(_REG_EVT_CLR, self.read_register(_REG_EVT_CLR)[0] | 0x02)
        if self.ant_sw:
            self.ant_sw.idle()
        if not flags & IRQ_RX_DONE:
            self._cmd(_SET_STANDBY, 0)
            self._clear_irq()
            return None
        st = self._get(_GET_RX_BUFFER_STATUS, 2)
        n, start = st[0], st[1]
        pkt = RxPacket(self._xfer(bytes((_READ_BUFFER, start, 0)), n) if n else b"")
        ps = self._get(_GET_PACKET_STATUS, 3)
        pkt.ticks_ms = self._irq_ticks if self._irq_ticks is not None else time.ticks_ms()
        pkt.rssi = -ps[0] // 2
        pkt.snr = ps[1] - 256 if ps[1] > 127 else ps[1]
        pkt.crc_error = bool(flags & (IRQ_CRC_ERR | IRQ_HEADER_ERR))
        self._clear_irq()
        return pkt

    def standby(self):
        self._cmd(_SET_STANDBY, 0)

    def sleep(self, warm_start=True):
        """Sleep (§13.1.1): warm start keeps the configuration; the next command wakes the chip."""
        self._cmd(_SET_SLEEP, 0x04 if warm_start else 0x00)
        self._asleep = True
