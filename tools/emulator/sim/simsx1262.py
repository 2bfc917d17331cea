"""A Semtech SX1262 at the SPI-command level, on simair's air and the simulated clock.

What the driver sees is what the chip does (SX1261/2 datasheet rev 2.1): NSS-framed commands decoded by
opcode, BUSY high while a command is processed (and during wake-up from sleep; a command sent while BUSY
is high is lost and counted in `busy_violations`), a 256-byte data buffer, IRQ status bits and DIO1
mapped through SetDioIrqParams, GetStatus/GetRxBufferStatus/GetPacketStatus, registers with their reset
values (sync word 0x1424 at 0x0740). Documented behaviours modelled because drivers get them wrong:
- TCXO boards: TX/RX before SetDIO3AsTCXOCtrl fail with XOSC_START_ERR (device error bit 5), no IRQ.
- DIO2 RF switch boards: without SetDIO2AsRfSwitchCtrl the PA never reaches the antenna (nothing on air).
- Sync word: a receiver only hears frames with its own sync word; public LoRaWAN is 0x3444.
- Errata §15.4: with inverted IQ the chip loses frames unless 0x0736 bit 2 is cleared.
- RX timeout: counts in 15.625 µs steps, stops on header detection (StopTimerOnPreamble 0), so a frame
  whose header arrives in time is received to the end; time on air per §6.1.4 (simair).
"""

import time

import simair

_BUSY_US = 20  # typical command processing (datasheet Table 8-2: most commands a few µs to tens of µs)
_BUSY_LONG_US = {0x89: 3500, 0x98: 3500, 0x80: 50}  # Calibrate, CalibrateImage, SetStandby
_WAKE_US = 3500  # warm start from sleep
_TX_RAMP_US = 250  # standby -> TX (PLL lock and PA ramp)
_RX_START_US = 100

_ERR_XOSC_START = 0x0020
_BW = {0x04: 125, 0x05: 250, 0x06: 500}


class _Pin:
    def __init__(self, chip, name):
        self.chip = chip
        self.name = name
        self.handler = None

    def __call__(self, v=None):
        return self.value(v)

    def value(self, v=None):
        if v is None:
            return self.chip.level(self.name)
        self.chip.drive(self.name, 1 if v else 0)
        return None

    def init(self, *a, **k):
        pass

    def irq(self, handler=None, trigger=1):
        self.handler = handler


class _Spi:
    def __init__(self, chip):
        self.chip = chip

    def write(self, data):
        self.chip.clock_in(bytes(data))

    def readinto(self, buf, write_byte=0):
        self.chip.clock_out(buf)

    def write_readinto(self, out, buf):
        self.chip.clock_in(bytes(out))
        self.chip.clock_out(buf)


