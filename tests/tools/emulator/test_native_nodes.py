"""Scenarios mixing RAK3172 nodes and native-LoRaWAN SX1262 nodes (issue 14): both kinds join and send
through the same emulated network server; the SX1262 ones over the firmware's own LoRaWAN stack, the
SPI-level chip model and the simulated LoRaWAN server (tools/emulator/sim/simnative.py)."""

from tools.emulator.runner import Emulation
from tools.emulator.scenario import load, loads

MIX = """
[nodes.rak]
count = 1
board = "devkit_rak3172"
[nodes.sx]
count = 2
dev_eui_start = "70b3d57ed0060200"
board = "rak11200_rak13300"
"""


def test_mixed_scenario_sx1262_and_rak3172_nodes_join_and_send(tmp_path):
    emu = Emulation(loads(MIX), days=0.15, workdir=tmp_path)
    try:
        emu.start_services()
        emu.start_nodes()
        assert emu.wait(timeout_s=120)
        per = {n["name"].split("-")[0] + n["name"][-1]: n for n in emu.summary()["per_node"]}
        for name in ("sx1", "sx2", "rak1"):
            assert per[name]["joins"] == 1 and per[name]["uplinks"] >= 2, per
        log = (tmp_path / "70b3d57ed0060200" / "node.log").read_text()
        assert "joined (join 1)" in log and "config 1 applied" in log and "Error" not in log
    finally:
        emu.stop()


def test_demo_district_has_sx1262_nodes():
    sc = load("district").with_nodes(25)  # as `make demo` runs it
    native = [n for n in sc.nodes if n.board == "rak11200_rak13300"]
    assert len(native) == 3 and len(sc.nodes) == 25
    assert any(n.climate_model.fire for n in sc.nodes)  # the fire bin is still in
