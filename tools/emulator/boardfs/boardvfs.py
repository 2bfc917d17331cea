"""MicroPython's `vfs` on the virtual board: `vfs.mount()` lists the board's flash as a LittleFS at "/".

The Unix port answers `vfs.mount()` with [(<VfsPosix>, '/')], the laptop's whole disk, so `mpremote df`
printed the laptop's disk. A board (ESP32_GENERIC) mounts a VfsLfs2 at "/" (ports/esp32/modules/_boot.py),
and `df` asks it for `statvfs`. The virtual board installs this module as sys.modules['vfs'] (the built-in
`vfs` is not extensible); everything else is the built-in's.
"""

import os

from vfs import *  # noqa: F401,F403  (the built-in module)
from vfs import mount as _mount


class VfsLfs2:
    """The board's flash as `df` sees it: statvfs from the board's `os` (boardfs/os.py)."""

    def statvfs(self, path):
        return os.statvfs(path)

    def __repr__(self):
        return "<VfsLfs2>"


_FLASH = VfsLfs2()


def mount(*args, **kw):
    if not args and not kw:
        return [(_FLASH, "/")]
    return _mount(*args, **kw)
