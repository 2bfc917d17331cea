"""A LoRa modem at the API level of micropython-lib's `lora` package, on simair's air and the sim clock.

Test equipment for the MAC alone (the SPI-level SX1262 model is tools/emulator/sim/simsx1262.py).
"""

import time

import simair


class Packet(bytearray):
    pass


class ApiModem:
    def __init__(self, air):
        self.air = air
        self.cfg = {}
        self.sends = 0

    def configure(self, cfg):
        for k in cfg:
            self.cfg[k] = cfg[k]

    def _radio(self):
        c = self.cfg
        return c["freq_khz"] * 1000, c["sf"], c["bw"]

    def send(self, packet, tx_at_ms=None):
        if tx_at_ms is not None:
            time.sleep_ms(max(0, time.ticks_diff(tx_at_ms, time.ticks_ms())))
        freq, sf, bw = self._radio()
        f = simair.Frame(time.now_us(), freq, sf, bw, self.cfg.get("invert_iq_tx", False), packet, True)
        f.power = self.cfg.get("output_power")
        end = self.air.transmit(f)
        time.advance_us(end - time.now_us())
        self.sends += 1
        return time.ticks_ms()

    def recv(self, timeout_ms=None, rx_length=0xFF, rx_packet=None):
        freq, sf, bw = self._radio()
        opened = time.now_us()
        t_us = None if timeout_ms is None else timeout_ms * 1000
        f = self.air.catch(opened, t_us, freq, sf, bw, self.cfg.get("invert_iq_rx", False))
        if f is None:
            time.advance_us(t_us or 0)
            return None
        time.advance_us(f.end_us - opened)
        p = Packet(f.data)
        p.ticks_ms = time.ticks_ms()
        p.rssi = f.rssi
        p.snr = f.snr * 4
        p.crc_error = False
        return p
