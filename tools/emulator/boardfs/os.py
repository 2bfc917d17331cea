"""MicroPython's `os` on the virtual board, answering as the board's LittleFS does (extmod/vfs_lfsx.c).

The Unix port's `os` is VfsPosix over the laptop's disk: `ilistdir` gives (name, type, inode) without the
size, `stat` the host's modes and inodes, and `statvfs` the laptop's disk, so `mpremote fs ls` showed
every file as 0 bytes and `df`/verify reported hundreds of GB free. A board's LittleFS (vfs_lfsx.c)
answers `ilistdir` with (name, S_IFREG|S_IFDIR, 0, size), `stat` with (mode, 0, 0, 0, 0, 0, size, ...),
and `statvfs` from its partition: 4096-byte blocks; ESP32_GENERIC's 4 MiB layout gives the `vfs`
partition 0x200000 bytes (ports/esp32/partitions-4MiB.csv), i.e. 512 blocks. Used blocks are estimated
the way LittleFS spends them: a metadata pair (2 blocks) for the root and each folder, and each file's
size in whole blocks. The built-in `os` is extensible: it is imported with sys.path emptied and this
module adds to it.
"""

import sys

_saved = sys.path[:]
sys.path.clear()
from os import *  # noqa: E402,F401,F403  (the built-in module)
from os import ilistdir as _ilistdir  # noqa: E402
from os import stat as _stat  # noqa: E402

sys.path.extend(_saved)
del _saved

_S_IFDIR = 0x4000
_S_IFREG = 0x8000
BLOCK_SIZE = 4096
BLOCK_COUNT = 0x200000 // BLOCK_SIZE  # ESP32_GENERIC 4 MiB: the vfs partition
NAME_MAX = 255  # LFS2_NAME_MAX
HOST = ".host"  # the laptop's filesystem, mounted at /.host for the sim layer: not part of the board


def _is_root(path):
    return (path in ("", ".") and getcwd() == "/") or path == "/"  # noqa: F405


def ilistdir(path=""):
    prefix = path + "/" if path and path[-1] != "/" else path
    root = _is_root(path)
    for e in _ilistdir(path) if path else _ilistdir():
        if root and e[0] == HOST:
            continue
        if e[1] == _S_IFDIR:
            yield (e[0], _S_IFDIR, 0, 0)
        else:
            yield (e[0], _S_IFREG, 0, _stat(prefix + e[0])[6])


def stat(path):
    s = _stat(path)
    if s[0] & _S_IFDIR:
        return (_S_IFDIR, 0, 0, 0, 0, 0, 0, s[8], s[8], s[8])
    return (_S_IFREG, 0, 0, 0, 0, 0, s[6], s[8], s[8], s[8])


def _used_blocks(path):
    used = 2  # the folder's metadata pair
    for e in _ilistdir(path):
        p = path.rstrip("/") + "/" + e[0]
        if p == "/" + HOST:
            continue
        if e[1] == _S_IFDIR:
            used += _used_blocks(p)
        else:
            used += (_stat(p)[6] + BLOCK_SIZE - 1) // BLOCK_SIZE
    return used


def statvfs(path="/"):
    free = max(0, BLOCK_COUNT - _used_blocks("/"))
    return (BLOCK_SIZE, BLOCK_SIZE, BLOCK_COUNT, free, free, 0, 0, 0, 0, NAME_MAX)


def listdir(path=""):
    return [e[0] for e in ilistdir(path)]
