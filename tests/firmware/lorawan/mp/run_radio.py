"""The SX1262 driver (node/radio/sx1262.py) on the SPI-level chip model (tools/emulator/sim/simsx1262.py).

Each test_* prints "ok <name>" or "FAIL <name>: <why>".
"""

# ruff: noqa: UP031  (printf-style formatting: works on every MicroPython build)

import time

import simair
from mpcheck import check, run
from simsx1262 import SimSX1262

from node.radio.sx1262 import REG_SYNC_WORD, SX1262, RadioError

CFG = {"freq_khz": 868100, "sf": 7, "bw": 125, "coding_rate": 5, "syncword": 0x34, "output_power": 14}


def rig(tcxo_mv=1800, dio2=True, chip_tcxo=True, **cfg):
    time.set_us(0)
    air = simair.Air()
    chip = SimSX1262(air, tcxo=chip_tcxo)
    p = chip.pins
    c = dict(CFG)
    c.update(cfg)
    radio = SX1262(
        chip.spi,
        p["cs"],
        p["busy"],
        p["dio1"],
        reset=p["reset"],
        dio2_rf_sw=dio2,
        dio3_tcxo_millivolts=tcxo_mv,
        lora_cfg=c,
    )
    return air, chip, radio


def test_init_follows_the_datasheet():
    air, chip, radio = rig()
    check(chip.busy_violations == 0, "commands while BUSY: %d" % chip.busy_violations)
    ops = chip.commands
    check(ops.index(0x97) < ops.index(0x89), "TCXO on DIO3 before Calibrate")
    check(0x98 in ops and 0x9D in ops, "image calibration and DIO2 switch")
    check(chip.errors == 0, "device errors cleared: %04x" % chip.errors)
    check(bytes(radio.read_register(REG_SYNC_WORD, 2)) == b"\x34\x44", "public sync word")
    check(chip.regs[0x08D8] & 0x1E == 0x1E, "errata 15.2 TX clamp")
    check(chip.freq_hz == 868100000 and chip.sf == 7 and chip.bw == 125, "modulation")


def test_sync_word_reset_value_answers_on_spi():
    """What the self-test reads: the register's reset value 0x1424 before configuration."""
    time.set_us(0)
    chip = SimSX1262(simair.Air())
    p = chip.pins
    p["reset"](0)
    p["reset"](1)
    while p["busy"]():
        time.sleep_us(100)
    p["cs"](0)
    chip.spi.write(bytes((0x1D, 0x07, 0x40, 0)))
    buf = bytearray(2)
    chip.spi.readinto(buf)
    p["cs"](1)
    check(bytes(buf) == b"\x14\x24", buf)


def test_tx_end_tick_and_time_on_air():
    air, chip, radio = rig()
    t0 = time.ticks_ms()
    end = radio.send(bytes(20))
    f = air.uplinks[-1]
    toa = simair.time_on_air_us(20, 7, 125) // 1000
    check(abs(end - f.end_us // 1000) <= 1, "TX end tick %d vs air %d" % (end, f.end_us // 1000))
    check(abs((end - t0) - toa) <= 3, "airtime %d vs %d" % (end - t0, toa))
    check(f.freq_hz == 868100000 and not f.iq_inverted and f.sync_word == 0x3444 and f.power == 14, "frame")
    check(chip.busy_violations == 0, "busy")


def test_sf12_time_on_air_matches_datasheet():
    air, chip, radio = rig(sf=12)
    t0 = time.ticks_ms()
    end = radio.send(bytes(23))
    # §6.1.4 with LDRO at SF12/125 kHz: a 23-byte join-request is 8 + 4.25 + 8 + 5 × 5 = 45.25 symbols
    # of 32.768 ms = 1482.75 ms (the figure LoRaWAN airtime calculators give)
    check(abs((end - t0) - 1483) <= 3, "SF12 airtime %d" % (end - t0))


def test_tcxo_board_without_dio3_fails_loudly():
    air, chip, radio = rig(tcxo_mv=None)
    try:
        radio.send(b"x")
        check(False, "sent without TCXO")
    except RadioError as e:
        check("0020" in str(e), str(e))
    check(not air.uplinks, "nothing on air")


def test_missing_dio2_switch_radiates_nothing():
    air, chip, radio = rig(dio2=False)
    radio.send(b"hello")
    check(not air.uplinks, "the PA never reached the antenna")


def _downlink(air, start_us, data=b"\x60downlink", sf=7, freq=868100000, inverted=True):
    f = simair.Frame(start_us, freq, sf, 125, inverted, data, False, -101, -3)
    f.sync_word = 0x3444
    air.schedule(f)
    return f


def test_rx_inverted_iq_with_errata():
    air, chip, radio = rig()
    radio.configure({"invert_iq_rx": True})
    f = _downlink(air, time.now_us() + 30000)
    pkt = radio.recv(timeout_ms=100)
    check(pkt is not None and bytes(pkt) == f.data, "received %r" % (pkt,))
    check(pkt.rssi == -101 and pkt.snr == -12 and not pkt.crc_error, "rssi %d snr %d" % (pkt.rssi, pkt.snr))
    check(abs(pkt.ticks_ms - f.end_us // 1000) <= 1, "RX done tick")
    check(chip.regs[0x0736] & 0x04 == 0, "errata 15.4 applied")


def test_rx_timeout_and_iq_mismatch():
    air, chip, radio = rig()
    t0 = time.ticks_ms()
    check(radio.recv(timeout_ms=50) is None, "nothing scheduled")
    check(50 <= time.ticks_ms() - t0 <= 60, "timeout %d" % (time.ticks_ms() - t0))
    _downlink(air, time.now_us() + 10000)
    radio.configure({"invert_iq_rx": False})
    check(radio.recv(timeout_ms=100) is None, "an inverted-IQ frame is not heard with normal IQ")


def test_rx_header_before_timeout_completes_frame():
    air, chip, radio = rig(sf=12)
    radio.configure({"invert_iq_rx": True})
    t0 = time.now_us()
    f = _downlink(air, t0 + 100000, data=bytes(30), sf=12)
    header = simair.header_offset_us(12, 125)
    pkt = radio.recv(timeout_ms=(100000 + header) // 1000 + 5)
    check(pkt is not None and len(pkt) == 30, "the frame whose header came in time")
    check(time.now_us() >= f.end_us, "received to its end")
    f = _downlink(air, time.now_us() + 100000, sf=12)
    check(radio.recv(timeout_ms=(100000 + header) // 1000 - 20) is None, "header after timeout: missed")


def test_sleep_and_wake():
    air, chip, radio = rig()
    radio.sleep()
    check(chip.mode == "sleep", chip.mode)
    radio.send(b"after sleep")
    check(len(air.uplinks) == 1 and chip.busy_violations == 0, "woke by NSS and sent")


run(globals())
