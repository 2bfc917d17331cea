"""LoRaWAN 1.0.4 Class A device MAC for EU868 on a micropython-lib-shaped LoRa modem.

The modem API is that of micropython-lib's `lora` package (configure(dict), send(packet) -> TX-end
ticks_ms, recv(timeout_ms) -> packet with ticks_ms/rssi/snr/crc_error or None), so its lora-sx126x driver
can replace node.radio.sx1262. Timing runs from the modem's TX-end tick; nothing here sleeps a fixed time.

State: `pack()` gives the bytes to keep in RTC memory across deep sleep (channels, counters, duty-cycle
band times, pending answers); NvState holds what must survive a power cut (nvstate.py).
"""

# ruff: noqa: UP031  (printf-style formatting: works on every MicroPython build, f-strings need MICROPY_PY_FSTRINGS)

import random
import struct
import time

from node.lorawan import frames, region, timing
from node.lorawan.nvstate import NO_FCNT

ADR_ACK_LIMIT = 64
ADR_ACK_DELAY = 32
# TR007 §4.8 / TS001-1.0.4 §7: aggregated join airtime per period after power-up.
JOIN_BUDGET = ((3600, 36000), (36000, 36000), (86400, 8700))  # (period s, airtime ms)
RETRANSMIT_MIN_MS = 1000
RETRANSMIT_MAX_MS = 3000
MAX_WAIT_IN_CYCLE_S = 30  # longer than this for a free band: give up the uplink, the caller sleeps
PORT_TEST = 224
LINK_CHECK = 0x02  # LinkCheckReq / DeviceTimeReq CIDs (commands.py has them all; these two the app asks)
DEVICE_TIME = 0x0D

_RTC_VERSION = 1
_HDR = "<BBIIIBBBBBBBBIHHIIIBI16s16sBB"
_HDR_SIZE = struct.calcsize(_HDR)
_CH = "<IIB"
_CH_SIZE = struct.calcsize(_CH)
F_JOINED = 1
F_ACK_PENDING = 2
F_ADR = 4


class Result:
    """What one send() did. wait_s > 0: nothing was sent, the band is busy that long (sleep, then retry)."""

    def __init__(self):
        self.sent = False
        self.wait_s = 0
        self.acked = False
        self.fcnt = -1
        self.dr = -1
        self.freq = 0
        self.tx_power_dbm = 0
        self.airtime_ms = 0
        self.transmissions = 0
        self.downlinks = []  # (fport, payload) of application downlinks
        self.rssi = None
        self.snr = None
        self.link_check = None  # (margin dB, gateway count) when a LinkCheckAns arrived
        self.device_time = None  # GPS seconds (float) when a DeviceTimeAns arrived
        self.test_answer = None  # TS009: bytes to send on FPort 224 next
        self.test_reset = False
        self.test_rejoin = False
        self.tx_period_s = None


