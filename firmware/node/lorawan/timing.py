"""Receive-window timing per data rate (TS001-1.0.4 §3.3, SX1261/2 datasheet §13.4.4 SetRx timeout).

A window must open early enough for the node's clock error and the radio's wake-up, and its timeout must
last until the header of a downlink that starts as late as the clock error allows has been detected (the
SX126x stops its RX timer on header detection, so a frame that has begun is received to the end). Both
grow with the symbol time: a fixed margin that works at SF12 misses SF7 downlinks, and the reverse.
"""

from node.lorawan import region

RADIO_WAKEUP_MS = 3  # standby -> RX with the TCXO already on, plus SPI configuration
HEADER_SYMBOLS_X4 = 4 * (region.PREAMBLE + 8) + 17  # preamble + 4.25 sync + 8 header symbols, ×4


def symbol_us(dr):
    sf, bw = region.DATA_RATES[dr]
    return (1 << sf) * 1000 // bw


def window(dr, delay_ms, clock_error_ms, clock_ppm=100):
    """(open_early_ms, timeout_ms) of a window nominally delay_ms after the end of the uplink.

    clock_error_ms: the host's fixed timing error (tick resolution, interpreter latency); clock_ppm: the
    oscillator's drift over the delay. The radio listens from delay - early until the latest possible
    header of a frame starting at delay + error has been seen.
    """
    err = clock_error_ms + (delay_ms * clock_ppm + 999999) // 1000000 + 1
    early = err + RADIO_WAKEUP_MS
    header_ms = (HEADER_SYMBOLS_X4 * symbol_us(dr) + 3999) // 4000
    return early, early + err + header_ms
