"""LoRaWAN 1.0.x crypto of the native stack (node/lorawan/crypto.py, frames.py) under MicroPython, 64 KB heap.

Golden vectors from sources we did not write: RFC 4493 §4 (AES-CMAC), the README and unit tests of the npm
package lora-packet (github.com/anthonykirby/lora-packet, __tests__/mic_test.ts, decrypt_test.ts,
key_gen_test.ts, join_accept_encrypt.ts). Then a cross-check both ways: frames our MicroPython code builds
are parsed, MIC-checked and decrypted by lora-packet in Node.js; frames lora-packet builds are parsed by ours.
"""

from __future__ import annotations

import json

from lw_harness import lora_packet, mp

RFC4493_KEY = "2b7e151628aed2a6abf7158809cf4f3c"
RFC4493_MSG = (
    "6bc1bee22e409f96e93d7e117393172aae2d8a571e03ac9c9eb76fac45af8e51"
    "30c81c46a35ce411e5fbc1191a0a52eff69f2445df4f9b17ad2b417be66c3710"
)
# RFC 4493 §4: (message length, CMAC)
RFC4493 = [
    (0, "bb1d6929e95937287fa37d129b756746"),
    (16, "070a16b46b4d4144f79bdd9dd04a287c"),
    (40, "dfa66747de9ae63030ca32611497c827"),
    (64, "51f0bebf7e3b9d92fc49741779363cfe"),
]
NWK = "44024241ed4ce9a68c6a8bc055233fd3"  # lora-packet README
APP = "ec925802ae430ca77fd3dd73cb2cc588"
JOIN_APP_KEY = "98929b92c49edba9676d646d3b612456"  # lora-packet mic_test.ts / key_gen_test.ts

PRELUDE = """
from node.lorawan import crypto, frames
def h(s):
    return bytes.fromhex(s)
def show(*parts):
    print(" ".join([p.hex() if isinstance(p, (bytes, bytearray)) else str(p) for p in parts]))
"""


def run(mpy_tree, body: str) -> list[str]:
    return mp(mpy_tree, PRELUDE + body)


def test_aes_cmac_rfc4493(mpy_tree):
    body = f"key = h('{RFC4493_KEY}')\nmsg = h('{RFC4493_MSG}')\n"
    body += "".join(f"show(crypto.cmac(key, msg[:{n}]))\n" for n, _ in RFC4493)
    # RFC 4493 §4 subkeys: K1 from L = AES(K, 0), K2 from K1
    body += "k1 = crypto._double(crypto.encrypt_block(key, bytes(16)))\nshow(k1, crypto._double(k1))\n"
    out = run(mpy_tree, body)
    assert out[:4] == [tag for _, tag in RFC4493]
    assert out[4] == "fbeed618357133667c85e08f7236a8de f7ddac306ae266ccf90bc11ee46d513b"


def test_lora_packet_data_frame_vectors(mpy_tree):
    out = run(
        mpy_tree,
        f"""
nwk = h('{NWK}'); app = h('{APP}')
# README: 40F17DBE4900020001954378762B11FF0D is DevAddr 49be7df1, FCnt 2, FPort 1, "test"
show(frames.data_uplink(nwk, app, 0x49BE7DF1, 2, 1, b"test"))
# decrypt_test.ts: the 44-byte payload at FCnt 4 (two keystream blocks and a partial third)
c = h('55332de41a11adc072553544429ce7787707d1c316e027e7e5e334263376affb8aa17ad30075293f28dea8a20af3c5e7')
print(crypto.crypt_payload(app, crypto.UP, 0x49BE7DF1, 4, c[:-4]).decode())
# decrypt_test.ts: a wrong AppSKey scrambles
show(crypto.crypt_payload(h('ec925802ae430ca77fd3dd73cb2cc580'), crypto.UP, 0x49BE7DF1, 2, h('95437876')))
# mic_test.ts: FPort 1 with an empty FRMPayload at FCnt 3
show(frames.data_uplink(nwk, app, 0x49BE7DF1, 3, 1, b""))
# mic_test.ts: the ACK downlink 60f17dbe4920020001f9d65d27
d = frames.parse_downlink(nwk, app, 0x49BE7DF1, -1, h('60f17dbe4920020001f9d65d27'))
print(d.fcnt, d.ack, d.confirmed, d.fport, len(d.payload))
try:
    frames.parse_downlink(nwk, app, 0x49BE7DF1, -1, h('60f17dbe4920020001f9d65d28'))
except frames.FrameError as e:
    print("rejected", e)
""",
    )
    assert out == [
        "40f17dbe4900020001954378762b11ff0d",
        "The quick brown fox jumps over the lazy dog.",
        "5999fc3f",
        "40f17dbe49000300012a3518af",
        "2 True False 1 0",
        "rejected MIC",
    ]


