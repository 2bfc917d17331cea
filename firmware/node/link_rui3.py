"""The link interface (node/link.py) on a RAK3172 running RUI3: the AT driver (node/rui3.py) itself, with
the interface's few extra methods; AT commands stay in rui3.py.

The modem keeps its own session, counters and duty cycle; this does the identity setup once per modem
power-up (`identity_set`, kept by the caller in RTC memory).
"""

from node import rui3


class Rui3Link(rui3.Rui3):
    kind = "rui3"
    NAME = "modem"  # in the log
    # the errors the cycle catches (node/link.py: LinkError, LinkSilent, NotJoined, PayloadTooLong)
    ERROR = rui3.ModemError
    SILENT = rui3.ModemSilent
    NOT_JOINED = rui3.NotJoined
    TOO_LONG = rui3.PayloadTooLong

    def __init__(self, hw, prov, cfg, identity_set=False):
        super().__init__(hw["modem_uart"], hw.get("modem_reset"))
        self.prov = prov
        self.cfg = cfg
        self.identity_set = identity_set

    def join(self, attempt=0):
        if not self.identity_set:
            p, c = self.prov, self.cfg
            _settings().setup(
                self,
                p["dev_eui"],
                p["join_eui"],
                p["app_key"],
                p["band"],
                c["adr"],
                c["data_rate"],
                c["confirmed"],
            )
            _unload_settings()
            self.identity_set = True
        return super().join()

    def set_rate(self, adr, data_rate):
        _settings().set_rate(self, adr, data_rate)
        _unload_settings()

    def set_confirmed(self, confirmed):
        _settings().set_confirmed(self, confirmed)
        _unload_settings()

    def send(self, port, payload, confirmed=False):
        """`confirmed` is the modem's AT+CFM setting, made at setup and on change (set_confirmed)."""
        try:
            ok = super().send(port, payload)
        except rui3.DutyCycle as e:  # the band is closed: not sent, a later wake tries again
            return False, False, (), None, None, (e.wait_ms + 999) // 1000, str(e)
        dl = self.downlink
        self.downlink = None
        return True, bool(ok), (dl,) if dl is not None else (), self.rssi, self.snr, 0, ""

    def forget(self):
        pass  # the caller clears its joined flag; the next join() is AT+JOIN

    def persist(self):
        return b""

    def sleep(self):
        pass  # AT+LPM=1 (set up at join): the modem sleeps by itself when idle

    def recover(self):
        self.identity_set = False  # a reset modem needs its setup again
        return super().recover()


def _settings():
    from node import rui3_setup

    return rui3_setup


def _unload_settings():
    from node.app import _unload

    _unload("node.rui3_setup")
