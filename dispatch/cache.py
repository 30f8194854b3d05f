"""What the host remembers about each plugin file, keyed by the file's identity.

The cache only ever changes how fast a command starts, never what it does:
a missing, stale, unreadable, garbage or concurrently written entry reads
as "unknown", and every write failure is ignored.

Layout: `$XDG_CACHE_HOME/<prog>/plugins/<identity>` is a symbolic link
whose target is the plugin's kind (`plain`, or `protocol:N`). Reading it is
one readlink(2) on the start-up path; writing it is a symlink then a rename,
so concurrent writers never leave a torn entry. The identity is (device,
inode, size, mtime, ctime): editing, replacing or chmod-ing the plugin
changes it, so an upgraded plugin is learned again.
"""
from __future__ import annotations

import os

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping

PLAIN = "plain"
PROTOCOL = "protocol"
_MAX_ENTRIES = 4096


def cache_dir(env: Mapping[str, str], prog: str) -> str | None:
    base = env.get("XDG_CACHE_HOME")
    if not base or not os.path.isabs(base):
        home = env.get("HOME") or env.get("LOCALAPPDATA")
        if not home:
            return None
        base = os.path.join(home, ".cache")
    return os.path.join(base, prog, "plugins")


def identity(st: os.stat_result) -> str:
    return f"{st.st_dev:x}-{st.st_ino:x}-{st.st_size:x}-{st.st_mtime_ns:x}-{st.st_ctime_ns:x}"


def lookup(directory: str | None, st: os.stat_result) -> str | None:
    """The remembered kind (`plain`, `protocol:N`), or None when unknown."""
    if directory is None:
        return None
    try:
        value = os.readlink(os.path.join(directory, identity(st)))
    except (OSError, ValueError):
        return None
    if value == PLAIN or value.startswith(PROTOCOL + ":"):
        return value
    return None


def remember(directory: str | None, st: os.stat_result, kind: str) -> None:
    """Record the kind; silently does nothing when the cache cannot be written."""
    if directory is None:
        return
    final = os.path.join(directory, identity(st))
    temp = f"{final}.{os.getpid()}.tmp"
    try:
        try:
            os.symlink(kind, temp)
        except FileNotFoundError:
            os.makedirs(directory, exist_ok=True)
            os.symlink(kind, temp)
        except FileExistsError:
            os.unlink(temp)
            os.symlink(kind, temp)
        os.replace(temp, final)
    except OSError:
        try:
            os.unlink(temp)
        except OSError:
            pass
        return
    _prune(directory)


def _prune(directory: str) -> None:
    # Identities of old versions of plugins pile up; drop the oldest half past a bound.
    try:
        with os.scandir(directory) as it:
            entries = list(it)
        if len(entries) <= _MAX_ENTRIES:
            return
        entries.sort(key=lambda e: e.stat(follow_symlinks=False).st_mtime)
        for entry in entries[: len(entries) // 2]:
            os.unlink(entry.path)
    except OSError:
        pass