class SimSX1262:
    def __init__(self, air, tcxo=True, dio2_rf_switch=True, rssi=-90, snr=5):
        self.air = air
        self.needs_tcxo = tcxo
        self.needs_dio2 = dio2_rf_switch
        self.spi = _Spi(self)
        self.pins = {n: _Pin(self, n) for n in ("cs", "busy", "dio1", "reset", "rxen")}
        self.busy_violations = 0
        self.commands = []  # opcodes in order (tests look at sequences)
        self._reset()

    def _reset(self):
        self.mode = "stdby_rc"
        self.busy_until = time.now_us() + 200  # after NRESET: BUSY high during start-up
        self.regs = {0x0740: 0x14, 0x0741: 0x24, 0x0736: 0x0D, 0x08D8: 0x18, 0x0889: 0x00, 0x0944: 0x00}
        self.buffer = bytearray(256)
        self.irq = 0
        self.irq_mask = 0
        self.dio1_mask = 0
        self.errors = 0
        self.tcxo = False
        self.dio2_sw = False
        self.freq_hz = 0
        self.sf, self.bw, self.cr, self.ldro = 7, 125, 1, 0
        self.preamble, self.implicit, self.length, self.crc, self.invert = 8, 0, 0, 1, 0
        self.tx_base = self.rx_base = 0
        self.power = 0
        self.packet_type = 0
        self.rx_len = 0
        self.rx_start = 0
        self.pkt_status = (0, 0, 0)
        self.event = None  # (time_us, kind, frame)
        self.cmd_status = 0
        self.nss = 1
        self.tx_in = bytearray()
        self.out = b""
        self.out_pos = 0
        self.dropped = False

    # -- pins --------------------------------------------------------------------------------------
    def level(self, name):
        self._advance()
        if name == "busy":
            return 1 if time.now_us() < self.busy_until else 0
        if name == "dio1":
            return 1 if self.irq & self.dio1_mask else 0
        return 0

    def drive(self, name, level):
        if name == "reset":
            if not level:
                self._reset()
                self.mode = "reset"
            elif self.mode == "reset":
                self.mode = "stdby_rc"
                self.busy_until = time.now_us() + _WAKE_US  # start-up after NRESET
            return
        if name != "cs":
            return
        self._advance()
        if self.nss and not level:  # NSS falling
            self.tx_in = bytearray()
            self.out = b""
            self.out_pos = 0
            self.dropped = False
            if self.mode == "sleep":
                self.mode = "stdby_rc"
                self.busy_until = time.now_us() + _WAKE_US
                self.dropped = True
            elif time.now_us() < self.busy_until:
                self.busy_violations += 1
                self.dropped = True
        elif not self.nss and level:  # NSS rising: the command executes
            if not self.dropped and self.tx_in:
                self._execute(bytes(self.tx_in))
        self.nss = level

    def clock_in(self, data):
        if self.nss:
            raise OSError("SPI transfer with NSS high")
        self.tx_in += data
        if len(self.tx_in) == len(data):
            self._prepare_reply()

    def clock_out(self, buf):
        for i in range(len(buf)):
            pos = self.out_pos
            buf[i] = self.out[pos] if pos < len(self.out) else 0
            self.out_pos += 1
        self.tx_in += bytes(len(buf))

    def _status(self):
        modes = {"stdby_rc": 2, "stdby_xosc": 3, "fs": 4, "rx": 5, "tx": 6}
        return (modes.get(self.mode, 2) << 4) | (self.cmd_status << 1)

    def _prepare_reply(self):
        """Bytes the chip shifts out during a Get/Read command, right after the opcode bytes the driver
        wrote (it reads them with readinto while clocking NOPs)."""
        d = self.tx_in
        op = d[0]
        st = self._status()
        if op == 0xC0:
            self.out = bytes((st,))
        elif op == 0x1D and len(d) >= 4:
            addr = (d[1] << 8) | d[2]
            self.out = bytes([self.regs.get(addr + i, 0) for i in range(64)])
        elif op == 0x1E and len(d) >= 3:
            off = d[1]
            self.out = bytes(self.buffer[off:]) + bytes(self.buffer[:off])
        elif op == 0x12:
            self.out = bytes((self.irq >> 8, self.irq & 0xFF))
        elif op == 0x13:
            self.out = bytes((self.rx_len, self.rx_start))
        elif op == 0x14:
            self.out = bytes(self.pkt_status)
        elif op == 0x17:
            self.out = bytes((self.errors >> 8, self.errors & 0xFF))
        else:
            self.out = b""

    # -- commands ----------------------------------------------------------------------------------
    def _execute(self, d):
        op = d[0]
        a = d[1:]
        self.commands.append(op)
        if len(self.commands) > 64:
            self.commands = self.commands[-32:]
        now = time.now_us()
        self.busy_until = now + _BUSY_LONG_US.get(op, _BUSY_US)
        if op == 0x84:  # SetSleep
            self.mode = "sleep"
            self.busy_until = now
        elif op == 0x80:
            self.mode = "stdby_rc" if not a or a[0] == 0 else "stdby_xosc"
            self.event = None
        elif op == 0x97:  # SetDIO3AsTCXOCtrl
            self.tcxo = True
            self.errors |= _ERR_XOSC_START  # datasheet: expected after enabling, cleared by the host
        elif op == 0x07:
            self.errors = 0
        elif op == 0x9D:
            self.dio2_sw = bool(a[0] & 1)
        elif op == 0x8A:
            self.packet_type = a[0]
        elif op == 0x86:
            rf = (a[0] << 24) | (a[1] << 16) | (a[2] << 8) | a[3]
            self.freq_hz = (rf * 32000000 + (1 << 24)) >> 25
        elif op == 0x8B:
            self.sf, self.bw, self.cr, self.ldro = a[0], _BW.get(a[1], 0), a[2], a[3]
        elif op == 0x8C:
            self.preamble = (a[0] << 8) | a[1]
            self.implicit, self.length, self.crc, self.invert = a[2], a[3], a[4], a[5]
        elif op == 0x8F:
            self.tx_base, self.rx_base = a[0], a[1]
        elif op == 0x8E:
            self.power = a[0] - 256 if a[0] > 127 else a[0]
        elif op == 0x0D:
            addr = (a[0] << 8) | a[1]
            for i in range(len(a) - 2):
                self.regs[addr + i] = a[2 + i]
        elif op == 0x0E:
            off = a[0]
            for i in range(len(a) - 1):
                self.buffer[(off + i) & 0xFF] = a[1 + i]
        elif op == 0x08:
            self.irq_mask = (a[0] << 8) | a[1]
            self.dio1_mask = (a[2] << 8) | a[3]
        elif op == 0x02:
            self.irq &= ~((a[0] << 8) | a[1])
        elif op == 0x83:
            self._tx(now)
        elif op == 0x82:
            self._rx(now, (a[0] << 16) | (a[1] << 8) | a[2])

    def _osc_ok(self):
        if self.needs_tcxo and not self.tcxo:
            self.errors |= _ERR_XOSC_START
            self.cmd_status = 5  # failure to execute command
            return False
        return True

    def _sync_word(self):
        return (self.regs.get(0x0740, 0) << 8) | self.regs.get(0x0741, 0)

    def _tx(self, now):
        if not self._osc_ok():
            return
        self.mode = "tx"
        data = bytes(self.buffer[self.tx_base : self.tx_base + self.length])
        f = simair.Frame(
            now + _TX_RAMP_US, self.freq_hz, self.sf, self.bw, bool(self.invert), data, bool(self.crc)
        )
        f.power = self.power
        f.sync_word = self._sync_word()
        if self.needs_dio2 and not self.dio2_sw:
            self.event = (f.end_us, 0x0001, None)  # the chip "transmits" into a closed RF switch
            return
        self.air.transmit(f)
        self.event = (f.end_us, 0x0001, None)

    def _rx(self, now, steps):
        if not self._osc_ok():
            return
        self.mode = "rx"
        opened = now + _RX_START_US
        timeout_us = None if steps in (0, 0xFFFFFF) else steps * 15625 // 1000
        inverted = bool(self.invert)
        f = None
        if not (inverted and self.regs.get(0x0736, 0) & 0x04):  # errata §15.4 not applied: frames lost
            f = self.air.catch(opened, timeout_us, self.freq_hz, self.sf, self.bw, inverted)
        if f is not None and getattr(f, "sync_word", 0x3444) != self._sync_word():
            f = None
        if f is not None:
            self.event = (f.end_us, 0x0002, f)
        elif timeout_us is not None:
            self.event = (opened + timeout_us, 0x0200, None)
        else:
            self.event = None

    def _advance(self):
        """Deliver the pending TX/RX event once the clock has reached it."""
        ev = self.event
        if ev is None or time.now_us() < ev[0]:
            return
        self.event = None
        at, bit, frame = ev
        self.mode = "stdby_rc"
        if frame is not None:
            n = len(frame.data)
            for i in range(n):
                self.buffer[(self.rx_base + i) & 0xFF] = frame.data[i]
            self.rx_len, self.rx_start = n, self.rx_base
            rssi = max(0, min(255, int(-2 * frame.rssi)))
            snr = int(frame.snr * 4) & 0xFF
            self.pkt_status = (rssi, snr, rssi)
        self.irq |= bit & self.irq_mask
        if bit & self.dio1_mask:
            h = self.pins["dio1"].handler
            if h is not None:
                saved = time.now_us()
                time.set_us(at)  # the interrupt fires when the event happened, not when it is noticed
                h(self.pins["dio1"])
                time.set_us(saved)
