"""The board facade: everything the node tool does on a MicroPython board, over mpremote's serial transport.

mpremote's Python API is explicitly unstable, so only this module touches it (SerialTransport, its raw
REPL exec and its fs helpers). The raw REPL is entered without a soft reset, which keeps a running
board's state and works on the Unix port's virtual board too. Errors become NodeToolError subclasses that
say what to do: port missing or busy, board silent, no MicroPython on it, code on the board failing.
"""

from __future__ import annotations

import ast
import json
import time
from collections.abc import Callable

import serial
from mpremote.transport import TransportError
from mpremote.transport_serial import SerialTransport

from tools.nodetool.errors import (
    BoardError,
    BoardNotAnsweringError,
    NoMicroPythonError,
    NoPortError,
    PortBusyError,
)

RAW_BANNER = b"raw REPL; CTRL-B to exit\r\n"
CHUNK = 512  # bytes per write exec: small enough for an ESP32's raw-REPL buffer, large enough to be quick
Progress = Callable[[int, int], None]

# Runs on the board: sha256 of each named file, None for missing ones, as one printed dict (one round trip).
_HASHES = """
import hashlib, binascii
_r = {}
_b = bytearray(256)
_m = memoryview(_b)
for _p in %r:
    try:
        _h = hashlib.sha256()
        with open(_p, 'rb') as _f:
            while True:
                _n = _f.readinto(_b)
                if not _n:
                    break
                _h.update(_m[:_n])
        _r[_p] = binascii.hexlify(_h.digest()).decode()
    except OSError:
        _r[_p] = None
print(repr(_r))
del _r, _b, _m, _p
"""

_TREE = """
import os
def _walk(d):
    for e in os.ilistdir(d or '.'):
        p = (d + '/' if d else '') + e[0]
        if e[1] & 0x4000:
            print(repr((p, 'dir')))
            _walk(p)
        else:
            print(repr((p, 'file')))
_walk(%r)
del _walk
"""


def probe_port(port: str) -> None:
    """Open and close the port once to tell 'missing' from 'busy' (mpremote folds both into one error)."""
    try:
        s = serial.serial_for_url(port, do_not_open=True, baudrate=115200, exclusive=True)
        s.open()
        s.close()
    except serial.SerialException as exc:
        text = str(exc)
        if "No such file" in text or "could not open port" in text and "Errno 2" in text:
            raise NoPortError(f"no serial port {port}: it is not (or no longer) there") from exc
        if "lock" in text or "busy" in text.lower() or "Errno 16" in text or "Errno 11" in text:
            raise PortBusyError(f"serial port {port} is busy: another program has it open") from exc
        if "Permission denied" in text or "Errno 13" in text:
            raise PortBusyError(
                f"no permission to open {port}",
                "Add yourself to the serial group (Linux: `sudo usermod -aG dialout $USER`); log in again.",
            ) from exc
        raise NoPortError(f"cannot open {port}: {text}") from exc


