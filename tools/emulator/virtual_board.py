"""A virtual board: the MicroPython Unix port behind a pty that the node tool opens like a USB serial port.

Two ptys, because two readers on one pty steal bytes from each other: the Unix port runs on pty A
(ONLCR cleared, so "\\n" is not doubled into "\\r\\n" twice), a relay thread copies bytes between A's
master and B's master, and a client (mpremote's SerialTransport, `kumpel node ...`) opens B's slave path.
The board keeps a private folder as its flash: files written over the REPL land there and survive a
"soft reset", which on the Unix port ends the process (Ctrl-D), so the supervisor restarts it like a
board would reboot. With `run_main` the restarted process runs main.py first, as a real board does.

The stock `mpremote` must work on it as on a board, so the relay plays the board's part of a soft reset:
a board answers Ctrl-D at an empty raw-REPL prompt with "OK", "MPY: soft reboot" and, still in raw mode,
a new "raw REPL; CTRL-B to exit" banner without running main.py (shared/runtime/pyexec.c,
ports/esp32/main.c); mpremote's `enter_raw_repl(soft_reset=True)` waits for exactly those lines and, on a
pty, reads with no timeout: without them it hung forever. So after a Ctrl-D restart the relay says
"MPY: soft reboot", and when the board was in raw mode it puts the new process into the raw REPL and
hides the Unix port's friendly banner. `os` and `vfs` answer as the board's LittleFS does (boardfs/).
"""

from __future__ import annotations

import hashlib
import json
import os
import select
import shutil
import subprocess
import sys
import tempfile
import termios
import threading
import time
import tty
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SIM_DIR = ROOT / "tools" / "emulator" / "sim"
BOARDFS_DIR = ROOT / "tools" / "emulator" / "boardfs"
RAW_BANNER = b"raw REPL; CTRL-B to exit\r\n"
FRIENDLY_PROMPT = b">>> "
SOFT_REBOOT = b"MPY: soft reboot\r\n"  # what a board prints on a soft reset (ports/esp32/main.c)
HEAP = "192k"  # the sim layer shares the heap and 64-bit pointers double sizes (sim/README.md)
MODEM_DEV_EUI = "70B3D57ED0000B0A"  # the simulated RAK3172's own DevEUI (the label on a real modem)


def default_world(
    dev_eui: str = MODEM_DEV_EUI,
    board: str = "devkit_rak3172",
    ultrasonic: str | None = "a02yyuw",
    climate: str | None = "shtc3",
) -> dict:
    """A bench world in the emulator runner's world.json shape: a bin 80 cm below the sensor, a mild day."""
    return {
        "dev_eui": dev_eui,
        "time_us": 0,
        "env": {
            "distance_cm": 80.0,
            "temperature_c": 21.0,
            "humidity_pct": 45.0,
            "pressure_hpa": 1013.0,
            "battery_v": 3.9,
        },
        "faults": {},
        "radio": {"dead_zone": False, "rssi": -85, "snr": 7.5, "gateways": 1},
        "devices": {"ultrasonic": ultrasonic, "climate": climate, "board": board},
    }


# Runs first inside the Unix port. The board's flash folder becomes "/" (a VfsPosix rooted there), as a
# board's LittleFS is its root: `mpremote fs ls :/`, `cp x :/main.py` and absolute paths stay inside the
# board. The laptop's filesystem stays reachable at HOST ("/.host", hidden from listings by boardfs/os.py)
# for the sim layer and the world file. sys.path is a board's ('', 'lib') behind the sim layer; the board's
# `os` and `vfs` answer as its LittleFS (boardfs/). Then optionally main.py, then the REPL (-i).
# The sim world needs the firmware's board table (node.boards), which arrives only with a deploy, so it
# is loaded on first use by the simulated hardware rather than at boot.
HOST = "/.host"
_BOOT = """
import os, sys, vfs
_h = vfs.mount()[0][0]
vfs.umount('/')
vfs.mount(vfs.VfsPosix({folder!r}), '/')
vfs.mount(_h, {host!r})
os.chdir('/')
sys.path[:] = [{host!r} + {boardfs!r}, {host!r} + {sim!r}, '', 'lib', '.frozen']
import boardvfs
sys.modules['vfs'] = boardvfs
del boardvfs, vfs, _h
try:
    import simworld
    def _lazy_world(_load=simworld.load, _cur=simworld._current):
        if _cur[0] is None:
            _load({host!r} + {world!r}, '/').boot()
        return _cur[0]
    simworld.current = _lazy_world
    del simworld, _lazy_world
except ImportError:
    pass
if {run_main!r}:
    try:
        os.stat('main.py')
        exec(open('main.py').read(), {{'__name__': '__main__'}})
    except OSError:
        pass
    except Exception as e:
        sys.print_exception(e)
del os, sys
"""


