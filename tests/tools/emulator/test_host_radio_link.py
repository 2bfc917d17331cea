"""The host side of the sim radio link over real TCP, with fake node clients speaking CONTRACTS 4."""

import json
import socket
import threading
from datetime import UTC, datetime

import pytest

from tools.emulator import scenario
from tools.emulator.network_server import MemorySink, NetworkServer
from tools.emulator.physics import NodeWorld
from tools.emulator.radio_link import RadioLinkHost, SimClock

SCENARIO = """
[scenario]
start = "2026-06-01T00:00:00Z"
days = 1
[nodes.a]
count = 2
dev_eui_start = "70b3d57ed0000010"
radio = { gateways = 2 }
"""


class FakeNode:
    def __init__(self, address: str):
        host, port = address.split(":")
        self.sock = socket.create_connection((host, int(port)), timeout=5)
        self.file = self.sock.makefile("rwb")

    def ask(self, **msg):
        self.file.write(json.dumps(msg).encode() + b"\n")
        self.file.flush()
        return json.loads(self.file.readline())

    def close(self):
        self.file.close()
        self.sock.close()


@pytest.fixture()
def link():
    s = scenario.loads(SCENARIO)
    ns = NetworkServer(MemorySink())
    worlds = {n.dev_eui: NodeWorld(n, s) for n in s.nodes}
    for n in s.nodes:
        ns.register(n.dev_eui, name=n.name, app_key=n.app_key)
    clock = SimClock(end_us=int(s.days * 86400e6), lookahead_us=0)
    host = RadioLinkHost(ns, worlds, clock, s.start).start()
    yield host, s, ns
    host.stop()


def test_boot_join_uplink_sleep_over_tcp(link):
    host, s, ns = link
    a = s.nodes[0].dev_eui
    host.clock.expect(a)
    node = FakeNode(host.address)
    boot = node.ask(op="boot", dev_eui=a, time_us=0, reset_cause="power_on")
    assert set(boot) == {"env", "faults", "radio"} and 20 < boot["env"]["distance_cm"] < 120
    assert boot["env"]["battery_v"] == pytest.approx(4.2, abs=0.01)
    join = node.ask(op="join", dev_eui=a, join_eui="0000000000000000", time_us=1_000_000)
    assert join["ok"] and len(join["dev_addr"]) == 8
    ns.enqueue(a, f_port=11, data=b"\x20\x02")
    up = node.ask(
        op="uplink", dev_eui=a, fport=1, data="21ed33b7d540", confirmed=False, fcnt=0, dr=0, time_us=3_000_000
    )
    assert up["ok"] and up["downlink"]["fport"] == 11 and up["downlink"]["data"] == "2002"
    assert node.ask(
        op="sleep", dev_eui=a, time_us=4_000_000, sleep_ms=900_000, awake_ms=4000, tx_ms=1319
    ) == {"continue": True}
    assert node.ask(op="sleep", dev_eui=a, time_us=86_000_000_000, sleep_ms=900_000, awake_ms=1, tx_ms=0) == {
        "continue": False
    }  # past the scenario's one day
    st = host.stats[a]
    assert (st.boots, st.joins_ok, st.uplinks_heard, st.downlinks, st.tx_ms) == (1, 1, 1, 1, 1319)
    assert host.worlds[a].energy["awake_ms"] == 4001
    assert node.ask(op="warp", dev_eui=a, time_us=0)["error"].endswith(
        "expected boot, join, uplink or sleep)"
    )
    assert "bad message" in node.ask(op="boot", dev_eui=a)["error"]  # no time_us
    node.close()


def test_clock_releases_nodes_in_simulated_time_order(link):
    host, s, _ = link
    a, b = s.nodes[0].dev_eui, s.nodes[1].dev_eui
    host.clock.expect(a)
    host.clock.expect(b)
    na, nb = FakeNode(host.address), FakeNode(host.address)
    na.ask(op="boot", dev_eui=a, time_us=0, reset_cause="power_on")
    nb.ask(op="boot", dev_eui=b, time_us=0, reset_cause="power_on")
    released = []
    t = threading.Thread(
        target=lambda: released.append(
            na.ask(op="sleep", dev_eui=a, time_us=1000, sleep_ms=60_000, awake_ms=1, tx_ms=0)
        )
    )
    t.start()
    t.join(0.3)
    assert released == []  # a wants t=60 s while b is still at t=0: a must wait
    assert nb.ask(op="sleep", dev_eui=b, time_us=2000, sleep_ms=10_000, awake_ms=1, tx_ms=0) == {
        "continue": True
    }
    nb.ask(op="boot", dev_eui=b, time_us=10_002_000, reset_cause="deepsleep")
    t.join(0.3)
    assert released == []  # b is at 10 s, still behind a's 60 s
    nb.close()  # b leaves the run: nothing holds a back any more
    t.join(2)
    assert released == [{"continue": True}]
    na.close()


def test_clock_paced_by_speed():
    clock = SimClock(end_us=10**12, lookahead_us=0, speed=100.0)
    clock.expect("n")
    t0 = datetime.now(UTC)
    assert clock.wait_turn("n", 20_000_000)  # 20 simulated seconds at 100x: about 0.2 s of wall time
    assert (datetime.now(UTC) - t0).total_seconds() >= 0.19


def test_barrier_holds_every_node_until_released(link):
    host, s, _ = link
    a = s.nodes[0].dev_eui
    host.clock.expect(a)
    host.clock.hold(30_000_000)
    node = FakeNode(host.address)
    node.ask(op="boot", dev_eui=a, time_us=0, reset_cause="power_on")
    assert node.ask(op="sleep", dev_eui=a, time_us=1000, sleep_ms=10_000, awake_ms=1, tx_ms=0)["continue"]
    assert not host.clock.at_barrier()
    got = []
    t = threading.Thread(
        target=lambda: got.append(
            node.ask(op="sleep", dev_eui=a, time_us=11_000_000, sleep_ms=60_000, awake_ms=1, tx_ms=0)
        )
    )
    t.start()
    t.join(0.3)
    assert got == [] and host.clock.at_barrier()
    host.clock.release()
    t.join(2)
    assert got == [{"continue": True}]
    node.close()
