"""The files the host writes in its private cache directory, and the declaration cache there.

`$XDG_CACHE_HOME/<prog>/` (else `~/.cache/<prog>/`) is opened, and created mode 0700
whatever the umask, by dispatch/dirs.py (`open_cache`, `open_dir`). It is used only when the one trust rule
(dispatch/dirs.py) says it may be: a directory someone else owns or could
write to is treated as absent, so commands still work, just without a cache,
and `doctor` says why. Everything inside is reached
through the directory's file descriptor (`openat` and friends), never
through a path someone could swap; no link is ever followed; temporary
files are created with O_EXCL|O_NOFOLLOW; pruning removes only names this
module wrote.

The cache only ever changes how fast a command starts, never what it does:
a missing, stale, unreadable, garbage or concurrently written entry reads
as "unknown", and every write failure is ignored.

`declared/<identity>` is a symbolic link (never followed, only read) whose
target is `<needle>=yes` or `<needle>=no`: whether a large plugin file
declares the protocol (dispatch/declaration.py). Reading it is one
readlink(2); writing it is a symlink then a rename, so concurrent writers
never leave a torn entry. The identity is (device, inode, size, mtime,
ctime): editing, replacing or chmod-ing the plugin changes it.
"""
from __future__ import annotations

import os

from dispatch import dirs

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping

MAX_ENTRIES = 4096
_FILE_FLAGS = os.O_RDONLY | os.O_CLOEXEC | os.O_NONBLOCK | getattr(os, "O_NOFOLLOW", 0)
_HEX = frozenset("0123456789abcdef-")


def identity(st: os.stat_result) -> str:
    return f"{st.st_dev:x}-{st.st_ino:x}-{st.st_size:x}-{st.st_mtime_ns:x}-{st.st_ctime_ns:x}"


def read_file(dir_fd: int, name: str, cap: int) -> bytes | None:
    """The content of a regular file `name` in `dir_fd` (no link followed), at most `cap` bytes; None otherwise."""
    try:
        fd = os.open(name, _FILE_FLAGS, dir_fd=dir_fd)
    except (OSError, ValueError):
        return None
    try:
        st = os.fstat(fd)
        if (st.st_mode & 0o170000) != 0o100000 or st.st_size > cap:
            return None
        chunks: list[bytes] = []
        size = 0
        while size <= cap:
            chunk = os.read(fd, 1 << 16)
            if not chunk:
                return b"".join(chunks)
            chunks.append(chunk)
            size += len(chunk)
        return None
    except OSError:
        return None
    finally:
        os.close(fd)


def _temp_name(name: str) -> str:
    return f".{name}.{os.getpid()}.{os.urandom(4).hex()}.tmp"


def write_file(dir_fd: int, name: str, data: bytes) -> bool:
    """Replace `name` in `dir_fd` with `data`, atomically (a new file, then a rename)."""
    temp = _temp_name(name)
    try:
        fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC | getattr(os, "O_NOFOLLOW", 0), 0o600, dir_fd=dir_fd)
    except OSError:
        return False
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
        os.close(fd)
        fd = -1
        os.replace(temp, name, src_dir_fd=dir_fd, dst_dir_fd=dir_fd)
        return True
    except OSError:
        if fd >= 0:
            os.close(fd)
        try:
            os.unlink(temp, dir_fd=dir_fd)
        except OSError:
            pass
        return False


def lookup(env: Mapping[str, str], prog: str, st: os.stat_result, needle: bytes) -> bool | None:
    """Whether this file declares `needle`, as remembered; None when unknown."""
    root = dirs.open_cache(env, prog)
    if root is None:
        return None
    try:
        value = os.readlink(os.path.join("declared", identity(st)), dir_fd=root)
    except (OSError, ValueError):
        return None
    finally:
        os.close(root)
    name, _, answer = value.rpartition("=")
    if name.encode() != needle or answer not in ("yes", "no"):
        return None
    return answer == "yes"


def remember(env: Mapping[str, str], prog: str, st: os.stat_result, needle: bytes, declares: bool) -> None:
    """Record the answer; silently does nothing when the cache cannot be written."""
    root = dirs.open_cache(env, prog, create=True)
    if root is None:
        return
    try:
        directory = dirs.open_dir(None, "declared", dir_fd=root, create=True)
    finally:
        os.close(root)
    if directory is None:
        return
    name = identity(st)
    temp = _temp_name(name)
    target = needle.decode("ascii", "replace") + ("=yes" if declares else "=no")
    try:
        os.symlink(target, temp, dir_fd=directory)
        os.replace(temp, name, src_dir_fd=directory, dst_dir_fd=directory)
        prune(directory)
    except OSError:
        try:
            os.unlink(temp, dir_fd=directory)
        except OSError:
            pass
    finally:
        os.close(directory)


def ours(name: str) -> bool:
    """A name this module writes: an identity, possibly with a suffix, or one of its temporary files."""
    stem = name.split(".", 1)[0] if not name.startswith(".") else name[1:].split(".", 1)[0]
    return bool(stem) and set(stem) <= _HEX


def prune(dir_fd: int, keep: int = MAX_ENTRIES) -> None:
    """Past `keep` entries, drop the oldest half (old versions of plugins pile up); only our own names."""
    try:
        with os.scandir(dir_fd) as it:
            entries = [e for e in it if ours(e.name)]
        if len(entries) <= keep:
            return
        entries.sort(key=lambda e: e.stat(follow_symlinks=False).st_mtime)
        for entry in entries[: len(entries) // 2]:
            os.unlink(entry.name, dir_fd=dir_fd)
    except OSError:
        pass
