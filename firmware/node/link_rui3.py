"""The link interface (node/link.py) on a RAK3172 running RUI3: AT commands stay in node/rui3.py.

The modem keeps its own session, counters and duty cycle; this adapter does the identity setup once per
modem power-up (`identity_set`, kept by the caller in RTC memory) and maps the driver's errors.
"""

from node import rui3
from node.link import SendResult


class Rui3Link:
    kind = "rui3"
    # the errors the cycle catches (node/link.py names them LinkError, LinkSilent, NotJoined)
    ERROR = rui3.ModemError
    SILENT = rui3.ModemSilent
    NOT_JOINED = rui3.NotJoined
    TOO_LONG = rui3.PayloadTooLong

    def __init__(self, hw, prov, cfg, identity_set=False):
        self.modem = rui3.Rui3(hw["modem_uart"], hw.get("modem_reset"))
        self.prov = prov
        self.cfg = cfg
        self.identity_set = identity_set

    @property
    def exchanges(self):
        return self.modem.exchanges

    def join(self, attempt=0):
        if not self.identity_set:
            p, c = self.prov, self.cfg
            self.modem.setup(
                p["dev_eui"],
                p["join_eui"],
                p["app_key"],
                p["band"],
                c["adr"],
                c["data_rate"],
                c["confirmed"],
            )
            self.identity_set = True
        return self.modem.join()

    def send(self, port, payload, confirmed=False):
        """`confirmed` is the modem's AT+CFM setting, made at setup and on change (set_confirmed)."""
        try:
            ok = self.modem.send(port, payload)
        except rui3.DutyCycle as e:  # the band is closed: not sent, a later wake tries again
            return SendResult(False, False, wait_s=(e.wait_ms + 999) // 1000, why=str(e))
        m = self.modem
        downlinks = [m.downlink] if m.downlink is not None else []
        m.downlink = None
        return SendResult(True, bool(ok), downlinks, m.rssi, m.snr)

    def set_rate(self, adr, data_rate):
        self.modem.set_rate(adr, data_rate)

    def set_confirmed(self, confirmed):
        self.modem.set_confirmed(confirmed)

    def forget(self):
        pass  # the caller clears its joined flag; the next join() is AT+JOIN

    def persist(self):
        return b""

    def sleep(self):
        pass  # AT+LPM=1 (set up at join): the modem sleeps by itself when idle

    def recover(self):
        self.identity_set = False  # a reset modem needs its setup again
        return self.modem.recover()