def micropython_binary() -> str:
    path = Path(sys.executable).parent / "micropython"
    if path.exists():
        return str(path)
    found = shutil.which("micropython")
    if not found:
        raise RuntimeError("micropython (Unix port) not found: install the dev extras (`make setup`)")
    return found


def compiled_sim(sim_dir: Path) -> Path:
    """The sim layer as .mpy (compiling it from source inside the board would take the firmware's heap),
    cached by content; the source folder itself when there is no sim layer or no mpy-cross."""
    sources = sorted(p for p in sim_dir.glob("*.py") if p.name != "simboot.py") if sim_dir.is_dir() else []
    mpy_cross = shutil.which("mpy-cross", path=str(Path(sys.executable).parent)) or shutil.which("mpy-cross")
    if not sources or not mpy_cross:
        return sim_dir
    digest = hashlib.sha256(b"".join(p.name.encode() + p.read_bytes() for p in sources)).hexdigest()[:16]
    out = Path(tempfile.gettempdir()) / f"kumpel-sim-mpy-{digest}"
    if (out / ".complete").exists():
        return out
    tmp = Path(tempfile.mkdtemp(prefix="kumpel-sim-"))
    for p in sources:
        subprocess.run(
            [mpy_cross, "-o", str(tmp / (p.stem + ".mpy")), str(p)], check=True, capture_output=True
        )
    (tmp / ".complete").touch()
    try:
        tmp.rename(out)
    except OSError:  # another board compiled it at the same time
        shutil.rmtree(tmp, ignore_errors=True)
    return out


def _raw_pty(onlcr: bool = False) -> tuple[int, int]:
    """(master, slave) with the slave in raw mode; the Unix port sets its own modes on its tty anyway."""
    master, slave = os.openpty()
    tty.setraw(slave)
    attrs = termios.tcgetattr(slave)
    attrs[1] &= ~termios.ONLCR  # oflag
    if onlcr:
        attrs[1] |= termios.ONLCR
    termios.tcsetattr(slave, termios.TCSANOW, attrs)
    return master, slave


