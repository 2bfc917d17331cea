"""The board facade over mpremote's SerialTransport, against the virtual board and against ptys that
misbehave the way real ports do: nothing behind them, a chip without MicroPython, a port already open."""

from __future__ import annotations

import time

import pytest
from serial_fakes import ROM_BANNER, rom_pty

from tools.nodetool.board import Board
from tools.nodetool.errors import (
    BoardError,
    BoardNotAnsweringError,
    NoMicroPythonError,
    NoPortError,
    PortBusyError,
)


def test_virtual_board_files_survive_a_soft_reset(vboard):
    with Board.open(vboard.path) as board:
        info = board.info()
        assert info["mpy"] & 0xFF == 6 and info["mem_free"] > 30_000
        board.write_file("hello.txt", b"kumpel\n" * 300)
        assert board.read_file("hello.txt") == b"kumpel\n" * 300
        assert board.read_file("missing.txt") is None
        assert board.hashes(["hello.txt", "missing.txt"])["missing.txt"] is None
        board._t.serial.write(b"\x04")  # Ctrl-D on an empty raw-REPL line: the Unix port's soft reset
    deadline = time.monotonic() + 5
    while vboard.restarts == 0 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert vboard.restarts == 1
    with Board.open(vboard.path) as board:
        assert board.read_file("hello.txt") == b"kumpel\n" * 300
    assert (vboard.folder / "hello.txt").read_bytes() == b"kumpel\n" * 300
    assert not (vboard.folder / "hello.txt.tmp").exists()


def test_code_failing_on_the_board_names_the_error(vboard):
    with Board.open(vboard.path) as board, pytest.raises(BoardError, match="ZeroDivisionError"):
        board.exec("1/0")


def test_second_open_of_a_port_is_busy(vboard):
    with Board.open(vboard.path), pytest.raises(PortBusyError, match="busy"):
        Board.open(vboard.path)


def test_missing_port():
    with pytest.raises(NoPortError, match="/dev/ttyUSB-kumpel-none"):
        Board.open("/dev/ttyUSB-kumpel-none")


def test_silent_board_is_not_answering():
    path, close = rom_pty(None)
    try:
        started = time.monotonic()
        with pytest.raises(BoardNotAnsweringError, match="does not answer"):
            Board.open(path, answer_timeout=1.0)
        assert time.monotonic() - started < 5
    finally:
        close()


def test_board_without_micropython_is_told_apart():
    path, close = rom_pty(ROM_BANNER)
    try:
        with pytest.raises(NoMicroPythonError, match="not as MicroPython") as err:
            Board.open(path, answer_timeout=1.0)
        assert "kumpel node flash" in err.value.hint
    finally:
        close()
