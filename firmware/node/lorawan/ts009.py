"""The LoRaWAN certification test package (TS009-1.0.0) on FPort 224: what a test tool (LCTT) sends.

handle() answers into res.test_answer (bytes to send on FPort 224 in the next uplink) and sets requests the
wake cycle acts on: res.test_reset (DutResetReq), res.test_rejoin (DutJoinReq), res.tx_period_s.
"""

PORT = 224
PACKAGE_ID = 6  # TS009 package identifier
PACKAGE_VERSION = 1
FW_VERSION = b"\x01\x00\x00\x00"
LORAWAN_VERSION = b"\x01\x00\x04\x00"  # 1.0.4
RP_VERSION = b"\x02\x01\x00\x03"  # RP002-1.0.3
_PERIODS = (0, 5, 10, 20, 30, 40, 50, 60, 120, 240, 480)


class TestState:
    def __init__(self):
        self.rx_app_cnt = 0
        self.confirmed = None  # TxFramesCtrl: None = as the application says, else True/False
        self.enabled = True
        self.duty_cycle = True


def handle(mac, payload, res):
    t = mac.test
    if not t.enabled or not payload:
        return
    t.rx_app_cnt = (t.rx_app_cnt + 1) & 0xFFFF
    cid = payload[0]
    arg = payload[1:]
    out = None
    if cid == 0x00:
        out = bytes((0x00, PACKAGE_ID, PACKAGE_VERSION))
    elif cid == 0x01:
        res.test_reset = True
    elif cid == 0x02:
        res.test_rejoin = True
    elif cid == 0x03:
        pass  # SwitchClassReq: Class A only; B and C are refused by staying in A
    elif cid == 0x04 and arg:
        mac.set_adr(arg[0] == 1)
    elif cid == 0x05 and arg:
        t.duty_cycle = arg[0] != 0
    elif cid == 0x06 and arg and arg[0] < len(_PERIODS):
        res.tx_period_s = _PERIODS[arg[0]]
    elif cid == 0x07 and arg:
        t.confirmed = None if arg[0] == 0 else arg[0] == 2
    elif cid == 0x08:
        out = bytes((0x08,)) + bytes([(b + 1) & 0xFF for b in arg])
    elif cid == 0x09:
        out = bytes((0x09, t.rx_app_cnt & 0xFF, t.rx_app_cnt >> 8))
    elif cid == 0x0A:
        t.rx_app_cnt = 0
    elif cid == 0x20:
        mac.request(0x02)  # LinkCheckReq
    elif cid == 0x21:
        mac.request(0x0D)  # DeviceTimeReq
    elif cid == 0x7E:
        t.enabled = False
    elif cid == 0x7F:
        out = bytes((0x7F,)) + FW_VERSION + LORAWAN_VERSION + RP_VERSION
    if out is not None:
        res.test_answer = out
