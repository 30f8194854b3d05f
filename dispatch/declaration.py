"""Whether a plugin file declares the protocol: it contains the bytes `<ENV_PREFIX>PROTOCOL`.

The host decides how to run a plugin from its file alone, before running it
(design section 4): a file that names the variable it reads declares that it
speaks the protocol; every other file is plain and is exec'd exactly as git
would. Nothing learned from a run's output ever changes this.

Scripts are small, so they are simply read (about as cheap as a cache look-up);
only a large file (a compiled plugin) has its answer remembered, keyed by the
file's identity, so that it is read once per version. This module is on the
start-up path of every command: it imports nothing beyond `os`.
"""
from __future__ import annotations

import os

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping

# Files up to this size are read on every run rather than cached.
SMALL = 256 * 1024
_CHUNK = 1 << 20


def scan(path: str, needle: bytes) -> tuple[bool, os.stat_result | None]:
    """(whether the file contains `needle`, the stat of what was read).

    A file that cannot be opened or read (execute-only, gone, not a regular
    file) is plain. Opened without blocking, so that a FIFO swapped in for
    the plugin cannot hang the host; memory stays bounded whatever the size.
    """
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC | getattr(os, "O_NOCTTY", 0))
    except (OSError, ValueError):
        return False, None
    try:
        st = os.fstat(fd)
        if (st.st_mode & 0o170000) != 0o100000:  # S_ISREG without importing stat
            return False, None
        keep = len(needle) - 1
        tail = b""
        while True:
            chunk = os.read(fd, _CHUNK)
            if not chunk:
                return False, st
            if needle in chunk or (tail and needle in tail + chunk[:keep]):
                return True, st
            tail = chunk[-keep:]
    except OSError:
        return False, None
    finally:
        os.close(fd)


def declares(path: str, st: os.stat_result, needle: bytes, env: Mapping[str, str], prog: str) -> bool:
    """Whether the plugin at `path` (found with stat `st`) declares the protocol."""
    if st.st_size <= SMALL:
        return scan(path, needle)[0]
    from dispatch.catalog import cache

    known = cache.lookup(env, prog, st, needle)
    if known is not None:
        return known
    found, scanned = scan(path, needle)
    if scanned is not None and scanned.st_size > SMALL:
        cache.remember(env, prog, scanned, needle, found)
    return found