def test_lora_packet_join_vectors(mpy_tree):
    out = run(
        mpy_tree,
        f"""
key = h('{JOIN_APP_KEY}')
# mic_test.ts join-request: JoinEUI aa13693363343639, DevEUI 3331383274356905 (printed), DevNonce 0x8904
show(frames.join_request(key, h('aa13693363343639'), h('3331383274356905'), 0x8904))
# mic_test.ts: the MIC of the plain join-accept 20386337CCBBAAE7CD2C010000 is d9d0a6e7
show(crypto.join_mic(key, h('20386337ccbbaae7cd2c010000')))
# key_gen_test.ts: NetID aabbcc, AppNonce 376338, DevNonce f18e (printed; on air little-endian)
nwk, app = crypto.session_keys(key, h('386337'), h('ccbbaa'), 0xF18E)
show(nwk, app)
# join_accept_encrypt.ts: all-zero join-accept under the all-zero AppKey, encrypted
a = frames.parse_join_accept(bytes(16), h('20e3de108795f776b8037610ef7869b5b3'))
print(a.join_nonce, a.net_id.hex(), a.dev_addr, a.rx1_dr_offset, a.rx2_dr, a.rx_delay, a.cflist)
try:
    frames.parse_join_accept(key, h('20e3de108795f776b8037610ef7869b5b3'))
except frames.FrameError as e:
    print("rejected", e)
""",
    )
    assert out == [
        "0039363463336913aa05693574323831330489c65b1304",
        "d9d0a6e7",
        "4e3d6e6afbcc67af2ba3c8e8ec4acf4b 610897aa6f1460623443b527d3ac6a9d",
        "0 000000 0 0 0 1 None",
        "rejected join-accept MIC",
    ]


UPLINKS = [
    # (fcnt, fport, payload hex, confirmed, fctrl, fopts hex)
    (0, 1, "01020304", False, 0x80, ""),
    (7, 2, "00" * 51, True, 0x80, "0203"),
    (65535, 3, "ff" * 17, False, 0xC0, ""),
    (65536 + 12, 224, "08abcd", True, 0x20, "03070500"),
    (70000, 0, "0203", False, 0, ""),
    (1, None, "", False, 0x20, ""),
    (2**32 - 1, 10, "a5" * 222, False, 0, "06ff1f"),
]


def msb(fcnt: int) -> str:
    """lora-packet takes a counter's upper 16 bits in on-air (little-endian) order."""
    return (fcnt >> 16).to_bytes(2, "little").hex()


def test_our_frames_parse_in_lora_packet(mpy_tree):
    """Join-requests and data uplinks from our MicroPython code: lora-packet verifies and decrypts them."""
    body = f"nwk = h('{NWK}'); app = h('{APP}'); key = h('{JOIN_APP_KEY}')\n"
    for nonce in (0, 1, 255, 256, 65535):
        body += f"show(frames.join_request(key, h('70b3d57ed0000001'), h('0004a30b001c0530'), {nonce}))\n"
    for fcnt, fport, payload, confirmed, fctrl, fopts in UPLINKS:
        body += (
            f"show(frames.data_uplink(nwk, app, 0x260B1234, {fcnt}, {fport}, h('{payload}'), "
            f"{confirmed}, {fctrl}, h('{fopts}')))\n"
        )
    frames = run(mpy_tree, body)
    cases = [{"phy": p, "app_key": JOIN_APP_KEY} for p in frames[:5]]
    cases += [
        {"phy": p, "nwk_s_key": NWK, "app_s_key": APP, "fcnt_msb": msb(u[0])}
        for p, u in zip(frames[5:], UPLINKS, strict=True)
    ]
    parsed = lora_packet("parse", cases)
    for nonce, got in zip((0, 1, 255, 256, 65535), parsed[:5], strict=True):
        assert got == {
            "mtype": "Join Request",
            "mic_ok": True,
            "join_eui": "70b3d57ed0000001",
            "dev_eui": "0004a30b001c0530",
            "dev_nonce": nonce,
        }
    for (fcnt, fport, payload, confirmed, fctrl, fopts), got in zip(UPLINKS, parsed[5:], strict=True):
        assert got["mic_ok"] is True, got
        assert got["dev_addr"] == "260b1234"
        assert got["fcnt"] == fcnt & 0xFFFF
        assert got["fport"] == fport
        assert got["confirmed"] is confirmed
        assert got["adr"] is bool(fctrl & 0x80) and got["ack"] is bool(fctrl & 0x20)
        assert got["fopts"] == fopts
        assert got["payload"] == payload


