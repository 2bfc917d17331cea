"""A LoRaWAN 1.0.4 network + join server for one simulated native (SX1262) node, inside the node's process.

Independent of the firmware's stack (its own CMAC and frame code; both sides' frames are also checked by
the npm lora-packet in the tests). It listens on simair.Air: join-requests are MIC-checked with the
AppKey, a reused DevNonce is refused (as TTS and ChirpStack do), join-accepts carry a growing JoinNonce;
data uplinks are MIC-checked with the 32-bit FCnt, replays and repeats are dropped, payloads decrypted.
Replies are scheduled as frames in RX1 (or RX2) at exactly delay after the uplink's end, inverted IQ.
`state` is a plain dict (hex strings, ints) so the emulator can keep it in the world file across boots.
"""

# ruff: noqa: UP031  (printf-style formatting: works on every MicroPython build, f-strings need MICROPY_PY_FSTRINGS)

import simair
from cryptolib import aes

# EU868 (RP002): DR -> (SF, kHz)
DRS = ((12, 125), (11, 125), (10, 125), (9, 125), (8, 125), (7, 125), (7, 250))
RX2_FREQ = 869525000
# ADR as network servers do it (ChirpStack's default algorithm, Semtech's recommendation): the best SNR of
# the last uplinks against the SNR a spreading factor needs, minus an installation margin, in 3 dB steps.
REQUIRED_SNR = {7: -7.5, 8: -10.0, 9: -12.5, 10: -15.0, 11: -17.5, 12: -20.0}
ADR_HISTORY = 20
ADR_MARGIN_DB = 10.0
# payload lengths of the MAC commands the server sends, and of the answers it receives (TS001-1.0.4 §5)
_DOWN_LEN = {2: 2, 3: 4, 4: 1, 5: 4, 6: 0, 7: 5, 8: 1, 9: 1, 10: 4, 13: 5}
_UP_LEN = {2: 0, 3: 1, 4: 0, 5: 1, 6: 2, 7: 1, 8: 0, 10: 1, 13: 0}


def walk(cmds, lengths):
    """(cid, body) of each MAC command until the end or an unknown CID."""
    out = []
    i = 0
    while i < len(cmds) and cmds[i] in lengths:
        n = lengths[cmds[i]]
        out.append((cmds[i], bytes(cmds[i + 1 : i + 1 + n])))
        i += 1 + n
    return out


def _b(h):
    return bytes.fromhex(h)


def _xor(a, b):
    return bytes([a[i] ^ b[i] for i in range(min(len(a), len(b)))])


def _shl(b):
    out = bytearray(16)
    for i in range(16):
        out[i] = ((b[i] << 1) | (b[i + 1] >> 7 if i < 15 else 0)) & 0xFF
    if b[0] & 0x80:
        out[15] ^= 0x87
    return out


def cmac(key, msg):
    """RFC 4493 AES-CMAC, written apart from the firmware's."""
    c = aes(key, 1)
    k1 = _shl(c.encrypt(bytes(16)))
    k2 = _shl(k1)
    blocks = [msg[i : i + 16] for i in range(0, len(msg), 16)] or [b""]
    last = blocks.pop()
    if len(last) == 16:
        last = _xor(last, k1)
    else:
        last = _xor(last + b"\x80" + bytes(15 - len(last)), k2)
    x = bytes(16)
    for blk in blocks + [last]:
        x = c.encrypt(_xor(x, blk))
    return x


def _block(first, direction, addr, fcnt, last):
    return (
        bytes((first, 0, 0, 0, 0, direction))
        + addr.to_bytes(4, "little")
        + fcnt.to_bytes(4, "little")
        + bytes((0, last))
    )


