"""LoRa time on air and the EU868 limits a node must live within (duty cycle, fair use, max payload).

Semtech AN1200.13 with LoRaWAN's fixed choices: explicit header, CRC on, coding rate 4/5, 8-symbol
preamble, low-data-rate optimisation at SF11/SF12 on 125 kHz. Sizes are *application* bytes: the 13 bytes
of LoRaWAN framing (MHDR, DevAddr, FCtrl, FCnt, FPort, MIC) are added here. Runs on MicroPython too, so a
node can size its batches against its airtime budget.
"""

LORAWAN_OVERHEAD = 13  # MHDR 1 + DevAddr 4 + FCtrl 1 + FCnt 2 + FPort 1 + MIC 4
PREAMBLE_SYMBOLS = 8
CODING_RATE = 1  # 4/5
DUTY_CYCLE = 0.01  # EU868 main sub-bands
FAIR_USE_MS_PER_DAY = 30000  # The Things Network: 30 s of uplink airtime per device per day
MS_PER_DAY = 86400000

# EU868 data rates: DR -> (spreading factor, bandwidth kHz, max application payload bytes)
DATA_RATES = {
    0: (12, 125, 51),
    1: (11, 125, 51),
    2: (10, 125, 51),
    3: (9, 125, 115),
    4: (8, 125, 242),
    5: (7, 125, 242),
}


class AirtimeError(ValueError):
    """A size, spreading factor, bandwidth or data rate outside what LoRa / EU868 allows."""


def time_on_air_ms(payload_bytes, sf, bw_khz=125):
    """Milliseconds on air of an uplink carrying `payload_bytes` application bytes."""
    if not isinstance(payload_bytes, int) or isinstance(payload_bytes, bool) or payload_bytes < 0:
        raise AirtimeError("payload size must be a whole number of bytes >= 0, got " + repr(payload_bytes))
    if payload_bytes > 242:
        raise AirtimeError("payload of " + str(payload_bytes) + " bytes exceeds the EU868 maximum of 242")
    if sf not in (7, 8, 9, 10, 11, 12):
        raise AirtimeError("spreading factor must be 7..12, got " + repr(sf))
    if bw_khz not in (125, 250, 500):
        raise AirtimeError("bandwidth must be 125, 250 or 500 kHz, got " + repr(bw_khz))
    de = 1 if (sf >= 11 and bw_khz == 125) else 0
    pl = payload_bytes + LORAWAN_OVERHEAD
    num = 8 * pl - 4 * sf + 28 + 16  # explicit header: IH = 0
    den = 4 * (sf - 2 * de)
    blocks = (num + den - 1) // den if num > 0 else 0  # integer ceil: no float rounding at the edge
    symbols = PREAMBLE_SYMBOLS + 4.25 + 8 + blocks * (CODING_RATE + 4)
    return symbols * (1 << sf) / bw_khz


def max_payload(dr):
    """Largest application payload (bytes) at an EU868 data rate."""
    if dr not in DATA_RATES:
        raise AirtimeError("EU868 data rate must be 0..5, got " + repr(dr))
    return DATA_RATES[dr][2]


def sf_for_dr(dr):
    if dr not in DATA_RATES:
        raise AirtimeError("EU868 data rate must be 0..5, got " + repr(dr))
    return DATA_RATES[dr][0]


def uplinks_per_day_duty_cycle(toa_ms, duty_cycle=DUTY_CYCLE):
    """Most uplinks a day under the duty cycle (the node must stay silent toa/duty - toa after each)."""
    return int(MS_PER_DAY * duty_cycle // toa_ms)


def uplinks_per_day_fair_use(toa_ms, budget_ms=FAIR_USE_MS_PER_DAY):
    """Most uplinks a day within a daily airtime budget (TTN fair use: 30 s)."""
    return int(budget_ms // toa_ms)
