"""Find the node's USB serial port: list ports with a guess of the USB bridge, pick the one to use.

ESP32 boards reach the laptop through a USB-serial bridge chip; its VID:PID tells which (reference/
hardware.md). A port with a known bridge is a candidate; exactly one candidate is used without asking.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from serial.tools import list_ports

from tools.nodetool.errors import NoPortError, SeveralPortsError

BRIDGES: dict[tuple[int, int], str] = {
    (0x10C4, 0xEA60): "Silicon Labs CP210x",
    (0x1A86, 0x7523): "WCH CH340",
    (0x1A86, 0x55D3): "WCH CH343",
    (0x1A86, 0x55D4): "WCH CH9102",
    (0x0403, 0x6001): "FTDI FT232R",
    (0x303A, 0x1001): "Espressif USB-Serial/JTAG (ESP32-S3/C3/C6 native USB)",
}


@dataclass(frozen=True)
class Port:
    device: str
    vid: int | None
    pid: int | None
    description: str
    serial_number: str | None

    @property
    def vid_pid(self) -> str:
        return f"{self.vid:04x}:{self.pid:04x}" if self.vid is not None and self.pid is not None else "-"

    @property
    def bridge(self) -> str | None:
        if self.vid is None or self.pid is None:
            return None
        return BRIDGES.get((self.vid, self.pid))


def list_serial_ports() -> list[Port]:
    return [
        Port(p.device, p.vid, p.pid, p.description or "", p.serial_number)
        for p in sorted(list_ports.comports(), key=lambda p: p.device)
    ]


def candidates(ports: list[Port]) -> list[Port]:
    """Ports behind a known ESP32 bridge; failing that, any USB port (an unknown bridge is still a guess)."""
    known = [p for p in ports if p.bridge]
    return known or [p for p in ports if p.vid is not None]


def choose_port(port: str | None, ports: list[Port] | None = None) -> str:
    """The port to use: the one given (option or KUMPEL_NODE_PORT), else the single candidate."""
    given = port or os.environ.get("KUMPEL_NODE_PORT")
    if given:
        return given
    found = candidates(list_serial_ports() if ports is None else ports)
    if not found:
        raise NoPortError("no USB serial port found: is the node plugged in?")
    if len(found) > 1:
        names = ", ".join(f"{p.device} ({p.bridge or p.description})" for p in found)
        raise SeveralPortsError(f"several candidate ports: {names}")
    return found[0].device
