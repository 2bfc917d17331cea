"""LoRaWAN 1.0.x security on MicroPython's cryptolib.aes (ECB): AES-CMAC, MICs, keys, payload keystream.

cryptolib has ECB only (no CMAC, usually no CTR), so CMAC follows RFC 4493 and the FRMPayload keystream
follows TS001-1.0.4 §4.3.3 on top of single-block encryptions. Every block buffer is reused in place: a
frame's crypto allocates a few 16-byte buffers, not one per block.
"""

from cryptolib import aes

_ECB = 1
UP = 0
DOWN = 1


def _double(block):
    """RFC 4493 §2.3 subkey step: shift the 128-bit block left by one, xor Rb (0x87) on carry-out."""
    out = bytearray(16)
    carry = 0
    for i in range(15, -1, -1):
        v = block[i]
        out[i] = ((v << 1) | carry) & 0xFF
        carry = v >> 7
    if carry:
        out[15] ^= 0x87
    return out


def encrypt_block(key, block):
    """One AES-128 encryption of a 16-byte block."""
    out = bytearray(16)
    aes(key, _ECB).encrypt(block, out)
    return out


def cmac(key, msg):
    """AES-CMAC (RFC 4493) of msg (bytes-like) under a 16-byte key: the 16-byte tag."""
    cipher = aes(key, _ECB)
    sub = bytearray(16)
    cipher.encrypt(sub, sub)
    k1 = _double(sub)
    n = len(msg)
    full = n > 0 and n % 16 == 0
    last_key = k1 if full else _double(k1)
    blocks = (n + 15) // 16 if n else 1
    x = bytearray(16)
    for b in range(blocks - 1):
        base = 16 * b
        for j in range(16):
            x[j] ^= msg[base + j]
        cipher.encrypt(x, x)
    base = 16 * (blocks - 1)
    for j in range(16):
        k = base + j
        if k < n:
            v = msg[k]
        elif k == n:
            v = 0x80  # padding 10..0 (only when the last block is short)
        else:
            v = 0
        x[j] ^= v ^ last_key[j]
    cipher.encrypt(x, x)
    return x


def _put32(buf, at, value):
    buf[at] = value & 0xFF
    buf[at + 1] = (value >> 8) & 0xFF
    buf[at + 2] = (value >> 16) & 0xFF
    buf[at + 3] = (value >> 24) & 0xFF


def _frame_block(first, direction, dev_addr, fcnt, last):
    """The A_i / B0 block layout shared by keystream and MIC (TS001 §4.3.3, §4.4)."""
    b = bytearray(16)
    b[0] = first
    b[5] = direction
    _put32(b, 6, dev_addr)
    _put32(b, 10, fcnt)
    b[15] = last
    return b


def crypt_payload(key, direction, dev_addr, fcnt, data):
    """FRMPayload encryption = decryption: data xor AES(key, A_i) for i = 1..k (TS001 §4.3.3)."""
    out = bytearray(data)
    if not out:
        return out
    cipher = aes(key, _ECB)
    a = _frame_block(0x01, direction, dev_addr, fcnt, 0)
    s = bytearray(16)
    for i in range((len(out) + 15) // 16):
        a[15] = i + 1
        cipher.encrypt(a, s)
        base = 16 * i
        for j in range(min(16, len(out) - base)):
            out[base + j] ^= s[j]
    return out


def data_mic(nwk_s_key, direction, dev_addr, fcnt, msg):
    """MIC of a data frame: cmac(NwkSKey, B0 | MHDR..FRMPayload)[0:4] (TS001 §4.4)."""
    b0 = _frame_block(0x49, direction, dev_addr, fcnt, len(msg))
    return bytes(cmac(nwk_s_key, b0 + msg)[:4])


def join_mic(app_key, msg):
    """MIC of a join-request or of a (plain) join-accept: cmac(AppKey, msg)[0:4] (TS001 §6.2.5, §6.2.6)."""
    return bytes(cmac(app_key, msg)[:4])


def decrypt_join_accept(app_key, phy):
    """The plain join-accept: MHDR | AES-ECB *encrypt* of the rest (the server encrypted it with decrypt)."""
    if len(phy) not in (17, 33):
        raise ValueError("join-accept length " + str(len(phy)))
    out = bytearray(phy)
    cipher = aes(app_key, _ECB)
    mv = memoryview(out)
    for at in range(1, len(out), 16):
        cipher.encrypt(mv[at : at + 16], mv[at : at + 16])
    return out


def session_keys(app_key, join_nonce, net_id, dev_nonce):
    """(NwkSKey, AppSKey) of LoRaWAN 1.0.x: AES(AppKey, 0x01|0x02 | JoinNonce | NetID | DevNonce | pad).

    join_nonce and net_id are the 3 on-air (little-endian) bytes each, dev_nonce the counter value.
    """
    b = bytearray(16)
    b[1:4] = join_nonce
    b[4:7] = net_id
    b[7] = dev_nonce & 0xFF
    b[8] = (dev_nonce >> 8) & 0xFF
    cipher = aes(app_key, _ECB)
    keys = []
    for kind in (0x01, 0x02):
        b[0] = kind
        k = bytearray(16)
        cipher.encrypt(b, k)
        keys.append(bytes(k))
    return keys[0], keys[1]
