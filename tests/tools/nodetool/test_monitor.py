"""Monitor against the virtual board: reset it (no RTS on a pty: soft reboot), see its log stamped."""

from __future__ import annotations

import re

from tools.emulator.virtual_board import VirtualBoard
from tools.nodetool.monitor import monitor, stamp

MAIN = """
import time
for i in range(3):
    print("[%d] INFO cycle %d" % (i * 10, i))
    time.sleep(0.05)
print("[40] WARN battery low")
"""


def test_monitor_resets_and_stamps_the_boot_log(tmp_path):
    flash = tmp_path / "flash"
    flash.mkdir()
    (flash / "main.py").write_text(MAIN)
    lines = []
    with VirtualBoard(flash, run_main=True) as vb:
        count = monitor(
            vb.path,
            lambda text, level: lines.append((text, level)),
            reset=True,
            duration=15,
            until=lambda line: "battery low" in line and vb.restarts >= 1,
        )
        assert vb.restarts == 1  # the reset rebooted the board, which ran main.py again
    assert count == len(lines) >= 4
    assert all(re.match(r"^\d\d:\d\d:\d\d\.\d{3}  ", text) for text, _ in lines)
    assert ("INFO", "WARN") == (lines[-2][1], lines[-1][1])
    assert lines[-1][0].endswith("[40] WARN battery low")


def test_stamp_keeps_other_output_unlevelled():
    text, level = stamp("Traceback (most recent call last):", 0.0)
    assert level is None and text.endswith("Traceback (most recent call last):")
    assert stamp("[1234] ERROR modem: no answer", 0.0)[1] == "ERROR"
