"""The radio world of a native-LoRaWAN board (board profile link "native"): an SX1262 chip model on the
board's SPI bus and pins, the air around it, and the LoRaWAN network server that answers it.

Wired by simworld from the same board profile the firmware builds its machine objects from. The network
server's application side is simworld's: a data uplink it accepts becomes the same uplink record (or TCP
call to the emulator's network server) as a RAK3172 node's, and the application downlink that comes back
is sent in the node's RX1 window. Server state (DevNonces seen, session, counters) lives in the world file.
"""

import json

import simair
import simlorawan
from simsx1262 import SimSX1262


class NativeRadio:
    def __init__(self, world, saved=None):
        self.w = world
        lp = world.profile["lora"]
        self.air = simair.Air()
        self.chip = SimSX1262(
            self.air, tcxo=bool(lp.get("tcxo_mv")), dio2_rf_switch=lp.get("dio2_rf_switch", True)
        )
        self.spi_bus = lp["spi"][0]
        self.pins = {lp["nss"]: "cs", lp["busy"]: "busy", lp["dio1"]: "dio1", lp["reset"]: "reset"}
        ident = _identity(world)
        self.net = simlorawan.NetworkServer(self.air, ident, saved or {})
        self.net.on_data = self._data
        self.net.on_join = self._join
        self.net.adr = True  # as a network server does for ADR-enabled devices
        self.air.listeners.append(self._airtime)

    def state(self):
        return self.net.s

    def on_boot(self):
        self.air.downlinks = []
        self.net.rssi = self.w.radio.get("rssi", -90)
        self.net.snr = self.w.radio.get("snr", 5)
        self.net.silent = bool(self.w.radio.get("dead_zone"))

    def power_lost(self):
        self.chip._reset()

    # -- pins and bus ------------------------------------------------------------------------------
    def level(self, pin):
        return self.chip.level(self.pins[pin])

    def drive(self, pin, level):
        self.chip.drive(self.pins[pin], level)

    def irq(self, pin, handler):
        if self.pins.get(pin) == "dio1":
            self.chip.pins["dio1"].handler = handler

    # -- network side ------------------------------------------------------------------------------
    def _airtime(self, frame):
        self.w.cycle_tx_ms += (frame.end_us - frame.start_us) / 1000

    def _join(self):
        return self.w.join(self.net.ident["join_eui"])

    def _data(self, fport, payload, confirmed, fcnt, dr):
        """An accepted application uplink: the world records it; its downlink (fport, bytes) or None."""
        if not 1 <= fport <= 223:
            return None
        dl, _ = self.w.uplink(fport, payload, confirmed, fcnt, dr)
        return (dl["fport"], dl["data"]) if dl else None


def _identity(world):
    """dev_eui / join_eui / app_key as the node was provisioned (provision.json on its flash)."""
    try:
        with open(world.flash_dir + "/provision.json") as f:
            p = json.load(f)
    except (OSError, ValueError):
        p = {}
    return {
        "dev_eui": (p.get("dev_eui") or world.dev_eui).lower(),
        "join_eui": (p.get("join_eui") or "0000000000000000").lower(),
        "app_key": (p.get("app_key") or "00" * 16).lower(),
    }
