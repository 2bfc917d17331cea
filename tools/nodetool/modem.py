"""The modem's own DevEUI, asked through the firmware on the board: the one rule for a node's identity.

A RAK3172 leaves the factory with a DevEUI (printed on its label, answered to `AT+DEVEUI=?`,
reference/rui3-at.md) and the firmware's self-test fails a node whose modem answers another DevEUI than
provision.json's (firmware/node/selftest.py). So provision uses the modem's DevEUI whenever the modem has
one, and asks the fleet to generate one only when it has none; a generated one is written to the modem
(`AT+DEVEUI=`, kept by RUI3 in its flash) so the two agree before verify. The question goes through the
firmware's own driver and board table (node.rui3, node.boards), so it needs the firmware deployed.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass

from tools.nodetool.board import Board
from tools.nodetool.errors import BoardError

# Runs on the board; forgets node.* modules imported before a deploy, as verify does.
_ASK = """
import sys, machine
for _m in [m for m in sys.modules if m == 'node' or m[:5] == 'node.']:
    del sys.modules[_m]
from node import boards, rui3
_hw = boards.build(%r, machine)
_m = rui3.Rui3(_hw['modem_uart'], _hw.get('modem_reset'))
if _m.alive() or _m.recover():
    %s
    print(repr(('eui', _m.query('DEVEUI'))))
else:
    print(repr(('silent', '')))
del _hw, _m
"""
_SET = "_m.command('AT+DEVEUI=%s')"
TIMEOUT_S = 20.0


@dataclass
class ModemAnswer:
    dev_eui: str | None  # as the modem answered `AT+DEVEUI=?`; None when it could not be asked
    problem: str = ""  # why there is no answer, for the technician


def ask_dev_eui(board: Board, board_name: str, write: str | None = None) -> ModemAnswer:
    """The modem's DevEUI (after writing `write` to it, when given) through the firmware's driver."""
    from protocols.hardware import NATIVE_BOARDS

    if board_name in NATIVE_BOARDS:  # a bare SX1262: the firmware's own LoRaWAN stack, no DevEUI of its own
        return ModemAnswer(
            None, f"{board_name} has no LoRaWAN modem; the DevEUI comes from the fleet or --dev-eui"
        )
    code = _ASK % (board_name, _SET % write if write else "pass")
    try:
        out = board.exec(code, timeout=TIMEOUT_S)
    except BoardError as exc:
        if "no module named 'node" in str(exc).lower():
            return ModemAnswer(None, "the firmware is not on the board yet, so the modem cannot be asked")
        return ModemAnswer(None, f"asking the modem failed: {exc}")
    lines = [ln for ln in out.splitlines() if ln.startswith("('")]
    kind, value = eval_answer(lines[-1]) if lines else ("silent", "")
    if kind == "silent":
        return ModemAnswer(None, "the modem does not answer AT commands (wiring, power?)")
    return ModemAnswer(value.strip())


def eval_answer(line: str) -> tuple[str, str]:
    kind, value = ast.literal_eval(line)
    return str(kind), str(value)
