"""MSB-first bit writer and reader over a bytearray.

Fields are at most 16 bits wide, so every intermediate value stays a small int (ESP32 small ints are
31-bit): no frame is ever built as one big integer. Runs on CPython and MicroPython.
"""


class BitWriter:
    """Writes fields MSB first into a zero-filled buffer; the unused tail bits stay 0 (padding)."""

    def __init__(self, nbytes):
        self.buf = bytearray(nbytes)
        self.pos = 0

    def write(self, value, nbits):
        buf = self.buf
        pos = self.pos
        while nbits > 0:
            free = 8 - (pos & 7)
            take = free if free < nbits else nbits
            nbits -= take
            chunk = (value >> nbits) & ((1 << take) - 1)
            buf[pos >> 3] |= chunk << (free - take)
            pos += take
        self.pos = pos


class BitReader:
    """Reads fields MSB first; the caller checks `bits_left()` before reading (no bounds check here)."""

    def __init__(self, data):
        self.data = data
        self.pos = 0
        self.end = len(data) * 8

    def bits_left(self):
        return self.end - self.pos

    def read(self, nbits):
        data = self.data
        pos = self.pos
        value = 0
        while nbits > 0:
            avail = 8 - (pos & 7)
            take = avail if avail < nbits else nbits
            value = (value << take) | ((data[pos >> 3] >> (avail - take)) & ((1 << take) - 1))
            pos += take
            nbits -= take
        self.pos = pos
        return value


def zigzag(d):
    """Signed difference -> unsigned code: 0->0, -1->1, 1->2, -2->3 ..."""
    return d << 1 if d >= 0 else ((-d) << 1) - 1


def unzigzag(z):
    return z >> 1 if not z & 1 else -((z + 1) >> 1)


def width(z):
    """Bits needed to hold the unsigned value z (0 for 0)."""
    n = 0
    while z:
        z >>= 1
        n += 1
    return n