class Mac:
    """One device's MAC. ident: (dev_eui, join_eui, app_key) as bytes; nv: NvState; radio: the modem.

    rx_error_ms / clock_ppm: the host's timing error (board data); battery(): DevStatus byte 0..255.
    """

    def __init__(self, radio, ident, nv, rtc=None, rx_error_ms=20, clock_ppm=100, battery=None):
        self.radio = radio
        self.dev_eui, self.join_eui, self.app_key = ident
        self.nv = nv
        self.rx_error_ms = rx_error_ms
        self.clock_ppm = clock_ppm
        self.battery = battery
        self.last_snr = 0
        self.result = None
        self._test = None
        self._defaults()
        if not (rtc and self.unpack(rtc)):
            self._from_flash()

    # -- state -------------------------------------------------------------------------------------
    def _defaults(self):
        self.flags = F_ADR
        self.dev_addr = 0
        self.nwk_s_key = self.app_s_key = bytes(16)
        self.fcnt_up = 0
        self.fcnt_down = NO_FCNT
        self.dr = 5
        self.tx_power = 0
        self.nb_trans = 1
        self.rx1_offset = 0
        self.rx2_dr = region.RX2_DR
        self.rx2_freq = region.RX2_FREQ
        self.rx_delay = 1
        self.max_dc = 0
        self.adr_ack_cnt = 0
        self.power_up_s = time.time()
        self.join_airtime_ms = 0
        self.join_period = 0
        self.agg_free_s = 0
        self.band_free_s = [0] * len(region.BANDS)
        self.answers = bytearray()  # MAC answers for the next uplink (FOpts)
        self.sticky = bytearray()  # RXParamSetupAns / RXTimingSetupAns / DlChannelAns: until a downlink
        self.channels = []  # [up_freq, dl_freq (0 = same), dr_range max<<4|min]
        for f in region.DEFAULT_FREQS:
            self.channels.append([f, 0, region.DEFAULT_DR_RANGE])
        self.ch_mask = 0x0007

    def _from_flash(self):
        """After a power cut (RTC memory lost): the session from flash, FCntUp at the floor."""
        nv = self.nv
        if not nv.joined:
            return
        self.flags |= F_JOINED
        self.dev_addr = nv.dev_addr
        self.nwk_s_key, self.app_s_key = nv.nwk_s_key, nv.app_s_key
        self.fcnt_up = nv.fcnt_floor
        self.fcnt_down = nv.fcnt_down
        self.rx1_offset, self.rx2_dr, self.rx_delay = nv.rx1_offset, nv.rx2_dr, nv.rx_delay
        self._apply_cflist(nv.cflist)

    def pack(self):
        """RTC-memory bytes of the MAC state (about 200-350 bytes with up to 16 channels)."""
        head = struct.pack(
            _HDR,
            _RTC_VERSION,
            self.flags,
            self.dev_addr,
            self.fcnt_up,
            self.fcnt_down,
            self.dr,
            self.tx_power,
            self.nb_trans,
            self.rx1_offset,
            self.rx2_dr,
            self.rx_delay,
            self.max_dc,
            self.join_period,
            self.rx2_freq,
            min(self.adr_ack_cnt, 0xFFFF),
            self.ch_mask,
            self.power_up_s,
            self.join_airtime_ms,
            self.agg_free_s,
            len(self.channels),
            0,
            self.nwk_s_key,
            self.app_s_key,
            len(self.answers),
            len(self.sticky),
        )
        out = bytearray(head)
        for t in self.band_free_s:
            out += struct.pack("<I", t)
        for ch in self.channels:
            out += struct.pack(_CH, ch[0], ch[1], ch[2])
        out += self.answers
        out += self.sticky
        return bytes(out)

    def unpack(self, buf):
        """Restore from pack()'s bytes; False (and defaults kept) if they are not a valid state."""
        try:
            f = struct.unpack(_HDR, buf[:_HDR_SIZE])
            if f[0] != _RTC_VERSION:
                return False
            at = _HDR_SIZE
            bands = []
            for _ in region.BANDS:
                bands.append(struct.unpack("<I", buf[at : at + 4])[0])
                at += 4
            chans = []
            for _ in range(f[19]):
                c = struct.unpack(_CH, buf[at : at + _CH_SIZE])
                chans.append([c[0], c[1], c[2]])
                at += _CH_SIZE
            answers = bytearray(buf[at : at + f[23]])
            at += f[23]
            sticky = bytearray(buf[at : at + f[24]])
            if at + f[24] != len(buf):
                return False
        except (ValueError, IndexError):
            return False
        (
            _,
            self.flags,
            self.dev_addr,
            self.fcnt_up,
            self.fcnt_down,
            self.dr,
            self.tx_power,
            self.nb_trans,
            self.rx1_offset,
            self.rx2_dr,
            self.rx_delay,
            self.max_dc,
            self.join_period,
            self.rx2_freq,
            self.adr_ack_cnt,
            self.ch_mask,
            self.power_up_s,
            self.join_airtime_ms,
            self.agg_free_s,
            _,
            _,
            self.nwk_s_key,
            self.app_s_key,
            _,
            _,
        ) = f
        self.band_free_s = bands
        self.channels = chans
        self.answers = answers
        self.sticky = sticky
        return True

    @property
    def test(self):
        """TS009 test-package state, created on the first FPort 224 downlink (most nodes never see one)."""
        if self._test is None:
            from node.lorawan.ts009 import TestState

            self._test = TestState()
        return self._test

    @property
    def joined(self):
        return bool(self.flags & F_JOINED)

    def set_adr(self, on):
        self.flags = (self.flags | F_ADR) if on else (self.flags & ~F_ADR)

    def set_dr(self, dr):
        if 0 <= dr <= 5:
            self.dr = dr

    def request(self, cid):
        """Ask the network something in the next uplink: LINK_CHECK (0x02) or DEVICE_TIME (0x0D)."""
        self.answers.append(cid)

    def forget_session(self):
        """Rejoin on the next join(): the session is dropped (DevNonce and JoinNonce are kept)."""
        nonce, dev_nonce = self.nv.join_nonce, self.nv.dev_nonce
        self._defaults()
        self.nv.joined = 0
        self.nv.join_nonce, self.nv.dev_nonce = nonce, dev_nonce
        self.nv.save()

    # -- channels and duty cycle -------------------------------------------------------------------
    def _apply_cflist(self, cflist):
        freqs = region.cflist_freqs(cflist)
        for i in range(len(freqs)):
            if freqs[i] and region.valid_freq(freqs[i]):
                while len(self.channels) <= 3 + i:
                    self.channels.append([0, 0, 0])
                self.channels[3 + i] = [freqs[i], 0, region.DEFAULT_DR_RANGE]
                self.ch_mask |= 1 << (3 + i)

    def _usable(self, dr, default_only):
        out = []
        for i in range(len(self.channels)):
            f, _, rng = self.channels[i]
            if not f or not (self.ch_mask >> i) & 1 or (default_only and i > 2):
                continue
            if (rng & 0x0F) <= dr <= (rng >> 4):
                out.append(i)
        return out

    def _band_wait_s(self, i, now):
        b = region.band(self.channels[i][0])
        return max(0, self.band_free_s[b] - now, self.agg_free_s - now)

    def _pick_channel(self, dr, default_only=False):
        """(channel index, 0) of a random usable channel whose band is free, or (-1, seconds to wait)."""
        now = time.time()
        chans = self._usable(dr, default_only)
        if not chans:
            return -1, 3600
        free = [i for i in chans if self._band_wait_s(i, now) == 0]
        if free:
            return free[random.getrandbits(16) % len(free)], 0
        return -1, min([self._band_wait_s(i, now) for i in chans])

    def _account(self, ch, airtime_ms):
        """Band and aggregated (DutyCycleReq) off-times after a transmission; whole seconds, rounded up."""
        if self._test is not None and not self._test.duty_cycle:
            return  # TS009 RegionalDutyCycleCtrlReq off: conducted tests only
        now = time.time()
        b = region.band(self.channels[ch][0])
        off = airtime_ms * (region.BANDS[b][2] - 1)
        self.band_free_s[b] = now + 1 + (off + 999) // 1000
        if self.max_dc:
            self.agg_free_s = now + 1 + (airtime_ms * ((1 << self.max_dc) - 1) + 999) // 1000

    # -- radio -------------------------------------------------------------------------------------
    def _transmit(self, phy, freq, dr, power_index):
        sf, bw = region.DATA_RATES[dr]
        self.radio.configure(
            {
                "freq_khz": freq // 1000,
                "sf": sf,
                "bw": bw,
                "coding_rate": 5,
                "preamble_len": region.PREAMBLE,
                "syncword": region.SYNC_WORD,
                "crc_en": True,
                "invert_iq_tx": False,
                "invert_iq_rx": True,
                "output_power": region.tx_power_dbm(power_index),
            }
        )
        return self.radio.send(phy)

    def _listen(self, tx_end, delay_ms, freq, dr):
        """Open a receive window delay_ms after tx_end; the packet or None."""
        early, timeout = timing.window(dr, delay_ms, self.rx_error_ms, self.clock_ppm)
        sf, bw = region.DATA_RATES[dr]
        self.radio.configure({"freq_khz": freq // 1000, "sf": sf, "bw": bw, "invert_iq_rx": True})
        wait = time.ticks_diff(time.ticks_add(tx_end, delay_ms - early), time.ticks_ms())
        if wait > 0:
            time.sleep_ms(wait)
        pkt = self.radio.recv(timeout_ms=timeout)
        if pkt is None or getattr(pkt, "crc_error", False):
            return None
        return pkt

    # -- join --------------------------------------------------------------------------------------
    def _join_budget(self, airtime_ms):
        """Seconds until a join of airtime_ms is allowed by the TR007 back-off (0 = now)."""
        now = time.time()
        elapsed = now - self.power_up_s
        start, period = 0, 0
        for i in range(len(JOIN_BUDGET)):
            span = JOIN_BUDGET[i][0]
            period = i
            if elapsed < start + span or i == len(JOIN_BUDGET) - 1:
                break
            start += span
        if period == len(JOIN_BUDGET) - 1 and elapsed >= start:
            n = (elapsed - start) // JOIN_BUDGET[period][0]
            start += n * JOIN_BUDGET[period][0]
            period_id = (period + n) & 0xFF
        else:
            period_id = period
        if period_id != self.join_period:
            self.join_period = period_id
            self.join_airtime_ms = 0
        if self.join_airtime_ms + airtime_ms <= JOIN_BUDGET[period][1]:
            return 0
        jitter = random.getrandbits(8) % 60  # per-device spread: nodes powered together don't re-sync
        return self.power_up_s + start + JOIN_BUDGET[period][0] - now + jitter

    def join(self, dr=5):
        """One OTAA attempt at dr. Result.sent False with wait_s when back-off or duty cycle forbid it."""
        res = Result()
        self.result = res
        airtime = region.time_on_air_ms(23, dr)
        wait = self._join_budget(airtime)
        ch, band_wait = self._pick_channel(dr, default_only=True)
        if wait or ch < 0:
            res.wait_s = max(wait, band_wait)
            return res
        dev_nonce = self.nv.take_dev_nonce()  # in flash before anything goes on air
        phy = frames.join_request(self.app_key, self.join_eui, self.dev_eui, dev_nonce)
        freq = self.channels[ch][0]
        tx_end = self._transmit(phy, freq, dr, 0)
        self._account(ch, airtime)
        self.join_airtime_ms += airtime
        res.sent, res.fcnt, res.dr, res.freq, res.airtime_ms, res.transmissions = (
            True,
            -1,
            dr,
            freq,
            airtime,
            1,
        )
        res.tx_power_dbm = region.tx_power_dbm(0)
        for delay, f, rdr in (
            (region.JOIN_ACCEPT_DELAY1_MS, freq, region.rx1_dr(dr, 0)),
            (region.JOIN_ACCEPT_DELAY2_MS, region.RX2_FREQ, region.RX2_DR),
        ):
            pkt = self._listen(tx_end, delay, f, rdr)
            if pkt is None:
                continue
            try:
                accept = frames.parse_join_accept(self.app_key, pkt)
            except frames.FrameError:
                continue
            if accept.join_nonce <= self.nv.join_nonce:
                continue  # a replayed join-accept (1.0.4: JoinNonce must grow)
            self._accept(accept, dev_nonce, dr)
            res.acked = True
            res.rssi, res.snr = pkt.rssi, pkt.snr
            return res
        return res

    def _accept(self, a, dev_nonce, dr):
        from node.lorawan import crypto

        nwk, app = crypto.session_keys(self.app_key, a.join_nonce_raw, a.net_id, dev_nonce)
        keep = (self.power_up_s, self.join_airtime_ms, self.join_period, self.band_free_s, self.max_dc)
        self._defaults()
        self.power_up_s, self.join_airtime_ms, self.join_period, self.band_free_s, self.max_dc = keep
        self.flags |= F_JOINED
        self.dev_addr = a.dev_addr
        self.nwk_s_key, self.app_s_key = nwk, app
        self.rx1_offset, self.rx2_dr, self.rx_delay = a.rx1_dr_offset, a.rx2_dr, a.rx_delay
        self.dr = dr
        self._apply_cflist(a.cflist)
        nv = self.nv
        nv.join_nonce = a.join_nonce
        nv.joined, nv.dev_addr, nv.nwk_s_key, nv.app_s_key = 1, a.dev_addr, nwk, app
        nv.fcnt_floor, nv.fcnt_down = 0, NO_FCNT
        nv.rx1_offset, nv.rx2_dr, nv.rx_delay = a.rx1_dr_offset, a.rx2_dr, a.rx_delay
        nv.cflist = a.cflist or bytes(16)
        nv.save()

    # -- data --------------------------------------------------------------------------------------
    def _adr_backoff(self):
        """ADRACKReq after ADR_ACK_LIMIT uplinks without a downlink; every ADR_ACK_DELAY more, one step:
        default power, then one DR lower, then the default channels back on (TS001-1.0.4 §4.3.1.1)."""
        if not self.flags & F_ADR:
            return 0
        cnt = self.adr_ack_cnt
        if cnt < ADR_ACK_LIMIT:
            return 0
        if cnt >= ADR_ACK_LIMIT + ADR_ACK_DELAY and (cnt - ADR_ACK_LIMIT) % ADR_ACK_DELAY == 0:
            if self.tx_power:
                self.tx_power = 0
            elif self.dr > 0:
                self.dr -= 1
            else:
                self.ch_mask |= 0x0007
                self.nb_trans = 1
        at_floor = self.tx_power == 0 and self.dr == 0 and self.ch_mask & 7 == 7
        return 0 if at_floor else frames.ADR_ACK_REQ

    def send(self, port, payload, confirmed=False):
        """One Class A uplink on port (1..224) with its NbTrans repetitions and receive windows."""
        if not self.joined:
            raise ValueError("not joined")
        res = Result()
        self.result = res
        room = region.max_payload(self.dr) - len(payload)
        if room < 0:
            raise ValueError("payload of %d bytes over the DR%d limit" % (len(payload), self.dr))
        queued = self.sticky + self.answers
        n = _whole_answers(queued, min(15, room))  # what does not fit waits for the next uplink
        fopts = bytes(queued[:n])
        fctrl = self._adr_backoff()
        if self.flags & F_ADR:
            fctrl |= frames.ADR
        if self.flags & F_ACK_PENDING:
            fctrl |= frames.ACK
        phy = None
        for attempt in range(self.nb_trans):
            ch, wait = self._pick_channel(self.dr)
            if ch < 0 and attempt and wait <= MAX_WAIT_IN_CYCLE_S:
                time.sleep(wait)  # a repetition waits for its band inside the cycle, briefly
                ch, wait = self._pick_channel(self.dr)
            if ch < 0:
                res.wait_s = wait
                break
            if phy is None:
                self.nv.reserve_fcnt(self.fcnt_up)  # the flash floor is past this FCnt before it airs
                phy = frames.data_uplink(
                    self.nwk_s_key,
                    self.app_s_key,
                    self.dev_addr,
                    self.fcnt_up,
                    port,
                    payload,
                    confirmed,
                    fctrl,
                    fopts,
                )
                self.flags &= ~F_ACK_PENDING
                sent = n - len(self.sticky)  # sticky answers stay until a downlink; sent answers go
                if sent > 0:
                    self.answers = self.answers[sent:]
            freq = self.channels[ch][0]
            airtime = region.time_on_air_ms(len(phy), self.dr)
            tx_end = self._transmit(phy, freq, self.dr, self.tx_power)
            self._account(ch, airtime)
            res.sent = True
            res.transmissions += 1
            res.fcnt, res.dr, res.freq = self.fcnt_up, self.dr, freq
            res.tx_power_dbm = region.tx_power_dbm(self.tx_power)
            res.airtime_ms += airtime
            if self._receive(tx_end, ch, res, confirmed) and (res.acked or not confirmed):
                break
            if confirmed and attempt < self.nb_trans - 1:
                time.sleep_ms(
                    RETRANSMIT_MIN_MS + random.getrandbits(11) % (RETRANSMIT_MAX_MS - RETRANSMIT_MIN_MS)
                )
        if res.sent:
            self.fcnt_up += 1
            if res.rssi is None:
                self.adr_ack_cnt += 1
        return res

    def _receive(self, tx_end, ch, res, confirmed):
        """RX1 then RX2; True if a valid downlink for us arrived (which ends the repetitions)."""
        dl = self.channels[ch][1] or self.channels[ch][0]
        delay = self.rx_delay * 1000
        windows = (
            (delay, dl, region.rx1_dr(self.dr, self.rx1_offset)),
            (delay + 1000, self.rx2_freq, self.rx2_dr),
        )
        for d, f, dr in windows:
            pkt = self._listen(tx_end, d, f, dr)
            if pkt is None:
                continue
            try:
                down = frames.parse_downlink(
                    self.nwk_s_key, self.app_s_key, self.dev_addr, self._last_down(), pkt
                )
            except frames.FrameError:
                continue
            self._downlink(down, pkt, res, confirmed)
            return True
        return False

    def _last_down(self):
        return -1 if self.fcnt_down == NO_FCNT else self.fcnt_down

    def _downlink(self, down, pkt, res, confirmed):
        self.fcnt_down = down.fcnt
        self.nv.fcnt_down = down.fcnt  # written with the next flash write; replay window after a cut only
        self.adr_ack_cnt = 0
        self.sticky = bytearray()
        res.rssi, res.snr = pkt.rssi, pkt.snr
        self.last_snr = pkt.snr // 4 if pkt.snr is not None else 0
        if confirmed and down.ack:
            res.acked = True
        if down.confirmed:
            self.flags |= F_ACK_PENDING
        cmds = down.payload if down.fport == 0 else down.fopts
        if cmds:
            from node.lorawan import commands  # imported on the first downlink with MAC commands

            commands.process(self, cmds, res)
        elif down.fport == PORT_TEST:
            from node.lorawan import ts009

            ts009.handle(self, down.payload, res)
        elif down.fport is not None:
            res.downlinks.append((down.fport, down.payload))


# payload length of each answer/request a device sends (TS001-1.0.4 §5): 0x02 LinkCheckReq 0, 0x03
# LinkADRAns 1, 0x04 DutyCycleAns 0, 0x05 RXParamSetupAns 1, 0x06 DevStatusAns 2, 0x07 NewChannelAns 1,
# 0x08 RXTimingSetupAns 0, 0x0A DlChannelAns 1, 0x0D DeviceTimeReq 0
_UP_LEN = {0x02: 0, 0x03: 1, 0x04: 0, 0x05: 1, 0x06: 2, 0x07: 1, 0x08: 0, 0x0A: 1, 0x0D: 0}


def _whole_answers(buf, limit):
    """How many bytes of buf are whole MAC commands fitting in limit bytes (a command is never cut)."""
    i = 0
    while i < len(buf):
        end = i + 1 + _UP_LEN.get(buf[i], 0)
        if end > limit:
            break
        i = end
    return i
