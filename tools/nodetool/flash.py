"""Flash MicroPython onto an ESP32 with esptool's Python API: detect the chip, refuse a wrong image, erase,
write at the chip's offset, hard reset.

A MicroPython image starts with the ESP bootloader image header, whose extended header names the chip it
was built for (chip id at byte 12); that is compared with the detected chip before anything is erased,
so a wrong image never leaves a blank board. esptool's log is routed into our progress callback.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import serial
from esptool import cmds
from esptool import logger as esptool_logger
from esptool.logger import TemplateLogger
from esptool.util import FatalError, flash_size_bytes

from tools.nodetool.errors import FlashError, ImageError, PortBusyError, WrongChipError

ESP_IMAGE_MAGIC = 0xE9
# Where the MicroPython image goes (reference/hardware.md); chips not listed are not Kumpel boards.
OFFSETS = {"ESP32": 0x1000, "ESP32-S2": 0x1000, "ESP32-S3": 0x0, "ESP32-C3": 0x0, "ESP32-C6": 0x0}
IMAGE_CHIPS = {0: "ESP32", 2: "ESP32-S2", 5: "ESP32-C3", 9: "ESP32-S3", 13: "ESP32-C6"}
Progress = Callable[[str, int, int], None]


@dataclass
class FlashResult:
    chip: str
    offset: int
    image_bytes: int
    flash_bytes: int


def image_chip(data: bytes, name: str = "image") -> str:
    """The chip an image was built for, from its header; ImageError when it is not an ESP image."""
    if len(data) < 24 or data[0] != ESP_IMAGE_MAGIC:
        raise ImageError(
            f"{name} is not an ESP32 firmware image (no 0xE9 image header); .uf2/.elf/.hex cannot be used"
        )
    chip_id = struct.unpack_from("<H", data, 12)[0]
    if chip_id not in IMAGE_CHIPS:
        raise ImageError(f"{name} is built for an unknown chip (image chip id {chip_id})")
    return IMAGE_CHIPS[chip_id]


class _ProgressLog(TemplateLogger):
    """esptool's logger interface, forwarding its progress bar and keeping its messages."""

    def __init__(self, progress: Progress | None) -> None:
        self.progress = progress
        self.stage_name = "write"
        self.lines: list[str] = []

    def print(self, *args, **kwargs) -> None:  # noqa: ANN002, ANN003
        text = " ".join(str(a) for a in args).strip()
        if text:
            self.lines.append(text)

    def note(self, message: str) -> None:
        self.lines.append("note: " + message)

    def warning(self, message: str, *_: object) -> None:
        self.lines.append("warning: " + message)

    def error(self, message: str, *_: object) -> None:
        self.lines.append("error: " + message)

    def stage(self, finish: bool = False) -> None:
        pass

    def progress_bar(
        self, cur_iter: int, total_iters: int, prefix: str = "", suffix: str = "", bar_length: int = 30
    ) -> None:  # noqa: E501
        if self.progress:
            self.progress(self.stage_name, cur_iter, total_iters)

    def set_verbosity(self, verbosity: str) -> None:
        pass


def flash(
    port: str, image: Path, *, progress: Progress | None = None, connect=cmds.detect_chip
) -> FlashResult:  # noqa: ANN001
    """Erase the board and write `image`; every refusal happens before the erase."""
    try:
        data = image.read_bytes()
    except OSError as exc:
        raise ImageError(f"cannot read image {image}: {exc.strerror}") from exc
    built_for = image_chip(data, image.name)
    sink = _ProgressLog(progress)
    previous = _install_logger(sink)
    try:
        return _flash(port, image.name, data, built_for, sink, connect)
    finally:
        esptool_logger.EspLog.instance = previous


def _install_logger(sink: _ProgressLog) -> object:
    """Route esptool's log into `sink`; returns the logger to put back afterwards."""
    previous = esptool_logger.EspLog.instance
    setter = getattr(previous, "set_logger", None) or esptool_logger.EsptoolLogger().set_logger
    setter(sink)
    return previous


def _flash(port: str, name: str, data: bytes, built_for: str, sink: _ProgressLog, connect) -> FlashResult:  # noqa: ANN001
    try:
        esp = connect(port)
    except serial.SerialException as exc:
        raise PortBusyError(f"cannot open {port} for flashing: {exc}") from exc
    except FatalError as exc:
        if "busy or doesn't exist" in str(exc):
            raise PortBusyError(f"cannot open {port} for flashing: it is busy or gone") from exc
        raise FlashError(f"the chip on {port} does not answer the bootloader: {exc}") from exc
    erased = False
    try:
        chip = esp.CHIP_NAME
        if chip not in OFFSETS:
            raise WrongChipError(f"the board is an {chip}; Kumpel nodes use {', '.join(OFFSETS)}")
        if built_for != chip:
            raise WrongChipError(f"{name} is built for {built_for} but the board is an {chip}")
        offset = OFFSETS[chip]
        esp = cmds.run_stub(esp)
        size_name = cmds.detect_flash_size(esp)
        if size_name is None:
            raise FlashError(f"could not detect the flash size of the {chip}")
        flash_bytes = flash_size_bytes(size_name)
        if offset + len(data) > flash_bytes:
            raise ImageError(
                f"{name} needs {offset + len(data)} bytes from 0x{offset:x}; "
                f"the board's flash holds {flash_bytes}"
            )
        sink.stage_name = "erase"
        erased = True
        cmds.erase_flash(esp)
        sink.stage_name = "write"
        cmds.write_flash(esp, [(offset, data)])
        cmds.reset_chip(esp, "hard-reset")
    except FatalError as exc:
        state = "the board is now ERASED (no MicroPython)" if erased else "nothing was changed on the board"
        raise FlashError(f"flashing failed: {exc}; {state}") from exc
    finally:
        try:
            esp._port.close()  # noqa: SLF001 - esptool leaves the port open after a command
        except (AttributeError, OSError):
            pass
    return FlashResult(chip, offset, len(data), flash_bytes)
