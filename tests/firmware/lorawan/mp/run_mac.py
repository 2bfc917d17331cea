"""The MAC (node/lorawan) against the simulated network server on simulated air, under MicroPython.

Each test_* prints "ok <name>" or "FAIL <name>: <why>"; every frame that went over the air is printed as
"PHY <hex> <app_key> <nwk_s_key> <app_s_key> <FCnt upper 16 bits>" for the lora-packet check on the host;
"PEAK <bytes>" last.
"""

# ruff: noqa: UP031  (printf-style formatting: works on every MicroPython build, f-strings need MICROPY_PY_FSTRINGS)

import os
import sys
import time

import simair
import simlorawan
from apimodem import ApiModem
from mpcheck import check, run

from node.lorawan import commands, region, timing
from node.lorawan.mac import Mac
from node.lorawan.nvstate import NvState

IDENT = {
    "dev_eui": "0004a30b001c0530",
    "join_eui": "70b3d57ed0000001",
    "app_key": "98929b92c49edba9676d646d3b612456",
}
KEYS = (bytes.fromhex(IDENT["dev_eui"]), bytes.fromhex(IDENT["join_eui"]), bytes.fromhex(IDENT["app_key"]))
NV = "lw_test.nv"


class Rig:
    """Air + network server + modem + MAC, with helpers for reboots and power cuts."""

    def __init__(self, **net):
        for p in (NV, NV + ".tmp"):
            try:
                os.remove(p)
            except OSError:
                pass
        time.set_us(0)
        self.air = simair.Air()
        self.net = simlorawan.NetworkServer(self.air, IDENT)
        for k in net:
            setattr(self.net, k, net[k])
        self.skip = []
        self.air.listeners.append(self._log)
        schedule = self.air.schedule

        def logged(frame):
            self._log(frame)
            schedule(frame)

        self.air.schedule = logged
        if os.getenv("LW_MODEM") == "sx1262":  # the whole suite again over the SPI-level driver and chip
            from simsx1262 import SimSX1262

            from node.radio.sx1262 import SX1262

            self.chip = SimSX1262(self.air)
            p = self.chip.pins
            self.modem = SX1262(
                self.chip.spi, p["cs"], p["busy"], p["dio1"], reset=p["reset"], dio3_tcxo_millivolts=1800
            )
        else:
            self.modem = ApiModem(self.air)
        self.nv = NvState(NV)
        self.mac = Mac(self.modem, KEYS, self.nv, battery=lambda: 200)

    def _log(self, f):
        if f.data in self.skip:
            return  # built with a counter other than the session's (replay tests)
        ses = self.net.s["session"] or {}
        # the 32-bit counter the server used: lora-packet needs its upper 16 bits (little-endian)
        fcnt = max(ses.get("fcnt_down", 1) - 1, 0) if f.iq_inverted else max(ses.get("fcnt_up", 0), 0)
        msb = (fcnt >> 16).to_bytes(2, "little").hex()
        print("PHY", f.data.hex(), IDENT["app_key"], ses.get("nwk", "-"), ses.get("app", "-"), msb)

    def deep_sleep(self, seconds=0):
        rtc = self.mac.pack()
        time.advance_us(int(seconds * 1000000))
        self.nv = NvState(NV)
        self.mac = Mac(self.modem, KEYS, self.nv, rtc=rtc, battery=lambda: 200)

    def power_cut(self, seconds=0):
        time.advance_us(int(seconds * 1000000))
        self.nv = NvState(NV)
        self.mac = Mac(self.modem, KEYS, self.nv, battery=lambda: 200)

    def join(self, dr=5):
        r = self.mac.join(dr)
        check(
            r.sent and r.acked,
            "join failed: sent %s wait %s rejected %s" % (r.sent, r.wait_s, self.net.rejected),
        )
        return r

    def send(self, payload=b"\x01\x02", port=1, confirmed=False, gap_s=200):
        time.advance_us(gap_s * 1000000)  # a wake interval: the band is free again
        r = self.mac.send(port, payload, confirmed)
        check(r.sent, "uplink not sent, wait %s" % r.wait_s)
        return r


