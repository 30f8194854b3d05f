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
# Of any file, at most this much is read (a multi-GB or sparse file is decided in bounded time).
LIMIT = 64 << 20
_CHUNK = 1 << 20
# The first bytes of the executable formats whose data sections are read instead of the whole
# file (dispatch/sections.py): ELF, Mach-O (both byte orders, 32 and 64 bits, universal), PE.
_COMPILED = (b"\x7fELF", b"\xfe\xed\xfa", b"\xce\xfa\xed\xfe", b"\xcf\xfa\xed\xfe", b"\xca\xfe\xba", b"MZ")


def scan(path: str, needle: bytes) -> tuple[bool, os.stat_result | None]:
    """(whether the file contains `needle` where a declaration counts, the stat of what was read).

    Where it counts: in a compiled executable (ELF, Mach-O, PE), its data sections, where string
    literals live; in any other file, its first LIMIT bytes (docs/protocol.md). A file that
    cannot be opened or read (execute-only, gone, not a regular file) is plain. Opened without
    blocking, so that a FIFO swapped in for the plugin cannot hang the host; memory stays
    bounded whatever the size.
    """
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC | getattr(os, "O_NOCTTY", 0))
    except (OSError, ValueError):
        return False, None
    try:
        st = os.fstat(fd)
        if (st.st_mode & 0o170000) != 0o100000:  # S_ISREG without importing stat
            return False, None
        head = os.read(fd, _CHUNK)
        compiled = head.startswith(_COMPILED)
        if len(head) < _CHUNK and needle not in head:
            return False, st  # the whole file, read: no section can hold what the file does not
        if compiled:
            from dispatch import sections

            ranges = sections.data_ranges(fd, st.st_size, head)
            if ranges is not None:
                return _within(fd, ranges, needle), st
        return needle in head or _within(fd, [(len(head), LIMIT - len(head))], needle, tail=head), st
    except OSError:
        return False, None
    finally:
        os.close(fd)


def _within(fd: int, ranges: list[tuple[int, int]], needle: bytes, tail: bytes = b"") -> bool:
    """Whether `needle` is in one of the ranges (offset, length) of the file, reading at most
    LIMIT bytes in all; `tail` is what was read just before the first range. One buffer
    serves every read: a fresh megabyte per read costs its page faults, more than the search."""
    keep = len(needle) - 1
    budget = LIMIT
    buf = bytearray(_CHUNK)
    view = memoryview(buf)
    for offset, length in ranges:
        length = min(length, budget)
        budget -= length
        os.lseek(fd, offset, os.SEEK_SET)
        while length > 0:
            n = os.readv(fd, [view[:min(_CHUNK, length)]])
            if n <= 0:
                break
            if buf.find(needle, 0, n) >= 0 or (tail and needle in tail + buf[:keep]):
                return True
            tail = bytes(view[max(0, n - keep):n])
            length -= n
        tail = b""
    return False


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
