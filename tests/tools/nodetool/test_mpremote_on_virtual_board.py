"""The stock `mpremote` command line against the virtual board, as an engineer uses it on a real board.

Every call is a subprocess of the installed `mpremote` with a timeout: before the fix `exec` without
`resume` hung forever (mpremote's soft reset waits for "soft reboot" and reads a pty with no timeout),
`fs ls` showed every file as 0 bytes and `df` printed the laptop's disk as one run-together number.
The expected figures are what a board's LittleFS answers (extmod/vfs_lfsx.c): 4-tuples with the size
from `os.ilistdir`, S_IFREG/S_IFDIR modes from `os.stat`, 4096-byte blocks of a 2 MiB partition.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tools.emulator.virtual_board import VirtualBoard

MPREMOTE = shutil.which("mpremote", path=str(Path(sys.executable).parent)) or shutil.which("mpremote")
pytestmark = pytest.mark.skipif(MPREMOTE is None, reason="mpremote is a dev dependency: `make setup`")
TIMEOUT_S = 20


def mpremote(port: str, *args: str) -> str:
    r = subprocess.run([MPREMOTE, "connect", port, *args], capture_output=True, text=True, timeout=TIMEOUT_S)
    assert r.returncode == 0, f"mpremote {' '.join(args)}: {r.stdout}{r.stderr}"
    return r.stdout


@pytest.fixture
def board(tmp_path: Path):  # noqa: ANN201
    flash = tmp_path / "flash"
    flash.mkdir()
    (flash / "hello.txt").write_bytes(b"k" * 1234)
    (flash / "lib").mkdir()
    with VirtualBoard(flash, run_main=True) as vb:
        yield vb


def test_exec_with_the_default_soft_reset_answers_and_keeps_the_files(board):
    (board.folder / "main.py").write_text("print('MAIN RAN')\n")
    assert mpremote(board.path, "exec", "print(6 * 7)") == "42\n"  # hung forever before
    assert mpremote(board.path, "exec", "print(open('hello.txt').read(3))") == "kkk\n"
    # a soft reset in raw mode does not run main.py, as on a board; the process was restarted for it
    assert board.restarts >= 2
    assert mpremote(board.path, "soft-reset", "exec", "x = 1", "exec", "print(x + 1)") == "2\n"
    assert mpremote(board.path, "resume", "exec", "print('resumed')") == "resumed\n"
    assert mpremote(board.path, "eval", "1 + 1") == "2\n"


def test_fs_ls_stat_and_df_answer_as_the_boards_littlefs(board):
    listing = mpremote(board.path, "fs", "ls")
    assert "1234 hello.txt" in listing and "0 lib/" in listing
    stat = mpremote(board.path, "exec", "import os; print(os.stat('hello.txt')[:7], os.stat('lib')[:7])")
    assert stat == "(32768, 0, 0, 0, 0, 0, 1234) (16384, 0, 0, 0, 0, 0, 0)\n"
    statvfs = mpremote(board.path, "exec", "import os; print(os.statvfs('/'))")
    # root and lib metadata pairs (2 + 2 blocks) plus one block for hello.txt
    assert statvfs == "(4096, 4096, 512, 507, 507, 0, 0, 0, 0, 255)\n"
    df = mpremote(board.path, "df").splitlines()
    assert df[0].split() == ["filesystem", "size", "used", "avail", "use%", "mounted", "on"]
    assert df[1].split() == ["<VfsLfs2>", "2097152", str(5 * 4096), str(507 * 4096), "0", "/"]


def test_copy_run_and_remove_files(board, tmp_path: Path):
    local = tmp_path / "blink.py"
    local.write_text("print('from the laptop', 6 * 7)\n")
    mpremote(board.path, "fs", "cp", str(local), ":blink.py")
    assert (board.folder / "blink.py").read_text() == local.read_text()
    assert "32 blink.py" in mpremote(board.path, "fs", "ls")
    assert mpremote(board.path, "fs", "cat", "blink.py") == local.read_text()
    assert mpremote(board.path, "run", str(local)) == "from the laptop 42\n"
    mpremote(board.path, "fs", "cp", ":hello.txt", str(tmp_path / "back.txt"))
    assert (tmp_path / "back.txt").read_bytes() == b"k" * 1234
    mpremote(board.path, "fs", "rm", "blink.py")
    assert not (board.folder / "blink.py").exists()


def test_the_boards_root_is_its_flash(board, tmp_path: Path):
    """ "/" on the virtual board is its flash folder, as a board's LittleFS is its root: absolute paths
    stay inside the board, and the laptop's filesystem (kept for the sim layer) does not show."""
    assert mpremote(board.path, "fs", "ls", ":/") == mpremote(board.path, "fs", "ls").replace("ls :", "ls :/")
    assert mpremote(board.path, "exec", "import os; print(os.getcwd(), sorted(os.listdir('/')))") == (
        "/ ['hello.txt', 'lib']\n"
    )
    local = tmp_path / "boot.py"
    local.write_text("# boot\n")
    mpremote(board.path, "fs", "cp", str(local), ":/boot.py")
    assert (board.folder / "boot.py").read_text() == "# boot\n"
    assert mpremote(board.path, "exec", "print(open('/boot.py').read())") == "# boot\n\n"


def test_kumpel_emu_board_with_stock_mpremote(tmp_path: Path):
    """`kumpel emu board` as an engineer starts it, then mpremote on the path it prints."""
    kumpel = Path(sys.executable).parent / "kumpel"
    flash = tmp_path / "flash"
    proc = subprocess.Popen(
        [str(kumpel), "emu", "board", "--folder", str(flash), "--modem-dev-eui", "70b3d57ed0001299"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        port = proc.stdout.readline().strip()
        assert port.startswith("/dev/"), proc.stderr.read() if proc.poll() is not None else port
        assert mpremote(port, "exec", "print('hello board')") == "hello board\n"
        mpremote(port, "fs", "cp", __file__, ":t.py")
        assert f"{Path(__file__).stat().st_size} t.py" in mpremote(port, "fs", "ls")
        assert "<VfsLfs2>   2097152" in mpremote(port, "df")
        world = json.loads((tmp_path / "flash.world.json").read_text())
        assert world["dev_eui"] == "70B3D57ED0001299"
    finally:
        proc.terminate()
        proc.wait(10)
    assert (flash / "t.py").read_bytes() == Path(__file__).read_bytes()
