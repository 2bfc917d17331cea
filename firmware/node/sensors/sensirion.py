"""Sensirion I2C framing shared by SHTC3 and SHT4x: 16-bit words each followed by a CRC-8.

CRC-8 with polynomial 0x31, init 0xFF, no reflection, no final XOR (check: 0xBEEF -> 0x92). Every word is
checked: a humidity word with a bad CRC is as wrong as a temperature word, and a bus with a bad CRC on
one word cannot be trusted for the other.
"""


def crc8(data, start=0, end=None):
    """CRC-8/NRSC-5 (poly 0x31, init 0xFF) over data[start:end]."""
    if end is None:
        end = len(data)
    crc = 0xFF
    for i in range(start, end):
        crc ^= data[i]
        for _ in range(8):
            crc = ((crc << 1) ^ 0x31) & 0xFF if crc & 0x80 else (crc << 1) & 0xFF
    return crc


def word(buf, offset):
    """The 16-bit word at buf[offset:offset+2] if its CRC at buf[offset+2] matches, else -1."""
    if crc8(buf, offset, offset + 2) != buf[offset + 2]:
        return -1
    return (buf[offset] << 8) | buf[offset + 1]
