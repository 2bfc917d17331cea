"""A native-LoRaWAN board (SX1262 on SPI) in the simulated world: boards.build wires machine.SPI and the
pins to the chip model, node.link.NativeLink joins and sends through the simulated network server, and
the uplink lands in the world like a RAK3172 node's."""

from __future__ import annotations

import pytest
from fw_defaults import PROVISION

NATIVE = dict(PROVISION, board="heltec_v3", ultrasonic=None, climate="shtc3")

LINK_CODE = """
import machine
from node import boards
from node.link_native import NativeLink
hw = boards.build("heltec_v3", machine)
rtc = machine.RTC()
link = NativeLink(hw, {prov!r}, rtc=rtc.memory() or None)
print("JOINED_BEFORE", link.joined)
if not link.joined:
    print("JOIN", link.join(0))
r = link.send(7, b"kumpel", False)
print("SENT", r.sent, r.acked, r.downlinks)
print("REG", bytes(link.radio.read_register(0x0740, 2)).hex())
rtc.memory(link.persist())
"""


@pytest.mark.parametrize("board", ["heltec_v3", "rak11200_rak13300"])
def test_native_board_joins_and_sends(make_node, board):
    prov = dict(NATIVE, board=board)
    node = make_node(prov, devices={"board": board, "ultrasonic": None, "climate": "shtc3"})
    node.queue_downlink(11, b"\\x01")
    code = LINK_CODE.replace('"heltec_v3"', repr(board)).format(prov=prov)
    node.run(1, exec_code=code)
    assert "JOIN True" in node.log, node.log[-3000:]
    assert "REG 3444" in node.log
    up = node.world["uplinks"][-1]
    assert up["fport"] == 7 and bytes.fromhex(up["data"]) == b"kumpel" and up["fcnt"] == 0
    assert "SENT True True [(11, b'\\\\x01')]" in node.log, node.log[-2000:]
    ns = node.world["lorawan_ns"]
    assert ns["dev_nonces"] == [0] and ns["session"]["fcnt_up"] == 0
    # next boot (deep sleep: RTC kept): no join, next FCnt
    node.run(1, exec_code=code)
    assert "JOINED_BEFORE True" in node.log
    assert node.world["uplinks"][-1]["fcnt"] == 1