class VirtualBoard:
    """Start with `start()` (returns the serial path), stop with `stop()`; also a context manager."""

    def __init__(
        self,
        folder: Path,
        *,
        sim_dir: Path = SIM_DIR,
        heap: str = HEAP,
        run_main: bool = False,
        env: dict[str, str] | None = None,
        world: dict | None = None,
    ) -> None:
        self.folder = Path(folder).resolve()
        self.sim_dir = Path(sim_dir).resolve()
        self._sim_path = str(self.sim_dir)
        self.heap = heap
        self.run_main = run_main
        self.env = dict(env or {})
        self.world = world if world is not None else default_world()
        self.world_path = self.folder.parent / f"{self.folder.name}.world.json"
        self.restarts = 0
        self.path = ""
        self._proc: subprocess.Popen | None = None
        self._board_master = -1
        self._client_master = -1
        self._client_slave = -1
        self._stop = threading.Event()
        self._relay: threading.Thread | None = None
        self._raw_mode = False  # the board's REPL mode, read from what it prints
        self._tail = b""  # the end of the board's output, to find banners split across reads
        self._last_in = b""  # the last byte the client sent: Ctrl-D before an exit = a soft reset
        self._hide_until_raw = False  # after a raw-mode soft reset: drop the friendly banner

    # --- life cycle ---------------------------------------------------------------------------------
    def start(self) -> str:
        self.folder.mkdir(parents=True, exist_ok=True)
        self.world_path.write_text(json.dumps(self.world))
        self._sim_path = str(compiled_sim(self.sim_dir))
        self._client_master, self._client_slave = _raw_pty()
        os.set_blocking(self._client_master, False)  # nobody listening: output is dropped, as on a UART
        self.path = os.ttyname(self._client_slave)
        self._spawn()
        self._relay = threading.Thread(target=self._run_relay, name="virtual-board-relay", daemon=True)
        self._relay.start()
        return self.path

    def stop(self) -> None:
        self._stop.set()
        if self._relay:
            self._relay.join(2)
        self._kill()
        for fd in (self._client_master, self._client_slave):
            if fd >= 0:
                os.close(fd)
        self._client_master = self._client_slave = -1

    def __enter__(self) -> VirtualBoard:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def alive(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def _spawn(self, raw: bool = False) -> None:
        """Start the Unix port; `raw`: straight into the raw REPL without main.py, as a board comes back
        from a soft reset it got in raw mode (ports/esp32/main.c runs main.py only in the friendly REPL)."""
        master, slave = _raw_pty()
        boot = _BOOT.format(
            host=HOST,
            folder=str(self.folder),
            sim=self._sim_path,
            boardfs=str(BOARDFS_DIR),
            run_main=self.run_main and not raw,
            world=str(self.world_path),
        )
        env = {
            **os.environ,
            "KUMPEL_SIM_WORLD": str(self.world_path),  # what the simulated sensors and modem see
            "KUMPEL_SIM_FLASH": str(self.folder),
            **self.env,
            "MICROPYPATH": f"{BOARDFS_DIR}:{self._sim_path}",
        }
        self._proc = subprocess.Popen(
            [micropython_binary(), "-X", f"heapsize={self.heap}", "-i", "-c", boot],
            stdin=slave,
            stdout=slave,
            stderr=slave,
            cwd=self.folder,
            env=env,
            start_new_session=True,  # its own controlling tty: Ctrl-C reaches it as a byte, not our signal
            close_fds=True,
        )
        os.close(slave)
        self._board_master = master
        self._tail = b""
        self._hide_until_raw = raw
        if raw:
            os.write(master, b"\x01")  # waits in the tty until the REPL reads it: Ctrl-A, raw REPL

    def _kill(self) -> None:
        proc, self._proc = self._proc, None
        if proc is not None and proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(2)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(2)
        if self._board_master >= 0:
            os.close(self._board_master)
            self._board_master = -1

    # --- relay ----------------------------------------------------------------------------------------
    def _run_relay(self) -> None:
        while not self._stop.is_set():
            board = self._board_master
            try:
                ready, _, _ = select.select([board, self._client_master], [], [], 0.05)
            except (OSError, ValueError):
                ready = []
            if board in ready:
                try:
                    data = os.read(board, 4096)
                except OSError:  # EIO: the Unix port exited (Ctrl-D = its "soft reset")
                    data = b""
                if data:
                    self._to_client(self._watch(data))
                else:
                    self._reboot()
                    continue
            if self._client_master in ready:
                try:
                    data = os.read(self._client_master, 4096)
                except OSError:
                    data = b""
                if data and self._board_master >= 0:
                    self._last_in = data[-1:]
                    os.write(self._board_master, data)
            if self._proc is not None and self._proc.poll() is not None and board not in ready:
                self._reboot()

    def _to_client(self, data: bytes) -> None:
        if data:
            try:
                os.write(self._client_master, data)
            except BlockingIOError:
                pass

    def _watch(self, data: bytes) -> bytes:
        """Follow the REPL mode in the board's output; return what the client may see."""
        seen = self._tail + data
        raw_at, friendly_at = seen.rfind(RAW_BANNER), seen.rfind(FRIENDLY_PROMPT)
        if raw_at >= 0 or friendly_at >= 0:
            self._raw_mode = raw_at > friendly_at
        self._tail = seen[-64:]
        if not self._hide_until_raw:
            return data
        if raw_at < 0:
            return b""
        self._hide_until_raw = False
        return seen[raw_at:]

    def _reboot(self) -> None:
        """The process ended: start it again with the same folder, as a board reboots with its flash kept.
        After a Ctrl-D it is a soft reset: say so as a board does, and keep the raw REPL if it was in it."""
        if self._stop.is_set():
            return
        soft = self._last_in == b"\x04"
        raw = soft and self._raw_mode
        self._kill()
        self.restarts += 1
        self._last_in = b""
        if soft:
            self._to_client(SOFT_REBOOT)
        time.sleep(0.05)
        self._spawn(raw=raw)