def test_join_then_uplink():
    rig = Rig()
    r = rig.join()
    check(rig.mac.joined and r.freq in region.DEFAULT_FREQS, "joined on a default channel")
    u = rig.send(b"hello")
    got = rig.net.received[-1]
    check(got["payload"] == b"hello" and got["fport"] == 1 and got["fcnt"] == 0, repr(got))
    check(u.fcnt == 0 and u.dr == 5 and rig.mac.fcnt_up == 1, "fcnt")


def test_dev_nonce_counter_survives_everything():
    rig = Rig(drop_joins=1)
    r = rig.mac.join(5)
    check(r.sent and not r.acked, "first join unanswered")
    rig.deep_sleep(100)
    rig.join()  # DevNonce 1
    rig.power_cut(100)
    check(rig.mac.joined, "session restored from flash after the power cut")
    rig.mac.forget_session()
    rig.power_cut(100)
    rig.join()  # DevNonce 2

    # power cut while the join-request is on air: the nonce was written before, so it is spent
    class Cut(Exception):
        pass

    def dying_send(packet, tx_at_ms=None):
        raise Cut()

    rig.mac.forget_session()
    rig.modem.send, saved = dying_send, rig.modem.send
    try:
        rig.mac.join(5)
        check(False, "send should have died")
    except Cut:
        pass
    rig.modem.send = saved
    rig.power_cut(100)
    rig.join()  # DevNonce 4
    check(rig.net.s["dev_nonces"] == [0, 1, 2, 4], "nonces %r" % rig.net.s["dev_nonces"])
    check(not [x for x in rig.net.rejected if "DevNonce" in x], repr(rig.net.rejected))
    check(rig.nv.join_nonce == rig.net.s["join_nonce"], "JoinNonce kept")


def test_replayed_join_accept_refused():
    rig = Rig()
    rig.join()
    # a second join-accept with the same (old) JoinNonce is refused by the device
    rig.net.s["join_nonce"] -= 1
    rig.mac.forget_session()
    r = rig.mac.join(5)
    check(r.sent and not r.acked and not rig.mac.joined, "replayed JoinNonce accepted")


def test_fcnt_never_repeats_after_power_cut():
    rig = Rig()
    rig.join()
    for _ in range(5):
        rig.send()
        rig.deep_sleep(1)
    check(rig.mac.fcnt_up == 5, "deep sleep keeps FCntUp exactly: %d" % rig.mac.fcnt_up)
    writes = rig.nv.writes
    rig.power_cut(10)
    u = rig.send()
    check(u.fcnt == 100, "power cut jumps to the floor, got %d" % u.fcnt)
    check(rig.net.received[-1]["fcnt"] == 100, "network accepted the jump")
    check(not [x for x in rig.net.rejected if "FCnt" in x], repr(rig.net.rejected))
    check(writes <= 1, "flash writes for 5 uplinks after join: %d" % writes)


def test_fcnt_down_reconstructed_to_32_bits():
    rig = Rig()
    rig.join()
    rig.net.s["session"]["fcnt_down"] = 65534
    seen = []
    for i in range(4):
        rig.net.queue.append((5, bytes((i,)), False))
        u = rig.send()
        seen.append((u.downlinks, rig.mac.fcnt_down))
    check([s[1] for s in seen] == [65534, 65535, 65536, 65537], repr(seen))
    check([s[0] for s in seen] == [[(5, bytes((i,)))] for i in range(4)], repr(seen))
    # a replay of an old downlink (valid MIC, old counter) is refused
    rig.net.replay = rig.net.downlink(5, b"x", fcnt=65535)
    rig.skip.append(rig.net.replay)
    u = rig.send()
    check(not u.downlinks and rig.mac.fcnt_down == 65537, "replay refused")


def edge(dr, window, skew_ms, expect):
    rig = Rig(window=window)
    rig.join()
    rig.mac.dr = dr
    rig.net.skew_us = skew_ms * 1000
    rig.net.queue.append((7, b"edge", False))
    u = rig.send(b"e", gap_s=400)
    got = u.downlinks == [(7, b"edge")]
    check(got == expect, "DR%d RX%d skew %d ms: received %s" % (dr, window, skew_ms, got))


