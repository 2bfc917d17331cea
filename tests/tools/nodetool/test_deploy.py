"""Deploy to the virtual board through the real mpremote transport: compile, copy only what changed,
remove stale files, leave the node's identity alone, refuse a MicroPython that cannot load our .mpy."""

from __future__ import annotations

import subprocess

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
    with pytest.raises(MpyVersionError, match=r"v1\.12 - v1\.18 \(\.mpy v5\.0\).*flash MicroPython v1\.23"):
        deploy_mod.check_mpy(5 | 10 << 10)
    with pytest.raises(MpyVersionError, match="too old"):
        deploy_mod.check_mpy(0)


def test_micropython_1_22_board_gets_the_bytecode_build(tmp_path):
    """A 1.22 board (v6.2) loads bytecode-only v6.3 files: the sub-version counts for native code only
    (py/persistentcode.c); the firmware build holds none, so deploy accepts it. Native code is refused."""
    bundle = deploy_mod.build()
    assert not any(deploy_mod.has_native_code(b) for p, b in bundle.items() if p.endswith(".mpy"))
    assert {b[1] for p, b in bundle.items() if p.endswith(".mpy")} == {6}  # header byte 1: the version
    board_1_22 = 6 | 2 << 8 | 10 << 10  # sys.implementation._mpy of MicroPython 1.22 on an ESP32
    deploy_mod.check_mpy(board_1_22, bundle)
    src = tmp_path / "fast.py"
    src.write_text("import micropython\n@micropython.native\ndef f(x):\n    return x + 1\n")
    out = tmp_path / "fast.mpy"
    subprocess.run([deploy_mod.mpy_cross_binary(), "-march=xtensawin", "-o", str(out), str(src)], check=True)
    native = {"node/fast.mpy": out.read_bytes()}
    assert deploy_mod.has_native_code(native["node/fast.mpy"])
    with pytest.raises(MpyVersionError, match=r"node/fast.mpy holds native code.*MicroPython v1\.22\.x"):
        deploy_mod.check_mpy(board_1_22, native)
    deploy_mod.check_mpy(6 | 3 << 8 | 10 << 10, native)
