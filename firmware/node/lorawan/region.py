"""EU868 as RP002-1.0.x defines it: data rates, default channels, RX2, TX power, payload limits, bands.

Frequencies in Hz. One table per fact; the MAC asks, never hard-codes.
"""

# DR -> (spreading factor, bandwidth kHz); DR6 is SF7/250 kHz (RP002 §2.1.3). DR7 (FSK) unsupported.
DATA_RATES = ((12, 125), (11, 125), (10, 125), (9, 125), (8, 125), (7, 125), (7, 250))
MAX_DR = 6
# Largest MACPayload M per DR without repeater (RP002 §2.1.6); FRMPayload + FOpts = M - 8.
MAX_MAC_PAYLOAD = (59, 59, 59, 123, 250, 250, 250)
DEFAULT_FREQS = (868100000, 868300000, 868500000)  # may not be changed or removed (RP002 §2.1.2)
DEFAULT_DR_RANGE = 0x50  # max DR5 | min DR0
MAX_CHANNELS = 16
RX2_FREQ = 869525000
RX2_DR = 0
MAX_EIRP_DBM = 16  # TXPower 0 = max EIRP, each step -2 dB, 0..7 (RP002 §2.1.7)
MAX_TX_POWER = 7
JOIN_ACCEPT_DELAY1_MS = 5000
JOIN_ACCEPT_DELAY2_MS = 6000
SYNC_WORD = 0x34  # public LoRaWAN network (0x3444 in SX126x register terms)
PREAMBLE = 8
# ETSI EN 300 220 sub-bands as RP002 §2.1.2 lists them: (low Hz, high Hz, duty-cycle divisor).
BANDS = (
    (863000000, 865000000, 1000),
    (865000000, 868000000, 100),
    (868000000, 868600000, 100),
    (868700000, 869200000, 1000),
    (869400000, 869650000, 10),
    (869700000, 870000000, 100),
)


def band(freq):
    """Index into BANDS of a frequency, or -1 outside EU868's bands."""
    for i in range(len(BANDS)):
        lo, hi, _ = BANDS[i]
        if lo <= freq <= hi:
            return i
    return -1


def valid_freq(freq):
    return 863000000 <= freq <= 870000000 and band(freq) >= 0


def rx1_dr(dr, offset):
    """RX1 data rate for an uplink DR and RX1DROffset 0..5 (RP002 §2.1.8 table: DR - offset, floor DR0)."""
    return dr - offset if dr > offset else 0


def tx_power_dbm(index):
    return MAX_EIRP_DBM - 2 * index


def max_payload(dr):
    """Largest FRMPayload + FOpts at a DR."""
    return MAX_MAC_PAYLOAD[dr] - 8


def time_on_air_ms(phy_len, dr):
    """Airtime of a PHYPayload of phy_len bytes: explicit header, CR 4/5, 8-symbol preamble, CRC on uplink
    (SX1261/2 datasheet §6.1.4; low data rate optimisation when a symbol exceeds 16 ms)."""
    sf, bw = DATA_RATES[dr]
    ldro = 1 if (1 << sf) // bw >= 16 else 0
    num = 8 * phy_len - 4 * sf + 28 + 16
    den = 4 * (sf - 2 * ldro)
    n = (num + den - 1) // den if num > 0 else 0
    symbols_x4 = 4 * (PREAMBLE + 8) + 17 + 4 * n * 5
    return (symbols_x4 * (1 << sf) + 4 * bw - 1) // (4 * bw)


def cflist_freqs(cflist):
    """The five extra channel frequencies of a CFList type 0 (3 bytes each, ×100 Hz, 0 = none)."""
    if cflist is None or cflist[15] != 0:
        return ()
    out = []
    for i in range(5):
        f = (cflist[3 * i] | (cflist[3 * i + 1] << 8) | (cflist[3 * i + 2] << 16)) * 100
        out.append(f)
    return out
