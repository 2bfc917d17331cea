"""The link interface (node/link.py) on the node's own LoRaWAN stack: node/lorawan on an SX1262."""

# ruff: noqa: UP031  (printf-style formatting: works on every MicroPython build)

from node.link import LinkError, LinkSilent, NotJoined, PayloadTooLong

JOIN_DRS = (5, 4, 3, 2, 1, 0)  # start fast, fall back towards DR0 on repeated failures
WAIT_AWAKE_MAX_S = 10  # a band free this soon is waited for awake (cheaper than another wake-up)


class NativeLink:
    """LoRaWAN on the node's own MCU. hw["lora"] holds the SX1262's bus and pins (boards.build)."""

    kind = "native"
    NAME = "radio"  # in the log
    ERROR = LinkError
    SILENT = LinkSilent
    NOT_JOINED = NotJoined
    TOO_LONG = PayloadTooLong  # never raised: the MAC keeps answers that do not fit for the next uplink

    def __init__(self, hw, prov, rtc=None, nv_path="lorawan.nv", battery=None):
        from node.lorawan.mac import Mac
        from node.lorawan.nvstate import NvState

        self._lora = hw["lora"]
        self.radio = make_radio(hw["lora"])
        ident = (
            bytes.fromhex(prov["dev_eui"]),
            bytes.fromhex(prov["join_eui"]),
            bytes.fromhex(prov["app_key"]),
        )
        lora = hw["lora"]
        self.mac = Mac(
            self.radio,
            ident,
            NvState(nv_path),
            rtc=rtc,
            rx_error_ms=lora.get("rx_error_ms", 20),
            battery=battery,
        )

    @property
    def joined(self):
        return self.mac.joined

    def join(self, attempt=0):
        r = self.mac.join(JOIN_DRS[min(attempt, len(JOIN_DRS) - 1)])
        if r.acked and self._rate is not None:
            self.set_rate(*self._rate)  # a join resets the MAC to the join's DR
        return bool(r.acked)

    def send(self, port, payload, confirmed=False):
        if not self.mac.joined:
            raise NotJoined("no session")
        try:
            r = self.mac.send(port, payload, confirmed)
            if not r.sent and 0 < r.wait_s <= WAIT_AWAKE_MAX_S:
                import time

                time.sleep(r.wait_s)
                r = self.mac.send(port, payload, confirmed)
        except ValueError as e:
            raise LinkError(str(e)) from None
        except OSError as e:
            raise LinkSilent(str(e)) from None
        acked = r.sent and (r.acked or not confirmed)
        snr = None if r.snr is None else r.snr // 4
        why = "duty cycle, the sub-band is busy for %d s" % r.wait_s if r.wait_s else ""
        return r.sent, acked, r.downlinks, r.rssi, snr, r.wait_s, why

    _rate = None

    def set_rate(self, adr, data_rate):
        self._rate = (adr, data_rate)
        self.mac.set_adr(adr)
        if not adr:
            self.mac.set_dr(data_rate)

    def set_confirmed(self, confirmed):
        pass  # passed with every send()

    def forget(self):
        self.mac.forget_session()

    def persist(self):
        return self.mac.pack()

    def sleep(self):
        try:
            self.radio.sleep()
        except OSError:
            pass

    def recover(self):
        try:
            self.radio = make_radio(self._lora)
        except OSError:
            return False
        self.mac.radio = self.radio
        return True


def make_radio(lora):
    """The SX1262 driver from the board's bus and pins. To use micropython-lib's driver instead, replace
    the import with `from lora import SX1262` (same keyword arguments, see node/radio/README.md)."""
    from node.radio.sx1262 import SX1262, PinSwitch

    ant = lora.get("ant_power")
    return SX1262(
        spi=lora["spi"],
        cs=lora["cs"],
        busy=lora["busy"],
        dio1=lora["dio1"],
        reset=lora.get("reset"),
        dio2_rf_sw=lora.get("dio2_rf_switch", True),
        dio3_tcxo_millivolts=lora.get("tcxo_mv"),
        ant_sw=PinSwitch(ant) if ant is not None else None,
    )


def battery_byte(mv):
    """DevStatusAns battery byte: 1 (empty, 3.3 V) .. 254 (full, 4.2 V); 255 = not measured."""
    if not mv:
        return 255
    return max(1, min(254, (mv - 3300) * 254 // 900))


def for_node(node):
    """The wake cycle's link: the MAC's state from behind the cycle's RTC image, the configured rate."""
    from node import store
    from node.link import link_tail

    link = NativeLink(
        node.hw, node.prov, rtc=link_tail(node.rtc_image), battery=lambda: battery_byte(node.state.battery_mv)
    )
    link.set_rate(node.cfg["adr"], node.cfg["data_rate"])  # the modem keeps these; the MAC is told
    node.state.set(store.F_JOINED, link.joined)  # the MAC's session (RTC, or flash after a power cut) rules
    return link
