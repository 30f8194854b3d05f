"""The private TMPDIR of a confined run: `run-<host pid>-<random>`, mode 0700, in
`$XDG_RUNTIME_DIR/<prog>/sandbox` (when that is a directory the trust rule accepts), else in
the cache (`<cache>/sandbox`, dispatch/catalog/cache.py). The only place a `read-only` plugin
may write.

A supervised run's is removed when the run ends. An exec'd plugin replaces the host, which
cannot remove anything afterwards: its directory stays while that pid lives and is removed by
the next confined run after it (each run prunes the directories of pids that are gone).
Everything is reached through the directory's descriptor; only names this module makes are
ever removed, and no link is followed.
"""
from __future__ import annotations

import os

from dispatch import dirs
from dispatch.catalog import cache
from dispatch.errors import cannot_execute

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping

PREFIX = "run-"
SANDBOX = "sandbox"


def _base(env: Mapping[str, str], prog: str) -> tuple[str, int] | None:
    """(the path, a descriptor) of the directory the private TMPDIRs are made in, or None."""
    runtime = env.get("XDG_RUNTIME_DIR", "")
    if os.path.isabs(runtime) and dirs.why_untrusted(runtime) is None:
        root = cache.open_dir(os.path.join(runtime, prog), create=True)
        path = os.path.join(runtime, prog, SANDBOX)
    else:
        root = cache.open_root(env, prog, create=True)
        path = os.path.join(dirs.cache_dir(env, prog) or "", SANDBOX)
    if root is None:
        return None
    try:
        fd = cache.open_dir(None, SANDBOX, dir_fd=root, create=True)
    finally:
        os.close(root)
    return None if fd is None else (path, fd)


def make(env: Mapping[str, str], prog: str, path: str) -> str:
    """A new private TMPDIR for running the plugin at `path` (after pruning those left by runs
    that are over); raises ToolError (126) when there is nowhere to make one."""
    found = _base(env, prog)
    if found is None:
        raise cannot_execute(
            path, "the sandbox has nowhere to make its private TMPDIR: set XDG_RUNTIME_DIR or HOME to a "
            f"directory of yours that only you can write to ({prog} doctor says what is wrong with the cache)",
        )
    base, fd = found
    try:
        prune(fd)
        for _ in range(16):
            name = f"{PREFIX}{os.getpid()}-{os.urandom(6).hex()}"
            try:
                os.mkdir(name, 0o700, dir_fd=fd)
            except FileExistsError:
                continue
            os.chmod(name, 0o700, dir_fd=fd)  # whatever the umask; ours alone in a directory only we can write
            return os.path.join(base, name)
        raise cannot_execute(path, f"cannot make a private TMPDIR in {base}")
    except OSError as e:
        raise cannot_execute(path, f"cannot make a private TMPDIR in {base}: {e.strerror}") from None
    finally:
        os.close(fd)


def _pid(name: str) -> int | None:
    digits = name[len(PREFIX):].partition("-")[0]
    return int(digits) if name.startswith(PREFIX) and digits.isascii() and digits.isdigit() else None


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True  # someone's, not ours to judge: kept
    return True


def prune(fd: int) -> None:
    """Remove the TMPDIRs of runs whose host is gone."""
    try:
        names = os.listdir(fd)
    except OSError:
        return
    for name in names:
        pid = _pid(name)
        if pid is not None and pid != os.getpid() and not _alive(pid):
            _remove(fd, name)


def _remove(fd: int, name: str) -> None:
    """Remove the tree `name` in `fd`, never following a link (shutil costs 7 ms to import:
    more than the whole command). What cannot be removed is left for the next prune."""
    try:
        top = os.open(name, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=fd)
    except OSError:
        return
    try:
        for _root, subdirs, files, root_fd in os.fwalk(top=".", dir_fd=top, topdown=False, follow_symlinks=False):
            for file_name in files:
                os.unlink(file_name, dir_fd=root_fd)
            for subdir in subdirs:
                # os.fwalk lists links to directories among the directories: a link is unlinked.
                try:
                    os.rmdir(subdir, dir_fd=root_fd)
                except NotADirectoryError:
                    os.unlink(subdir, dir_fd=root_fd)
        os.rmdir(name, dir_fd=fd)
    except (OSError, RecursionError):
        pass
    finally:
        os.close(top)


def remove(path: str) -> None:
    """Remove a run's TMPDIR and what the plugin left in it (no link followed)."""
    parent, name = os.path.split(path)
    if _pid(name) is None:
        return
    try:
        fd = os.open(parent, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC | os.O_NOFOLLOW)
    except OSError:
        return
    try:
        _remove(fd, name)
    finally:
        os.close(fd)
