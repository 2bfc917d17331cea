"""Flashing through esptool's real API, with only the wire replaced: the chip classes are esptool's own
(ESP32ROM/ESP32-S3 and their stub loaders) and every command they send lands in `FakeWire.command`, which
answers like the ROM/stub would over an in-memory flash (compressed writes, MD5 check, erase)."""

from __future__ import annotations

import hashlib
import struct
import zlib
from pathlib import Path

import pytest
from esptool.targets import ESP32ROM, ESP32S3ROM
from esptool.targets.esp32 import ESP32StubLoader
from esptool.targets.esp32s3 import ESP32S3StubLoader

from tools.nodetool.errors import FlashError, ImageError, WrongChipError
from tools.nodetool.flash import flash, image_chip

MB = 1024 * 1024
SIZE_IDS = {4 * MB: 0x16, 8 * MB: 0x17}  # JEDEC capacity byte, as esptool's DETECTED_FLASH_SIZES


class FakeFlashPort:
    """Stands where esptool's serial port would; holds the chip's memory so ROM and stub loaders share it."""

    def __init__(self, flash_bytes: int) -> None:
        self.flash = bytearray(b"\xff" * flash_bytes)
        self.flash_bytes = flash_bytes
        self.ops: list[str] = []
        self.timeout = 3
        self.write_timeout = None
        self.baudrate = 115200
        self.port = "/dev/ttyFAKE"
        self.closed = False
        self.dec = None
        self.at = 0
        self.fail_on = ""  # a command name the chip answers with a failure status (a flaky cable)
        self.on_reset = None  # called at the hard reset: the board boots what was flashed

    def flushInput(self) -> None:  # noqa: N802 - pyserial's name
        pass

    def close(self) -> None:
        self.closed = True


class FakeWire:
    """Mixin over an esptool chip class: each command is answered like the ROM/stub would, from memory."""

    def command(self, op=None, data=b"", chk=0, wait_response=True, timeout=3):  # noqa: ANN001, ANN201
        mem: FakeFlashPort = self._port
        c = self.ESP_CMDS
        ok = b"\x00\x00\x00\x00"
        name = next((k for k, v in c.items() if v == op), hex(op))
        mem.ops.append(name)
        if name == mem.fail_on:
            return 0, b"\x01\x63\x00\x00"  # status: failed
        if op == c["READ_REG"]:
            return 0, ok
        if op == c["FLASH_DEFL_BEGIN"]:
            mem.dec, mem.at = zlib.decompressobj(), struct.unpack("<IIII", data[:16])[3]
            return 0, ok
        if op == c["FLASH_DEFL_DATA"]:
            (n,) = struct.unpack("<I", data[:4])
            raw = mem.dec.decompress(data[16 : 16 + n])
            mem.flash[mem.at : mem.at + len(raw)] = raw
            mem.at += len(raw)
            return 0, ok
        if op == c["SPI_FLASH_MD5"]:
            addr, size = struct.unpack("<II", data[:8])
            return 0, hashlib.md5(mem.flash[addr : addr + size]).digest() + ok
        if op == c["ERASE_FLASH"]:
            mem.flash[:] = b"\xff" * mem.flash_bytes
            return 0, ok
        if name in ("FLASH_DEFL_END", "SPI_ATTACH", "SPI_SET_PARAMS", "WRITE_REG", "CHANGE_BAUDRATE"):
            return 0, ok
        raise AssertionError(f"esptool sent an unexpected command {name}")

    def flash_id(self, cache=True):  # noqa: ANN001, ANN201
        return 0xEF | 0x40 << 8 | SIZE_IDS[self._port.flash_bytes] << 16  # Winbond-style JEDEC id

    def hard_reset(self, uses_usb=False):  # noqa: ANN001, ANN201
        self._port.ops.append("hard_reset")
        if self._port.on_reset:
            self._port.on_reset()

    def _set_port_baudrate(self, baud):  # noqa: ANN001, ANN202
        self._port.baudrate = baud


def _chip(rom_cls, stub_cls, flash_bytes: int = 4 * MB):  # noqa: ANN001, ANN202
    """esptool's own chip class, connected to memory instead of a serial port (detect_chip's result)."""
    stub_type = type("FakeStub", (FakeWire, stub_cls), {})

    def run_stub(self, stub=None):  # noqa: ANN001, ANN202
        self._port.ops.append("run_stub")
        return stub_type(self)

    rom_type = type("FakeRom", (FakeWire, rom_cls), {"run_stub": run_stub})
    return rom_type(FakeFlashPort(flash_bytes))


