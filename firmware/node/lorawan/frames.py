"""LoRaWAN 1.0.4 PHYPayloads: the join-request and data uplinks a device builds, the join-accept and data
downlinks it parses (TS001-1.0.4 §4, §6.2). Keys and EUIs are bytes; EUIs as printed (MSB first), and
reversed here to the little-endian order on air; DevAddr and frame counters are ints.
"""

from node.lorawan import crypto

JOIN_REQUEST = 0x00
JOIN_ACCEPT = 0x20
UNCONFIRMED_UP = 0x40
UNCONFIRMED_DOWN = 0x60
CONFIRMED_UP = 0x80
CONFIRMED_DOWN = 0xA0

# FCtrl bits (TS001 §4.3.1): ADR 7, ADRACKReq 7-1 (uplink), ACK 5, FPending 4 (downlink), FOptsLen 3:0.
ADR = 0x80
ADR_ACK_REQ = 0x40
ACK = 0x20
FPENDING = 0x10


class FrameError(ValueError):
    """A frame that is not for us or not intact: the caller drops it (a radio hears anything)."""


def _le32(buf, at):
    return buf[at] | (buf[at + 1] << 8) | (buf[at + 2] << 16) | (buf[at + 3] << 24)


def join_request(app_key, join_eui, dev_eui, dev_nonce):
    """MHDR | JoinEUI | DevEUI | DevNonce | MIC (23 bytes)."""
    msg = bytearray(19)
    for i in range(8):
        msg[1 + i] = join_eui[7 - i]
        msg[9 + i] = dev_eui[7 - i]
    msg[17] = dev_nonce & 0xFF
    msg[18] = (dev_nonce >> 8) & 0xFF
    return bytes(msg) + crypto.join_mic(app_key, msg)


class JoinAccept:
    """The fields of a decrypted, MIC-checked join-accept."""

    def __init__(self, plain):
        self.join_nonce = plain[1] | (plain[2] << 8) | (plain[3] << 16)
        self.join_nonce_raw = bytes(plain[1:4])
        self.net_id = bytes(plain[4:7])
        self.dev_addr = _le32(plain, 7)
        self.rx1_dr_offset = (plain[11] >> 4) & 0x07
        self.rx2_dr = plain[11] & 0x0F
        self.rx_delay = (plain[12] & 0x0F) or 1  # 0 means 1 s (TS001 §5.7)
        self.cflist = bytes(plain[13:29]) if len(plain) == 33 else None


def parse_join_accept(app_key, phy):
    """Decrypt and MIC-check a join-accept; FrameError if it is not one for this AppKey."""
    if len(phy) < 1 or phy[0] & 0xE0 != JOIN_ACCEPT:
        raise FrameError("not a join-accept")
    try:
        plain = crypto.decrypt_join_accept(app_key, phy)
    except ValueError as e:
        raise FrameError(str(e)) from None
    n = len(plain) - 4
    if crypto.join_mic(app_key, memoryview(plain)[:n]) != bytes(plain[n:]):
        raise FrameError("join-accept MIC")
    return JoinAccept(plain)


def data_uplink(nwk_s_key, app_s_key, dev_addr, fcnt, fport, payload, confirmed=False, fctrl=0, fopts=b""):
    """A data uplink. fctrl carries ADR/ADRACKReq/ACK; fopts (≤ 15 bytes of MAC answers) travel in clear;
    fport None sends no FPort/FRMPayload; fport 0 encrypts payload (MAC commands) with NwkSKey."""
    if len(fopts) > 15:
        raise ValueError("FOpts over 15 bytes")
    if fport == 0 and fopts:
        raise ValueError("MAC commands in both FOpts and FPort 0")
    msg = bytearray(8)
    msg[0] = CONFIRMED_UP if confirmed else UNCONFIRMED_UP
    for i in range(4):
        msg[1 + i] = (dev_addr >> (8 * i)) & 0xFF
    msg[5] = (fctrl & 0xF0) | len(fopts)
    msg[6] = fcnt & 0xFF
    msg[7] = (fcnt >> 8) & 0xFF
    msg += fopts
    if fport is not None:
        msg.append(fport)
        key = nwk_s_key if fport == 0 else app_s_key
        msg += crypto.crypt_payload(key, crypto.UP, dev_addr, fcnt, payload)
    msg += crypto.data_mic(nwk_s_key, crypto.UP, dev_addr, fcnt, msg)
    return bytes(msg)


def full_fcnt(fcnt16, last):
    """The 32-bit counter of a received 16-bit FCnt: the smallest value > last with those low bits
    (last = -1 before the first downlink). 1.0.4 has no MAX_FCNT_GAP (TS001-1.0.4 §4.3.1.5)."""
    if last < 0:
        return fcnt16
    value = (last & ~0xFFFF) | fcnt16
    if value <= last:
        value += 0x10000
    return value


class Downlink:
    """A MIC-checked data downlink, payload decrypted. fport None: no FRMPayload."""

    def __init__(self, confirmed, fcnt, fctrl, fopts, fport, payload):
        self.confirmed = confirmed
        self.fcnt = fcnt
        self.ack = bool(fctrl & ACK)
        self.fpending = bool(fctrl & FPENDING)
        self.adr = bool(fctrl & ADR)
        self.fopts = fopts
        self.fport = fport
        self.payload = payload


def parse_downlink(nwk_s_key, app_s_key, dev_addr, last_fcnt, phy):
    """Check and decrypt a data downlink for dev_addr; FrameError for anything else, a bad MIC or a
    replayed counter (FCnt not above last_fcnt)."""
    n = len(phy)
    if n < 12:
        raise FrameError("short frame")
    mtype = phy[0] & 0xE0
    if mtype not in (UNCONFIRMED_DOWN, CONFIRMED_DOWN) or phy[0] & 0x03:
        raise FrameError("not a LoRaWAN R1 data downlink")
    if _le32(phy, 1) != dev_addr:
        raise FrameError("other DevAddr")
    fctrl = phy[5]
    fopts_len = fctrl & 0x0F
    head = 8 + fopts_len
    if head > n - 4:
        raise FrameError("FOpts beyond the frame")
    fcnt = full_fcnt(phy[6] | (phy[7] << 8), last_fcnt)
    mv = memoryview(phy)
    if crypto.data_mic(nwk_s_key, crypto.DOWN, dev_addr, fcnt, mv[: n - 4]) != bytes(phy[n - 4 :]):
        raise FrameError("MIC")
    fopts = bytes(phy[8:head])
    fport = None
    payload = b""
    if head < n - 4:
        fport = phy[head]
        if fport == 0 and fopts_len:
            raise FrameError("MAC commands in FOpts and FPort 0")
        key = nwk_s_key if fport == 0 else app_s_key
        payload = bytes(crypto.crypt_payload(key, crypto.DOWN, dev_addr, fcnt, mv[head + 1 : n - 4]))
    return Downlink(mtype == CONFIRMED_DOWN, fcnt, fctrl, fopts, fport, payload)