def test_rx_window_edges_sf7_sf12():
    for dr in (5, 0):
        err = 20  # the node's clock error allowance (Mac rx_error_ms)
        for window in (1, 2):
            rx_dr = dr if window == 1 else 0
            sym = timing.symbol_us(rx_dr) // 1000
            edge(dr, window, err, True)
            edge(dr, window, -err, True)
            # far outside the node's error allowance: must be missed (the window is not open forever)
            edge(dr, window, err + 3 * sym + 60, False)
            edge(dr, window, -(err + 3 * sym + 60), False)


def test_link_check_and_device_time():
    rig = Rig()
    rig.join()
    rig.mac.request(commands.LINK_CHECK)
    rig.mac.request(commands.DEVICE_TIME)
    rig.net.mac_queue += bytes((0x02, 12, 3, 0x0D, 0x10, 0x20, 0x30, 0x40, 0x80))
    u = rig.send()
    check(rig.net.received[-1]["fopts"] == b"\x02\x0d", repr(rig.net.received[-1]))
    check(u.link_check == (12, 3), repr(u.link_check))
    check(u.device_time == 0x40302010 + 0.5, repr(u.device_time))


def test_link_adr_block_and_nbtrans():
    rig = Rig(cflist=bytes.fromhex("184f84e85684b85e84886684586e8400"))
    rig.join()
    check(len(rig.mac.channels) == 8 and rig.mac.ch_mask == 0xFF, "CFList channels")
    # block: mask ch0-2 (cntl 0) then mask adds ch3-7 (cntl 0) with DR3, power 2, NbTrans 2
    rig.net.mac_queue += bytes((0x03, 0x5F, 0x07, 0x00, 0x00, 0x03, 0x32, 0x1F, 0x00, 0x02))
    rig.send()
    check(rig.mac.dr == 3 and rig.mac.tx_power == 2 and rig.mac.nb_trans == 2, "applied")
    check(rig.mac.ch_mask == 0x1F, "last mask wins: %x" % rig.mac.ch_mask)
    n = len(rig.air.uplinks)
    rig.send()
    check(rig.net.received[-1]["fopts"] == b"\x03\x07\x03\x07", repr(rig.net.received[-1]))
    check(len(rig.air.uplinks) - n == 2, "NbTrans 2: %d" % (len(rig.air.uplinks) - n))
    check(rig.net.rejected[-1].startswith("FCnt"), "the repetition has the same FCnt")
    check(rig.air.uplinks[-1].power == region.tx_power_dbm(2), "power")
    # enabling undefined channel 12 NACKs the mask, and nothing of the block is applied
    rig.net.mac_queue += bytes((0x03, 0x50, 0x01, 0x10, 0x01))
    rig.send()
    rig.send()
    check(rig.net.received[-1]["fopts"] == b"\x03\x06", repr(rig.net.received[-1]))
    check(rig.mac.dr == 3 and rig.mac.nb_trans == 2 and rig.mac.ch_mask == 0x1F, "nothing applied")


