"""Monitor: the firmware's log live, each line stamped with the laptop's clock.

The firmware prints `[<ms since boot>] <LEVEL> <message>` (docs/CONTRACTS.md §3); the wall-clock stamp
is what a technician compares with the fleet's "last seen". `reset` restarts the board first so the
boot log is seen: the USB bridge's RTS line pulls EN low (as esptool's hard reset), and where there is
no RTS (a pty, the virtual board) Ctrl-C then Ctrl-D soft-reboots MicroPython instead.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from datetime import datetime

import serial

from tools.nodetool.board import probe_port
from tools.nodetool.errors import NoPortError

LOG_LINE = re.compile(r"^\[(\d+)\]\s+([A-Z]+)\s+(.*)$")


def stamp(line: str, now: float) -> tuple[str, str | None]:
    """('<wall time>  <line>', firmware level or None for other output)."""
    m = LOG_LINE.match(line)
    wall = datetime.fromtimestamp(now).strftime("%H:%M:%S.%f")[:-3]
    return f"{wall}  {line}", (m.group(2) if m else None)


def reset_board(port: serial.Serial) -> str:
    """Hard reset through RTS when the port has it, else a MicroPython soft reboot. Returns which."""
    try:
        port.dtr = False
        port.rts = True
        time.sleep(0.1)
        port.rts = False
        return "hard"
    except (OSError, serial.SerialException):
        port.write(b"\r\x03\x03\x02\x04")  # stop, leave raw REPL if in it, soft reboot
        return "soft"


def monitor(
    port_name: str,
    emit: Callable[[str, str | None], None],
    *,
    reset: bool = False,
    duration: float | None = None,
    until: Callable[[str], bool] | None = None,
) -> int:
    """Print lines until Ctrl-C, `duration` seconds, or `until(line)` is true; returns the line count."""
    probe_port(port_name)
    try:
        port = serial.serial_for_url(port_name, baudrate=115200, timeout=0.2, exclusive=True)
    except serial.SerialException as exc:
        raise NoPortError(f"cannot open {port_name}: {exc}") from exc
    count = 0
    buf = b""
    deadline = None if duration is None else time.monotonic() + duration
    try:
        if reset:
            reset_board(port)
        while deadline is None or time.monotonic() < deadline:
            chunk = port.read(256)
            if not chunk:
                continue
            buf += chunk
            while b"\n" in buf:
                raw, buf = buf.split(b"\n", 1)
                line = raw.decode("utf-8", "replace").rstrip("\r")
                if not line.strip() or line.startswith(">>>"):
                    continue
                text, level = stamp(line, time.time())
                emit(text, level)
                count += 1
                if until and until(line):
                    return count
    finally:
        port.close()
    return count