def _crypt(key, direction, addr, fcnt, data):
    c = aes(key, 1)
    out = bytearray()
    for i in range((len(data) + 15) // 16):
        s = c.encrypt(_block(1, direction, addr, fcnt, i + 1))
        chunk = data[16 * i : 16 * i + 16]
        out += _xor(chunk, s)
    return bytes(out)


class NetworkServer:
    """ident: dev_eui, join_eui, app_key (hex). Knobs for tests: see the attributes set in __init__."""

    def __init__(self, air, ident, state=None, rssi=-90, snr=5):
        self.air = air
        self.ident = ident
        self.s = state if state is not None else {}
        self.s.setdefault("dev_nonces", [])
        self.s.setdefault("join_nonce", 0)
        self.s.setdefault("session", None)
        self.rssi = rssi
        self.snr = snr
        self.rx1_delay_s = 1
        self.rx1_dr_offset = 0
        self.rx2_dr = 0
        self.cflist = None  # 16 bytes for join-accepts, or None
        self.window = 1  # answer in RX1 or RX2
        self.skew_us = 0  # the downlink leaves this far from the nominal window start (edge tests)
        self.drop_joins = 0  # join-requests to leave unanswered
        self.silent = False  # no downlinks at all (dead zone for downlinks)
        self.queue = []  # (fport, payload bytes, confirmed) application downlinks
        self.mac_queue = bytearray()  # MAC commands for the next downlink's FOpts
        self.received = []  # dicts per accepted uplink: fcnt, fport, payload, fopts, confirmed, adr_ack_req
        self.rejected = []  # why frames were refused
        self.always_answer = False  # send an empty downlink after every uplink
        self.replay = None  # a PHYPayload to send (again) instead of the next downlink: replay attacks
        self.adr = False  # run ADR for uplinks with the ADR bit: LinkADRReq when the link allows more
        self.on_join = None  # () -> bool: the join server's verdict (dead zone, refused) beyond the MIC
        self.on_data = None  # (fport, payload, confirmed, fcnt, dr) -> (fport, bytes) or None: the app
        air.listeners.append(self.on_uplink)

    # -- uplinks -----------------------------------------------------------------------------------
    def on_uplink(self, f):
        d = f.data
        if f.iq_inverted or not d or getattr(f, "sync_word", 0x3444) != 0x3444:
            return  # a downlink, or not a public LoRaWAN frame (sync word 0x34)
        mtype = d[0] & 0xE0
        if mtype == 0x00 and len(d) == 23:
            return self._join(f)
        if mtype in (0x40, 0x80) and len(d) >= 12:
            return self._data(f)
        self.rejected.append("mtype")

    def _join(self, f):
        d = f.data
        key = _b(self.ident["app_key"])
        if cmac(key, d[:19])[:4] != d[19:]:
            return self.rejected.append("join MIC")
        if bytes(reversed(d[9:17])).hex() != self.ident["dev_eui"].lower():
            return self.rejected.append("join DevEUI")
        nonce = d[17] | (d[18] << 8)
        if nonce in self.s["dev_nonces"]:
            return self.rejected.append("DevNonce %d reused" % nonce)
        self.s["dev_nonces"].append(nonce)
        if self.on_join is not None and not self.on_join():
            return
        if self.drop_joins:
            self.drop_joins -= 1
            return
        self.s["join_nonce"] += 1
        jn = self.s["join_nonce"].to_bytes(3, "little")
        net_id = bytes((0x13, 0, 0))
        addr = 0x26000000 | (int(self.ident["dev_eui"][-6:], 16) & 0xFFFFFF)
        dls = ((self.rx1_dr_offset & 7) << 4) | (self.rx2_dr & 0x0F)
        plain = bytes((0x20,)) + jn + net_id + addr.to_bytes(4, "little") + bytes((dls, self.rx1_delay_s))
        if self.cflist:
            plain += self.cflist
        plain += cmac(key, plain)[:4]
        dec = aes(key, 1)
        body = bytearray()
        for i in range(1, len(plain), 16):
            body += dec.decrypt(plain[i : i + 16])  # the server "encrypts" with AES decrypt (TS001 §6.2.6)
        keys = []
        for kind in (1, 2):  # NwkSKey, AppSKey (TS001-1.0.4 §6.2.5)
            blk = bytes((kind,)) + jn + net_id + nonce.to_bytes(2, "little") + bytes(7)
            keys.append(aes(key, 1).encrypt(blk).hex())
        self.s["session"] = {
            "dev_addr": addr,
            "nwk": keys[0],
            "app": keys[1],
            "fcnt_up": -1,
            "fcnt_down": 0,
            "rx1_delay": self.rx1_delay_s,
            "rx1_offset": self.rx1_dr_offset,
            "rx2_dr": self.rx2_dr,
        }
        if not self.silent:
            self._reply(f, bytes((0x20,)) + body, 5000000, 6000000, rx1_offset=0)

    def _data(self, f):
        d = f.data
        ses = self.s["session"]
        if not ses:
            return self.rejected.append("no session")
        addr = int.from_bytes(d[1:5], "little")
        if addr != ses["dev_addr"]:
            return self.rejected.append("DevAddr")
        fcnt16 = d[6] | (d[7] << 8)
        last = ses["fcnt_up"]
        fcnt = fcnt16 if last < 0 else ((last & ~0xFFFF) | fcnt16)
        if last >= 0 and fcnt < last:
            fcnt += 0x10000
        nwk = _b(ses["nwk"])
        if cmac(nwk, _block(0x49, 0, addr, fcnt, len(d) - 4) + d[:-4])[:4] != d[-4:]:
            return self.rejected.append("MIC")
        if fcnt <= last:
            # a repetition (NbTrans) or a replay: no new data
            return self.rejected.append("FCnt %d repeated" % fcnt)
        ses["fcnt_up"] = fcnt
        fctrl = d[5]
        n_opts = fctrl & 0x0F
        fopts = d[8 : 8 + n_opts]
        fport = None
        payload = b""
        if 8 + n_opts < len(d) - 4:
            fport = d[8 + n_opts]
            key = nwk if fport == 0 else _b(ses["app"])
            payload = _crypt(key, 0, addr, fcnt, d[9 + n_opts : -4])
        confirmed = d[0] & 0xE0 == 0x80
        self._answers(bytes(fopts) if fport != 0 else payload)
        if self.adr and fctrl & 0x80:
            self._adr(f)
        self.received.append(
            {
                "fcnt": fcnt,
                "fport": fport,
                "payload": payload,
                "fopts": bytes(fopts) if fport != 0 else payload,
                "confirmed": confirmed,
                "adr": bool(fctrl & 0x80),
                "adr_ack_req": bool(fctrl & 0x40),
                "ack": bool(fctrl & 0x20),
                "freq": f.freq_hz,
                "sf": f.sf,
            }
        )
        if self.on_data is not None and fport is not None and fport > 0:
            dl = self.on_data(fport, payload, confirmed, fcnt, DRS.index((f.sf, f.bw_khz)))
            if dl is not None:
                self.queue.append((dl[0], dl[1], False))
        if self.silent:
            return
        if self.replay:
            delay = ses["rx1_delay"] * 1000000
            self._reply(f, self.replay, delay, delay + 1000000, rx1_offset=ses["rx1_offset"])
            self.replay = None
            return
        want = confirmed or self.queue or self.mac_queue or (fctrl & 0x40) or self.always_answer
        if not want:
            return
        fport_dl, data, conf = self.queue.pop(0) if self.queue else (None, b"", False)
        frame = self.downlink(fport_dl, data, conf, ack=confirmed)
        delay = ses["rx1_delay"] * 1000000
        self._reply(f, frame, delay, delay + 1000000, rx1_offset=ses["rx1_offset"])

    def _adr(self, f):
        """Queue a LinkADRReq (DR up, power 0, default channels, NbTrans 1) once enough SNR history says the
        node can use a faster data rate; the uplink's SNR is what the gateway measured (self.snr)."""
        hist = self.s.setdefault("snr_history", [])
        hist.append(self.snr)
        del hist[:-ADR_HISTORY]
        dr = DRS.index((f.sf, f.bw_khz))
        if len(hist) < ADR_HISTORY or dr >= 5 or self.mac_queue:
            return
        steps = int((max(hist) - REQUIRED_SNR[f.sf] - ADR_MARGIN_DB) // 3)
        if steps <= 0:
            return
        new_dr = min(5, dr + steps)
        self.mac_queue += bytes((0x03, (new_dr << 4) | 0, 0x07, 0x00, 0x01))
        hist.clear()

    def _answers(self, cmds):
        """Settings the device acknowledged take effect on the server side too (as a real NS tracks)."""
        ses = self.s["session"]
        pending = self.s.get("pending") or {}
        for cid, body in walk(cmds, _UP_LEN):
            req = pending.get(str(cid))
            if req is None:
                continue
            if cid == 5 and body[0] & 7 == 7:
                ses["rx1_offset"], ses["rx2_dr"] = (req[0] >> 4) & 7, req[0] & 0x0F
            elif cid == 8:
                ses["rx1_delay"] = (req[0] & 0x0F) or 1
        self.s["pending"] = {}

    # -- downlinks ---------------------------------------------------------------------------------
    def downlink(self, fport, data, confirmed=False, ack=False, fcnt=None):
        """A data downlink PHYPayload with the queued MAC commands in FOpts (or FPort 0 if fport == 0)."""
        ses = self.s["session"]
        if fcnt is None:
            fcnt = ses["fcnt_down"]
            ses["fcnt_down"] = fcnt + 1
        addr = ses["dev_addr"]
        nwk = _b(ses["nwk"])
        fopts = bytes(self.mac_queue) if fport != 0 else b""
        pending = self.s.setdefault("pending", {})
        for cid, body in walk(self.mac_queue, _DOWN_LEN):
            pending[str(cid)] = list(body)
        self.mac_queue = bytearray()
        msg = bytearray((0xA0 if confirmed else 0x60,))
        msg += addr.to_bytes(4, "little")
        msg.append((0x20 if ack else 0) | len(fopts))
        msg += (fcnt & 0xFFFF).to_bytes(2, "little")
        msg += fopts
        if fport is not None:
            msg.append(fport)
            msg += _crypt(nwk if fport == 0 else _b(ses["app"]), 1, addr, fcnt, data)
        msg += cmac(nwk, _block(0x49, 1, addr, fcnt, len(msg)) + msg)[:4]
        return bytes(msg)

    def _reply(self, up, phy, d1_us, d2_us, rx1_offset):
        if self.window == 1:
            dr = DRS.index((up.sf, up.bw_khz))
            dr = dr - rx1_offset if dr > rx1_offset else 0
            start, freq = up.end_us + d1_us, up.freq_hz
        else:
            ses = self.s["session"] or {}
            dr, start, freq = ses.get("rx2_dr", 0) if phy[0] != 0x20 else 0, up.end_us + d2_us, RX2_FREQ
        sf, bw = DRS[dr]
        self.air.schedule(
            simair.Frame(start + self.skew_us, freq, sf, bw, True, phy, False, self.rssi, self.snr)
        )
