"""The fast runner (many nodes per MicroPython process) against the reference (one process per node).

Same bytes: a seeded scenario gives identical uplinks (payload, FCnt, port, simulated timestamp) for every
node either way, faults and the offline config downlink included. Causality: a downlink the fleet queues
while it ingests uplink n (events posted off the radio link's path) reaches the node in the receive
window of uplink n+1, however slow the fleet answers.
"""

import threading
import time

import pytest

from protocols import codec
from tools.emulator.event_queue import OrderedEventQueue
from tools.emulator.network_server import MemorySink
from tools.emulator.runner import SIM_DIR, Emulation
from tools.emulator.scenario import load, loads

pytestmark = pytest.mark.skipif(
    not (SIM_DIR / "simboot.py").exists(), reason="tools/emulator/sim/simboot.py not in this checkout"
)

MIXED = """
[scenario]
days = 0.25
seed = 11
[defaults]
config = { meas_interval_min = 15, batch_size = 4 }
[nodes.bins]
count = 3
dev_eui_start = "70b3d57ed00f1000"
bin = { height_cm = 110, fill_pct_per_hour = 3.0, noise_cm = 2.0 }
radio = { gateways = 2, packet_loss = 0.2 }
[nodes.park]
count = 2
dev_eui_start = "70b3d57ed00f2000"
climate_sensor = "bme280"
ultrasonic = "jsn_sr04t"
[[nodes.park.faults]]
kind = "power_cut_flash_write"
at_h = 2
duration_h = 1
[[nodes.park.faults]]
kind = "modem_busy"
at_h = 4
duration_h = 2
"""


def run(sc, *, reference: bool, workers: int | None = None) -> tuple[list, dict]:
    emu = Emulation(sc, reference=reference, workers=workers, record_uplinks=True)
    try:
        emu.start()
        assert emu.wait(timeout_s=240), "the emulation did not finish"
        summary = emu.summary()
        assert not summary["link_errors"]
        return sorted(emu.link.uplink_log or []), summary
    finally:
        emu.stop()
        emu.cleanup()


@pytest.mark.parametrize("text", [MIXED, None], ids=["mixed", "fault_storm"])
def test_fast_runner_sends_the_same_bytes_as_the_reference(text):
    sc = loads(text) if text else load("fault_storm").with_nodes(3)
    if text is None:
        from dataclasses import replace

        sc = replace(sc, days=0.3)
    ref, ref_summary = run(sc, reference=True)
    fast, fast_summary = run(sc, reference=False, workers=2)  # two nodes or more share a process
    assert len(ref) > 4 * len(sc.nodes)
    for node in sc.nodes:  # per node, so a failure names the node
        mine = [u for u in fast if u[0] == node.dev_eui]
        theirs = [u for u in ref if u[0] == node.dev_eui]
        assert mine == theirs, f"{node.name}: fast runner's uplinks differ from the reference's"
    assert fast_summary["wake_cycles"] == ref_summary["wake_cycles"]
    assert [n["reset_causes"] for n in fast_summary["per_node"]] == [
        n["reset_causes"] for n in ref_summary["per_node"]
    ]
    assert fast_summary["runner"].startswith("fast (2 ")


class SlowFleet(MemorySink):
    """A fleet that takes its time over the first uplink and queues a config downlink while ingesting it."""

    def __init__(self, delay_s: float):
        super().__init__()
        self.delay_s = delay_s
        self.ns = None
        self.answered: list[int] = []
        self._once = threading.Lock()

    def post(self, event, message):
        super().post(event, message)
        if event == "up" and self._once.acquire(blocking=False):
            time.sleep(self.delay_s)
            frame = codec.encode_config({"config_version": 2, "settings": {"meas_interval_min": 10}})
            self.ns.enqueue(message.device_info.dev_eui, f_port=codec.PORT_CONFIG, data=frame)
            self.answered.append(message.f_cnt)


def test_a_downlink_queued_while_the_fleet_ingests_an_uplink_reaches_the_next_receive_window():
    import json

    sc = loads("[scenario]\ndays = 0.3\n[nodes.b]\nconfig = { batch_size = 1 }\nradio = { gateways = 2 }\n")
    fleet = SlowFleet(delay_s=1.0)  # the node sends several uplinks a wall second in the fast runner
    events = OrderedEventQueue(fleet)
    emu = Emulation(sc, sink=events)
    fleet.ns = emu.ns
    try:
        emu.start()
        assert emu.wait(timeout_s=120)
        events.drain()
    finally:
        emu.stop()
        events.close()
        emu.cleanup()
    ups = [json.loads(body) for body in fleet.named("up")]
    (txack,) = [json.loads(body) for body in fleet.named("txack")]
    (first,) = fleet.answered
    after = next(u for u in ups if u.get("fCnt", 0) == first + 1)
    assert txack["time"] == after["time"], "the downlink missed the receive window after the fleet's answer"
