"""Deploy to the virtual board through the real mpremote transport: compile, copy only what changed,
remove stale files, leave the node's identity alone, refuse a MicroPython that cannot load our .mpy."""

from __future__ import annotations

import pytest

from tools.nodetool import deploy as deploy_mod
from tools.nodetool.board import Board
from tools.nodetool.errors import MpyVersionError, NodeToolError


def test_deploy_copies_only_what_changed_and_runs(vboard, test_firmware):
    fw = test_firmware[0][0]
    flash = vboard.folder
    (flash / "provision.json").write_text('{"v": 1}')
    seen = []
    with Board.open(vboard.path) as board:
        first = deploy_mod.deploy(
            board, sources=test_firmware, progress=lambda n, d, t: seen.append((n, d, t))
        )
        assert sorted(first.copied) == [
            "main.py",
            "node/__init__.mpy",
            "node/selftest.mpy",
            "node/util.mpy",
            "protocols/__init__.mpy",
            "protocols/codec.mpy",
        ]
        assert seen[-1][1] == seen[-1][2] == first.bytes_copied  # progress reaches the total
        assert board.exec("import node.util\nprint(node.util.double(21))").strip() == "42"

        second = deploy_mod.deploy(board, sources=test_firmware)
        assert second.copied == [] and len(second.unchanged) == 6

        (fw / "node" / "util.py").write_text("def double(x):\n    return x + x + 0\n")
        (fw / "node" / "old.py").write_text("X = 1\n")
        third = deploy_mod.deploy(board, sources=test_firmware)
        assert third.copied == ["node/old.mpy", "node/util.mpy"]

        (fw / "node" / "old.py").unlink()
        (flash / "node" / "leftover.py").write_text("SHADOW = 1\n")
        fourth = deploy_mod.deploy(board, sources=test_firmware)
        assert fourth.removed == ["node/leftover.py", "node/old.mpy"] and fourth.copied == []
    assert (flash / "main.py").read_text() == "print('[1] INFO main')\n"  # main.py stays source
    assert (flash / "provision.json").read_text() == '{"v": 1}'  # the node's identity is never touched
    assert not list(flash.rglob("*.tmp"))


def test_syntax_error_names_the_file_and_copies_nothing(vboard, test_firmware):
    (test_firmware[0][0] / "node" / "broken.py").write_text("def oops(:\n")
    with Board.open(vboard.path) as board, pytest.raises(NodeToolError, match="broken.py"):
        deploy_mod.deploy(board, sources=test_firmware)
    assert not (vboard.folder / "node").exists()


def test_board_with_other_mpy_version_is_refused():
    version, sub = deploy_mod.mpy_cross_emits()
    deploy_mod.check_mpy(version | sub << 8 | 10 << 10)  # same bytecode for an ESP32 (xtensawin): fine
    with pytest.raises(MpyVersionError, match=f"v{version - 1}"):
        deploy_mod.check_mpy((version - 1) | 10 << 10)
    with pytest.raises(MpyVersionError, match="too old"):
        deploy_mod.check_mpy(0)