class Board:
    """One open connection to a board in raw REPL mode. Use as a context manager (`with Board.open(p)`)."""

    def __init__(self, transport: SerialTransport, port: str) -> None:
        self._t = transport
        self.port = port

    @classmethod
    def open(cls, port: str, *, answer_timeout: float = 3.0) -> Board:
        probe_port(port)
        try:
            transport = SerialTransport(port, baudrate=115200, timeout=0.5)
        except TransportError as exc:
            raise PortBusyError(f"could not open {port}: {exc}") from exc
        board = cls(transport, port)
        try:
            board._enter_raw_repl(answer_timeout)
        except Exception:
            board.close()
            raise
        return board

    def __enter__(self) -> Board:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        try:
            if self._t.in_raw_repl:
                self._t.exit_raw_repl()
            self._t.close()
        except (OSError, serial.SerialException):
            pass

    # --- raw REPL -------------------------------------------------------------------------------------
    def _drain(self, quiet_s: float = 0.15) -> bytes:
        seen = b""
        deadline = time.monotonic() + quiet_s
        while time.monotonic() < deadline:
            n = self._t.serial.in_waiting
            if n:
                seen += self._t.serial.read(n)
                deadline = time.monotonic() + quiet_s
            else:
                time.sleep(0.02)
        return seen

    def _enter_raw_repl(self, timeout: float) -> None:
        """Ctrl-C (stop a running program) then Ctrl-A, retried until `timeout`: a node busy measuring or
        just waking answers on a later try. Tells silence apart from a board without MicroPython."""
        s = self._t.serial
        seen = b""
        deadline = time.monotonic() + timeout
        while True:
            s.write(b"\r\x03\x03")
            seen += self._drain()
            s.write(b"\r\x01")
            wait = max(0.2, min(1.0, deadline - time.monotonic()))
            data = self._t.read_until(1, RAW_BANNER, timeout=wait, timeout_overall=wait)
            if data.endswith(RAW_BANNER):
                self._t.in_raw_repl = True
                return
            seen += data
            if time.monotonic() >= deadline:
                break
        if not seen.strip(b"\r\n\x00"):
            raise BoardNotAnsweringError(f"the board on {self.port} does not answer (nothing came back)")
        sample = seen[-80:].decode("ascii", "replace").strip()
        raise NoMicroPythonError(
            f"the board on {self.port} answers but not as MicroPython (it sent: {sample!r})"
        )

    def exec(self, code: str, timeout: float = 10.0) -> str:
        """Run code on the board and return what it printed; a board-side exception becomes BoardError."""
        try:
            out, err = self._t.exec_raw(code, timeout=timeout)
        except TransportError as exc:
            raise BoardNotAnsweringError(f"the board on {self.port} stopped answering: {exc}") from exc
        if err:
            lines = [ln for ln in err.decode("utf-8", "replace").strip().splitlines() if ln.strip()]
            raise BoardError(f"the board raised: {lines[-1] if lines else 'unknown error'}")
        return out.decode("utf-8", "replace")

    def eval(self, expression: str) -> object:
        return ast.literal_eval(self.exec(f"print(repr({expression}))").strip())

    # --- facts ----------------------------------------------------------------------------------------
    def info(self) -> dict:
        """MicroPython version, mpy version, platform, free heap and free flash bytes (POSIX statvfs:
        f_frsize x f_bavail, which MicroPython's VFS fills with block size x free blocks)."""
        out = self.exec(
            "import sys, gc, os\ngc.collect()\n"
            "_s = os.statvfs('.')\n"
            "print(repr({'version': sys.version, 'mpy': getattr(sys.implementation, '_mpy', 0),"
            " 'machine': getattr(sys.implementation, '_machine', sys.platform), 'platform': sys.platform,"
            " 'mem_free': gc.mem_free(), 'flash_free': _s[1] * _s[4]}))\ndel _s"
        )
        return ast.literal_eval(out.strip())

    # --- files ----------------------------------------------------------------------------------------
    def read_file(self, path: str) -> bytes | None:
        """File contents, or None when it does not exist."""
        try:
            return bytes(self._t.fs_readfile(path, chunk_size=CHUNK))
        except OSError:
            return None
        except TransportError as exc:
            raise BoardNotAnsweringError(f"reading {path} from the board failed: {exc}") from exc

    def write_file(self, path: str, data: bytes, progress: Progress | None = None) -> None:
        """Write atomically: to `path.tmp` first, then rename, so a pulled cable never leaves half a file."""
        tmp = path + ".tmp"
        try:
            self._t.fs_writefile(tmp, data, chunk_size=CHUNK, progress_callback=progress)
        except (OSError, TransportError) as exc:
            raise BoardError(f"writing {path} to the board failed: {exc}") from exc
        self.exec(f"import os\nos.rename({tmp!r}, {path!r})")

    def write_json(self, path: str, value: dict) -> None:
        self.write_file(path, json.dumps(value, separators=(",", ":"), sort_keys=True).encode())

    def read_json(self, path: str) -> dict | None:
        raw = self.read_file(path)
        if raw is None:
            return None
        try:
            value = json.loads(raw)
        except ValueError:
            return {"__invalid__": raw[:80].decode("utf-8", "replace")}
        return value if isinstance(value, dict) else {"__invalid__": repr(value)[:80]}

    def tree(self, folder: str = "") -> dict[str, str]:
        """Every path under `folder` mapped to 'file' or 'dir' (one round trip)."""
        try:
            out = self.exec(_TREE % folder)
        except BoardError:
            return {}
        items = [ast.literal_eval(line) for line in out.splitlines() if line.strip()]
        return dict(items)

    def hashes(self, paths: list[str]) -> dict[str, str | None]:
        """sha256 hex of each file on the board (None: missing), computed on the board."""
        if not paths:
            return {}
        return ast.literal_eval(self.exec(_HASHES % (paths,), timeout=30).strip())

    def mkdirs(self, folders: list[str]) -> None:
        if folders:
            self.exec(f"import os\nfor _d in {folders!r}:\n try:\n  os.mkdir(_d)\n except OSError:\n  pass\n")

    def remove(self, paths: list[str]) -> None:
        if paths:
            self.exec(f"import os\nfor _p in {paths!r}:\n try:\n  os.remove(_p)\n except OSError:\n  pass\n")
