"""The air around one simulated node: LoRa frames with start/end times, frequency, SF, bandwidth and IQ.

Radios (the SPI-level SX1262 model, or a test modem) put their transmissions here and ask it what they
hear. What a receiver hears follows the SX1261/2 datasheet: a frame is caught when the receiver is on the
same frequency, SF, bandwidth and IQ polarity and listens before the frame's preamble has gone by (it
needs MIN_PREAMBLE_SYMBOLS of the 8), and the RX timeout has not expired before the header is detected
(§13.4.4 SetRx: the timer stops on header detection, so a started frame is received to its end).
Time on air: datasheet §6.1.4. A listener (the simulated network server) sees every uplink and may
schedule downlinks in reply.
"""

PREAMBLE = 8
MIN_PREAMBLE_SYMBOLS = 5
FREQ_TOLERANCE_HZ = 1000  # PLL steps are 0.95 Hz; a receiver hears a frame within a few kHz of its channel


def symbol_us(sf, bw_khz):
    return (1 << sf) * 1000 // bw_khz


def time_on_air_us(n, sf, bw_khz, crc=True, cr=1, preamble=PREAMBLE, implicit=False):
    """SX1261/2 datasheet §6.1.4 (SF5/6 not used by LoRaWAN): preamble + 4.25 + 8 + payload symbols."""
    ldro = 1 if symbol_us(sf, bw_khz) >= 16000 else 0
    num = 8 * n + (16 if crc else 0) - 4 * sf + 8 + (0 if implicit else 20)
    den = 4 * (sf - 2 * ldro)
    blocks = max((num + den - 1) // den, 0) if num > 0 else 0
    sym_x4 = 4 * preamble + 17 + 32 + 4 * blocks * (cr + 4)
    return sym_x4 * symbol_us(sf, bw_khz) // 4


def header_offset_us(sf, bw_khz, preamble=PREAMBLE):
    """From the first preamble symbol to header detection (preamble + 4.25 sync + 8 header symbols)."""
    return (4 * preamble + 17 + 32) * symbol_us(sf, bw_khz) // 4


class Frame:
    def __init__(self, start_us, freq_hz, sf, bw_khz, iq_inverted, data, crc, rssi=-90, snr=5):
        self.start_us = start_us
        self.freq_hz = freq_hz
        self.sf = sf
        self.bw_khz = bw_khz
        self.iq_inverted = iq_inverted
        self.data = bytes(data)
        self.crc = crc
        self.rssi = rssi
        self.snr = snr
        self.end_us = start_us + time_on_air_us(len(data), sf, bw_khz, crc)


class Air:
    def __init__(self):
        self.uplinks = []
        self.downlinks = []  # Frames scheduled towards the node
        self.listeners = []

    def transmit(self, frame):
        """A node transmission: recorded, shown to the listeners (who may schedule downlinks)."""
        self.uplinks.append(frame)
        for fn in self.listeners:
            fn(frame)
        return frame.end_us

    def schedule(self, frame):
        self.downlinks.append(frame)

    def catch(self, open_us, timeout_us, freq_hz, sf, bw_khz, iq_inverted):
        """The scheduled frame a receiver listening from open_us with this timeout would receive, or None.
        timeout_us None = single mode without timeout. Frames that were missed are dropped."""
        best = None
        sym = symbol_us(sf, bw_khz)
        for f in self.downlinks:
            if (
                abs(f.freq_hz - freq_hz) > FREQ_TOLERANCE_HZ
                or f.sf != sf
                or f.bw_khz != bw_khz
                or f.iq_inverted != iq_inverted
            ):
                continue
            if open_us > f.start_us + (PREAMBLE - MIN_PREAMBLE_SYMBOLS) * sym:
                continue  # too much of the preamble gone
            if timeout_us is not None and f.start_us + header_offset_us(sf, bw_khz) > open_us + timeout_us:
                continue
            if best is None or f.start_us < best.start_us:
                best = f
        if best is not None:
            self.downlinks.remove(best)
        return best

    def expire(self, now_us):
        self.downlinks = [f for f in self.downlinks if f.end_us > now_us]
