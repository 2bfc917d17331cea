"""Figures of the native stack under MicroPython: the MAC + driver's own heap and the join time.

Test equipment (air, network server, chip model) is set up first; the baseline is taken after it, then
node.lorawan and node.radio are imported and a join plus one uplink with a downlink run over SPI. The
peak (live data, collected first) is sampled on every advance of the simulated clock.
Prints "FIG <name> <value>".
"""

import gc
import os
import time

import simair
import simlorawan
from simsx1262 import SimSX1262

IDENT = {
    "dev_eui": "0004a30b001c0530",
    "join_eui": "70b3d57ed0000001",
    "app_key": "98929b92c49edba9676d646d3b612456",
}
PEAK = [0]


def sample(_now):
    gc.collect()  # live data only, as the firmware's figures mode (KUMPEL_SIM_HEAP_EXACT) measures
    used = gc.mem_alloc()
    if used > PEAK[0]:
        PEAK[0] = used


for p in ("fig.nv", "fig.nv.tmp"):
    try:
        os.remove(p)
    except OSError:
        pass
time.set_us(0)
air = simair.Air()
net = simlorawan.NetworkServer(air, IDENT)
chip = SimSX1262(air)
gc.collect()
base = gc.mem_alloc()
time.add_hook(sample)

from node.lorawan.mac import Mac  # noqa: E402
from node.lorawan.nvstate import NvState  # noqa: E402
from node.radio.sx1262 import SX1262  # noqa: E402

gc.collect()
code = gc.mem_alloc() - base
p = chip.pins
radio = SX1262(chip.spi, p["cs"], p["busy"], p["dio1"], reset=p["reset"], dio3_tcxo_millivolts=1800)
keys = (bytes.fromhex(IDENT["dev_eui"]), bytes.fromhex(IDENT["join_eui"]), bytes.fromhex(IDENT["app_key"]))
mac = Mac(radio, keys, NvState("fig.nv"))
t0 = time.ticks_ms()
r = mac.join(5)
join_ms = time.ticks_ms() - t0
time.advance_us(200 * 1000000)
net.queue.append((10, b"\x01\x02\x03", False))
t1 = time.ticks_ms()
u = mac.send(1, bytes(20), False)
send_ms = time.ticks_ms() - t1
rtc = len(mac.pack())
print("FIG joined", int(r.acked and u.downlinks == [(10, b"\x01\x02\x03")]))
print("FIG code_heap", code)
print("FIG peak_heap", PEAK[0] - base)
print("FIG join_ms", join_ms)
print("FIG uplink_ms", send_ms)
print("FIG rtc_bytes", rtc)
print("FIG flash_writes_join_and_uplink", mac.nv.writes)
# a day of 15-minute uplinks (96), kept across deep sleep in RTC bytes: flash writes per day
time._hooks.remove(sample)  # no more heap sampling: the peak is measured above
writes = mac.nv.writes
for _ in range(96):
    time.advance_us(900 * 1000000)
    mac = Mac(radio, keys, mac.nv, rtc=mac.pack())
    mac.send(2, bytes(13), False)
    air.uplinks = []
    net.received = []
print("FIG flash_writes_per_day_96_uplinks", mac.nv.writes - writes)
