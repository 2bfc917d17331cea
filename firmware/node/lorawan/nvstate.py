"""What the MAC must keep across a power cut: one small flash file, written atomically, only on change.

DevNonce (the next value: a counter from 0, TS001-1.0.4 §6.2.5), the last JoinNonce, and the session
(DevAddr, keys, join-accept settings, CFList) plus the FCntUp floor: every FCntUp ever used is below it,
so after a power cut the node restarts its counter at the floor (a safe forward jump, never a repeat).
The floor moves in steps of FCNT_STEP, so the file is written once per FCNT_STEP uplinks, not per uplink.
"""

import struct
from binascii import crc32

FCNT_STEP = 100  # uplinks per flash write; far below the 32768 a network server's 16-bit guess tolerates
_FMT = "<2sBHiBIIIBBB16s16s16s"
_MAGIC = b"LW"
_VERSION = 1
NO_FCNT = 0xFFFFFFFF


class NvState:
    def __init__(self, path):
        self.path = path
        self.writes = 0  # flash writes by this object (the figures count them per day)
        self.dev_nonce = 0
        self.join_nonce = -1
        self.joined = 0
        self.dev_addr = 0
        self.fcnt_floor = 0
        self.fcnt_down = NO_FCNT
        self.rx1_offset = 0
        self.rx2_dr = 0
        self.rx_delay = 1
        self.nwk_s_key = bytes(16)
        self.app_s_key = bytes(16)
        self.cflist = bytes(16)
        self.problem = None
        self.load()

    def _pack(self):
        body = struct.pack(
            _FMT,
            _MAGIC,
            _VERSION,
            self.dev_nonce,
            self.join_nonce,
            self.joined,
            self.dev_addr,
            self.fcnt_floor,
            self.fcnt_down,
            self.rx1_offset,
            self.rx2_dr,
            self.rx_delay,
            self.nwk_s_key,
            self.app_s_key,
            self.cflist,
        )
        return body + struct.pack("<I", crc32(body))

    def load(self):
        try:
            with open(self.path, "rb") as f:
                raw = f.read()
        except OSError:
            return  # never joined on this flash: DevNonce starts at 0
        size = struct.calcsize(_FMT)
        if len(raw) != size + 4 or struct.unpack("<I", raw[size:])[0] != crc32(raw[:size]):
            # A torn file cannot happen (atomic rename); a corrupt one must not reset DevNonce to 0
            # silently: keep the counter as high as anything readable and report the problem.
            self.problem = "corrupt " + self.path
            if len(raw) >= 5 and raw[:2] == _MAGIC:
                self.dev_nonce = (raw[3] | (raw[4] << 8)) + 1
            return
        f = struct.unpack(_FMT, raw[:size])
        if f[0] != _MAGIC or f[1] != _VERSION:
            self.problem = "unknown version in " + self.path
            return
        (
            _,
            _,
            self.dev_nonce,
            self.join_nonce,
            self.joined,
            self.dev_addr,
            self.fcnt_floor,
            self.fcnt_down,
            self.rx1_offset,
            self.rx2_dr,
            self.rx_delay,
            self.nwk_s_key,
            self.app_s_key,
            self.cflist,
        ) = f

    def save(self):
        """Atomic: temp file, then rename (a power cut leaves the old or the new file)."""
        import os

        tmp = self.path + ".tmp"
        with open(tmp, "wb") as f:
            f.write(self._pack())
        os.rename(tmp, self.path)
        self.writes += 1

    def take_dev_nonce(self):
        """The DevNonce for the next join-request, written to flash before it is returned."""
        n = self.dev_nonce
        if n > 0xFFFF:
            raise ValueError("DevNonce space used up: this JoinEUI cannot join again")
        self.dev_nonce = n + 1
        self.save()
        return n

    def reserve_fcnt(self, fcnt):
        """Before an uplink with FCntUp fcnt goes out: move the floor past it if needed (one write)."""
        if fcnt >= self.fcnt_floor:
            self.fcnt_floor = fcnt + FCNT_STEP
            self.save()