def micropython_image(chip_id: int, size: int = 64 * 1024) -> bytes:
    """Bytes shaped like a MicroPython release: ESP image header (magic 0xE9, chip id at byte 12)."""
    header = struct.pack("<BBBBI", 0xE9, 3, 2, 0x20, 0x40080000) + bytes(4) + struct.pack("<H", chip_id)
    body = bytes((i * 7) & 0xFF for i in range(size - len(header) - 10))
    return header + bytes(10) + body


@pytest.fixture
def image(tmp_path: Path):  # noqa: ANN201
    def make(chip_id: int, size: int = 64 * 1024) -> Path:
        p = tmp_path / f"micropython-{chip_id}.bin"
        p.write_bytes(micropython_image(chip_id, size))
        return p

    return make


def test_esp32_image_is_written_at_0x1000_and_verified(image):
    chip = _chip(ESP32ROM, ESP32StubLoader)
    mem = chip._port
    mem.flash[0x200000:0x200004] = b"OLD!"  # e.g. the old filesystem: the erase must clear it
    progress = []

    def connect(port: str):  # noqa: ANN202
        assert port == "/dev/ttyUSB0"
        return chip

    path = image(0)
    result = flash("/dev/ttyUSB0", path, progress=lambda s, d, t: progress.append((s, d, t)), connect=connect)
    data = path.read_bytes()
    assert (result.chip, result.offset, result.image_bytes) == ("ESP32", 0x1000, len(data))
    assert mem.flash[0x1000 : 0x1000 + len(data)] == data and mem.flash[:0x1000] == b"\xff" * 0x1000
    assert mem.flash[0x200000:0x200004] == b"\xff" * 4
    ops = mem.ops
    assert ops.index("run_stub") < ops.index("ERASE_FLASH") < ops.index("FLASH_DEFL_BEGIN")
    assert ops.index("FLASH_DEFL_DATA") < ops.index("SPI_FLASH_MD5") < ops.index("hard_reset")
    assert mem.closed and progress and progress[-1][1] == progress[-1][2]


def test_wrong_chip_is_refused_before_erasing(image):
    chip = _chip(ESP32ROM, ESP32StubLoader)
    chip._port.flash[0x1000:0x1004] = b"OLD!"
    with pytest.raises(WrongChipError, match="built for ESP32-S3 but the board is an ESP32"):
        flash("/dev/ttyUSB0", image(9), connect=lambda p: chip)
    assert "ERASE_FLASH" not in chip._port.ops and chip._port.flash[0x1000:0x1004] == b"OLD!"


def test_s3_image_goes_to_0x0_and_oversize_is_refused(image):
    chip = _chip(ESP32S3ROM, ESP32S3StubLoader, 4 * MB)
    result = flash("/dev/ttyACM0", image(9), connect=lambda p: chip)
    assert result.offset == 0 and result.chip == "ESP32-S3"
    assert chip._port.flash[: result.image_bytes] == image(9).read_bytes()
    big = _chip(ESP32S3ROM, ESP32S3StubLoader, 4 * MB)
    with pytest.raises(ImageError, match="flash holds 4194304"):
        flash("/dev/ttyACM0", image(9, 4 * MB + 4096), connect=lambda p: big)
    assert "ERASE_FLASH" not in big._port.ops


def test_not_an_esp_image(tmp_path: Path):
    uf2 = tmp_path / "firmware.uf2"
    uf2.write_bytes(b"UF2\n" + bytes(600))
    with pytest.raises(ImageError, match="not an ESP32 firmware image"):
        image_chip(uf2.read_bytes(), uf2.name)
    with pytest.raises(ImageError, match="cannot read"):
        flash("/dev/ttyUSB0", tmp_path / "missing.bin", connect=lambda p: pytest.fail("must not connect"))


def test_failure_after_the_erase_says_the_board_is_blank(image):
    chip = _chip(ESP32ROM, ESP32StubLoader)
    chip._port.fail_on = "FLASH_DEFL_DATA"
    with pytest.raises(FlashError, match="ERASED") as err:
        flash("/dev/ttyUSB0", image(0), connect=lambda p: chip)
    assert "BOOT" in err.value.hint and chip._port.closed