def test_duty_cycle_rx_param_dev_status_new_channel():
    rig = Rig()
    rig.join()
    rig.net.snr = -5  # DevStatusAns margin: the SNR of the last downlink
    q = rig.net.mac_queue
    q += bytes((0x04, 0x03))  # DutyCycleReq 1/8
    q += bytes((0x05, 0x23)) + (869525000 // 100).to_bytes(3, "little")  # RX1 offset 2, RX2 DR3
    q += bytes((0x06,))  # DevStatusReq
    q += bytes((0x07, 0x03)) + (867100000 // 100).to_bytes(3, "little") + bytes((0x50,))  # NewChannel 3
    rig.send()
    check(rig.mac.max_dc == 3 and rig.mac.rx1_offset == 2 and rig.mac.rx2_dr == 3, "applied")
    check(rig.mac.channels[3][0] == 867100000, "new channel")
    rig.net.silent = True
    rig.send()
    got = rig.net.received[-1]["fopts"]
    check(got == bytes((0x05, 0x07, 0x04, 0x06, 200, 0x3B, 0x07, 0x03)), got.hex())
    rig.send()
    check(rig.net.received[-1]["fopts"] == b"\x05\x07", "RXParamSetupAns repeats until a downlink")
    rig.net.silent = False
    rig.net.always_answer = True
    rig.send()
    rig.send()
    check(rig.net.received[-1]["fopts"] == b"", "sticky answer dropped after a downlink")
    # NewChannelReq on a default channel is refused; DlChannelReq for channel 3 sticks
    rig.net.mac_queue += bytes((0x07, 0x01)) + (867300000 // 100).to_bytes(3, "little") + bytes((0x50,))
    rig.net.mac_queue += bytes((0x09, 0x0F, 0x0A, 0x03)) + (868900000 // 100).to_bytes(3, "little")
    rig.send()
    check(rig.mac.channels[1][0] == 868300000 and rig.mac.channels[3][1] == 868900000, "channels")
    rig.net.always_answer = False
    rig.send()
    check(
        rig.net.received[-1]["fopts"] == bytes((0x0A, 0x03, 0x07, 0x02)), rig.net.received[-1]["fopts"].hex()
    )


def test_answers_that_do_not_fit_wait_whole():
    """Eight DevStatusReq answered (24 bytes): FOpts carries 15 bytes of whole answers, the rest goes in
    the next uplink; at DR0 a full 51-byte payload leaves no room, and nothing is lost."""
    rig = Rig()
    rig.join()
    rig.net.mac_queue += bytes((0x06,)) * 8
    rig.send()
    rig.send()
    first = rig.net.received[-1]["fopts"]
    check(len(first) == 15 and first == bytes((0x06, 200, first[2])) * 5, first.hex())
    rig.mac.dr = 0
    rig.send(b"x" * 51, gap_s=400)
    check(rig.net.received[-1]["fopts"] == b"", "no room at DR0 with 51 bytes")
    rig.send(b"x", gap_s=400)
    check(len(rig.net.received[-1]["fopts"]) == 9, rig.net.received[-1]["fopts"].hex())
    check(len(rig.mac.answers) == 0, "all answers delivered")


def test_rx_timing_setup_moves_rx1():
    rig = Rig()
    rig.join()
    rig.net.mac_queue += bytes((0x08, 0x03))
    rig.send()
    check(rig.mac.rx_delay == 3, "RxDelay 3")
    rig.net.queue.append((9, b"late", False))
    u = rig.send()
    check(rig.net.received[-1]["fopts"] == b"\x08", "RXTimingSetupAns")
    check(u.downlinks == [(9, b"late")], "RX1 at 3 s")


def test_adr_backoff_steps():
    rig = Rig()
    rig.join()
    rig.net.silent = True
    rig.mac.tx_power, rig.mac.dr = 3, 5
    rig.mac.ch_mask = 0x01
    flags = []
    for _ in range(64 + 32 * 8):
        rig.send(gap_s=300)
        if len(rig.air.uplinks) > 4:  # bounded lists: 320 uplinks in a 64 KB heap
            rig.air.uplinks = rig.air.uplinks[-2:]
            rig.net.received = rig.net.received[-2:]
        flags.append((rig.net.received[-1]["adr_ack_req"], rig.mac.tx_power, rig.mac.dr))
    check(not flags[63][0] and flags[64][0], "ADRACKReq from the 65th uplink")
    check(flags[95][1] == 3 and flags[96][1] == 0, "default power after ADR_ACK_DELAY more")
    check(flags[127][2] == 5 and flags[128][2] == 4, "then one DR lower")
    check(flags[64 + 32 * 6][2] == 0, "down to DR0: %r" % (flags[64 + 32 * 6],))
    check(rig.mac.ch_mask & 7 == 7, "default channels back on")
    check(not flags[-1][0], "at the floor no more ADRACKReq")


def test_network_adr_raises_the_data_rate():
    """The simulated server's ADR (SNR history vs the SF's demodulation floor) sends LinkADRReq; the node
    answers LinkADRAns with all bits set and transmits at the new data rate."""
    rig = Rig(adr=True, snr=8)
    rig.join(dr=0)
    rig.mac.dr = 0
    for _ in range(22):
        rig.send(gap_s=300)
    check(rig.mac.dr == 5, "DR after ADR: %d" % rig.mac.dr)
    answers = [r["fopts"] for r in rig.net.received if r["fopts"]]
    check(answers == [b"\x03\x07"], repr(answers))
    check(rig.net.received[-1]["sf"] == 7, "last uplink at SF7")


def test_duty_cycle_refusal_means_sleep():
    rig = Rig()
    rig.join(dr=0)
    rig.mac.dr = 0
    u = rig.send(b"x" * 40, gap_s=200)
    n = len(rig.air.uplinks)
    r = rig.mac.send(1, b"y", False)
    check(not r.sent and r.wait_s > 100, "refused, wait %d" % r.wait_s)
    rig.deep_sleep(r.wait_s - 5)
    r2 = rig.mac.send(1, b"y", False)
    check(not r2.sent and 0 < r2.wait_s <= 6, "still refused after deep sleep: %d" % r2.wait_s)
    check(len(rig.air.uplinks) == n, "nothing transmitted late")
    rig.deep_sleep(r2.wait_s)
    check(rig.mac.send(1, b"y", False).sent, "free again")
    check(u.airtime_ms > 1500, "DR0 airtime %d" % u.airtime_ms)


def test_join_backoff_tr007():
    rig = Rig(drop_joins=10000)
    total = 0
    tries = 0
    while time.time() - rig.mac.power_up_s < 3600:
        r = rig.mac.join(0)
        if r.sent:
            total += r.airtime_ms
            tries += 1
            time.advance_us(1000000)
        else:
            time.advance_us(max(1, r.wait_s) * 1000000)
            rig.deep_sleep(0)
    check(total <= 36000 and tries >= 20, "first hour: %d ms in %d joins" % (total, tries))
    check(rig.nv.dev_nonce == tries, "one DevNonce per join")


def test_confirmed_uplink_and_downlink():
    rig = Rig()
    rig.join()
    u = rig.send(b"c", confirmed=True)
    check(u.acked and u.transmissions == 1, "acked at once")
    rig.mac.nb_trans = 3
    rig.net.silent = True
    u = rig.send(b"c", confirmed=True)
    check(not u.acked and u.transmissions == 3, "3 tries: %d" % u.transmissions)
    rig.net.silent = False
    rig.net.queue.append((10, b"\x01", True))
    rig.mac.nb_trans = 1
    u = rig.send()
    check(u.downlinks == [(10, b"\x01")], "confirmed downlink delivered")
    rig.send()
    check(rig.net.received[-1]["ack"], "ACK bit set on the next uplink")


def test_ts009_replay():
    """A test tool's sequence through the simulated server: PackageVersion, EchoPayload, RxAppCnt,
    TxPeriodicity, LinkCheck, DutVersions, then DutJoin (the device rejoins with the next DevNonce)."""
    rig = Rig()
    rig.join()
    answers = []

    def step(cmd):
        rig.net.queue.append((224, cmd, False))
        u = rig.send(b"\x00")
        if u.test_answer is not None:
            rig.send(u.test_answer, port=224)
            answers.append(rig.net.received[-1]["payload"])
        return u

    step(b"\x00")
    step(b"\x08\x01\x02\xff")
    step(b"\x09")
    u = step(b"\x06\x02")
    check(u.tx_period_s == 10, "TxPeriodicity 10 s")
    step(b"\x20")
    rig.net.mac_queue += bytes((0x02, 20, 2))
    u = rig.send(b"\x00")
    check(rig.net.received[-1]["fopts"] == b"\x02" and u.link_check == (20, 2), "LinkCheck via TS009")
    step(b"\x7f")
    check(
        answers
        == [
            b"\x00\x06\x01",
            b"\x08\x02\x03\x00",
            b"\x09\x03\x00",
            b"\x7f\x01\x00\x00\x00\x01\x00\x04\x00\x02\x01\x00\x03",
        ],
        repr(answers),
    )
    u = step(b"\x02")
    check(u.test_rejoin, "DutJoinReq asks for a rejoin")
    rig.mac.forget_session()
    time.advance_us(300 * 1000000)
    rig.join()
    check(rig.net.s["dev_nonces"] == [0, 1], repr(rig.net.s["dev_nonces"]))


print("PEAK", run(globals(), sys.argv[1:]))