def test_frames_from_lora_packet_parse_in_ours(mpy_tree):
    """Downlinks and encrypted join-accepts built by lora-packet: our parser checks the MIC and decrypts."""
    downs = [
        {"MType": "Unconfirmed Data Down", "FCnt": 5, "FPort": 10, "payload": "0102", "FCtrl": {"ADR": True}},
        {"MType": "Confirmed Data Down", "FCnt": 6, "FPort": 0, "payload": "0306ff0001"},
        # (lora-packet leaves the MIC at eeeeeeee when a frame has no FPort, so this one has FPort 1)
        {
            "MType": "Unconfirmed Data Down",
            "FCnt": 7,
            "FOpts": "0207",
            "FCtrl": {"ACK": True},
            "FPort": 1,
            "payload": "aa",
        },
        {"MType": "Unconfirmed Data Down", "FCnt": 3, "FPort": 224, "payload": "08" + "cd" * 40},
    ]
    for d in downs:
        d["DevAddr"] = "260b1234"
    cflist = "184f84e85684b85e84886684586e8400"  # 867.1..867.9 MHz, CFListType 0 (RP002 §2.1.4)
    cases = [{"fields": d, "nwk_s_key": NWK, "app_s_key": APP} for d in downs]
    fcnt_msb = [None, None, None, msb(0x10003)]
    for case, upper in zip(cases, fcnt_msb, strict=True):
        if upper:
            case["fcnt_msb"] = upper
    cases.append(
        {
            "fields": {
                "MType": "Join Accept",
                "AppNonce": "00002a",
                "NetID": "000013",
                "DevAddr": "260b1234",
                "DLSettings": 0x23,
                "RxDelay": 5,
                "CFList": cflist,
            },
            "app_key": JOIN_APP_KEY,
        }
    )
    phys = lora_packet("build", cases)
    assert all(isinstance(p, str) for p in phys), phys
    body = f"nwk = h('{NWK}'); app = h('{APP}'); key = h('{JOIN_APP_KEY}')\nlast = -1\n"
    for phy in phys[:3]:
        body += (
            f"d = frames.parse_downlink(nwk, app, 0x260B1234, last, h('{phy}'))\nlast = d.fcnt\n"
            "show(d.confirmed, d.fcnt, d.ack, d.adr, d.fopts, d.fport, d.payload)\n"
        )
    # The 4th carries FCnt 0x10003 (low bits 3 < 7): reconstructed to 32 bits past the last counter.
    body += (
        f"d = frames.parse_downlink(nwk, app, 0x260B1234, last, h('{phys[3]}'))\n"
        "show(d.fcnt, d.fport, d.payload)\n"
        f"a = frames.parse_join_accept(key, h('{phys[4]}'))\n"
        "show(a.join_nonce, a.net_id, a.dev_addr, a.rx1_dr_offset, a.rx2_dr, a.rx_delay, a.cflist)\n"
        # a replayed downlink (same counter as the last) is refused
        f"try:\n    frames.parse_downlink(nwk, app, 0x260B1234, 6, h('{phys[1]}'))\n"
        "except frames.FrameError as e:\n    print('rejected', e)\n"
    )
    out = run(mpy_tree, body)
    assert out == [
        "False 5 False True  10 0102",
        "True 6 False False  0 0306ff0001",
        "False 7 True False 0207 1 aa",
        "65539 224 08" + "cd" * 40,
        f"42 130000 {0x260B1234} 2 3 5 {cflist}",
        "rejected MIC",
    ]


def test_crypto_fits_64k_heap(mpy_tree):
    """A 222-byte frame built and parsed back with gc.mem_alloc peak well inside the 64 KB heap."""
    out = run(
        mpy_tree,
        f"""
import gc
nwk = h('{NWK}'); app = h('{APP}')
gc.collect(); base = gc.mem_alloc()
f = frames.data_uplink(nwk, app, 1, 1, 1, bytes(222))
print(gc.mem_alloc() - base)
""",
    )
    assert int(out[0]) < 8 * 1024, out
    json.dumps(out)
