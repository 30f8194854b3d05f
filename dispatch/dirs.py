"""The host's own directories (config, data, cache) and the one rule for trusting a directory.

Where: `$XDG_CONFIG_HOME/<prog>/config.toml` (else `~/.config/...`, or the file the
program's `CONFIG` variable names), `$XDG_DATA_HOME/<prog>` (else `~/.local/share/<prog>`:
installed plugins, their `bin/` on the search path), `$XDG_CACHE_HOME/<prog>` (else
`~/.cache/<prog>`). A relative `HOME` or `XDG_*` value is ignored: it would make what runs
depend on where the user stands.

Trust (design section 6): a directory the host reads code or data from on its own account is
used only when it is a real directory (not a link) owned by the user or root and writable by
nobody else; otherwise it is treated as absent for reading and refused for writing, and
`-v` and `doctor` say why (`distrust`). A directory the host writes in is opened by
descriptor, made 0700 when missing, and used only when it is trusted (`open_dir`,
`open_cache`). On the start-up path: imports nothing beyond `os`.
"""
from __future__ import annotations

import os

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping

_S_IFMT, _S_IFDIR, _S_IFLNK = 0o170000, 0o040000, 0o120000


def _base(env: Mapping[str, str], var: str, under_home: str) -> str | None:
    value = env.get(var)
    if value and os.path.isabs(value):
        return value
    home = env.get("HOME")
    if not home or not os.path.isabs(home):
        return None
    return os.path.join(home, under_home)


def config_file(env: Mapping[str, str], prog: str, named_by: str) -> tuple[str, str | None] | None:
    """The config file to read and the variable that named it (None: found where it is by
    default); None when there is none to read (the common case: one stat)."""
    named = env.get(named_by)
    if named:
        return named, named_by
    base = _base(env, "XDG_CONFIG_HOME", ".config")
    if base is None:
        return None
    path = os.path.join(base, prog, "config.toml")
    return (path, None) if os.path.exists(path) else None


def data_dir(env: Mapping[str, str], prog: str) -> str | None:
    """`$XDG_DATA_HOME/<prog>`, else `~/.local/share/<prog>`; None without an absolute base."""
    base = _base(env, "XDG_DATA_HOME", os.path.join(".local", "share"))
    return None if base is None else os.path.join(base, prog)


def cache_dir(env: Mapping[str, str], prog: str) -> str | None:
    """`$XDG_CACHE_HOME/<prog>`, else `~/.cache/<prog>`; None without an absolute base."""
    base = _base(env, "XDG_CACHE_HOME", ".cache")
    return None if base is None else os.path.join(base, prog)


def installed_bin(env: Mapping[str, str], prog: str) -> str | None:
    """Where `plugin install` puts its links: `bin/` of the data directory."""
    root = data_dir(env, prog)
    return None if root is None else os.path.join(root, "bin")


# In an installed version's directory, beside its manifest: the sandbox policy it was installed
# with (`plugin install --sandbox`). The manifest is the record (install/store.py writes both, in
# one switch); this copy is what a run reads, a few bytes instead of a manifest of every hash.
SANDBOX_RECORD = "sandbox"


def installed_policy(env: Mapping[str, str], prog: str, path: str) -> str | None:
    """The sandbox policy the installed plugin at `path` (a link the store made in the installed
    plugins' bin/) was installed with; None for any other file, or one installed without. A
    record that is there but cannot be read is an error (126): the plugin must not then run free."""
    root = data_dir(env, prog)
    if root is None or os.path.dirname(os.path.normpath(path)) != os.path.normpath(os.path.join(root, "bin")):
        return None
    try:
        target = os.readlink(path)
    except OSError:
        return None
    parts = target.split("/")  # ../plugins/NAME/current/..., as the store links it
    if len(parts) < 5 or parts[:2] != ["..", "plugins"] or parts[3] != "current" or parts[2] in ("", ".", ".."):
        return None
    record = os.path.join(root, "plugins", parts[2], "current", SANDBOX_RECORD)
    try:
        fd = os.open(record, os.O_RDONLY | os.O_CLOEXEC | os.O_NONBLOCK | getattr(os, "O_NOFOLLOW", 0))
    except FileNotFoundError:
        return None
    except OSError as e:
        why: str = e.strerror or str(e)
    else:
        try:
            data = os.read(fd, 65)
        finally:
            os.close(fd)
        text = data.decode("ascii", "replace").strip()
        if len(data) <= 64 and text:
            return text  # checked as a policy name where it is used (an unknown one is refused)
        why = "not a policy name"
    from dispatch.errors import ToolError
    from dispatch.exitcodes import ExitCode

    raise ToolError(ExitCode.CANNOT_EXECUTE, f"cannot read the sandbox policy {path} was installed with ({record}: {why}); "
                    f"it does not run unconfined: run '{prog} doctor', or install it again")


def distrust(st: os.stat_result, uid: int | None = None) -> str | None:
    """Why a directory with this lstat must not be used, or None when it can be trusted."""
    mode = st.st_mode & _S_IFMT
    if mode == _S_IFLNK:
        return "it is a symbolic link"
    if mode != _S_IFDIR:
        return "it is not a directory"
    if uid is None:
        uid = os.getuid() if hasattr(os, "getuid") else None
    if uid is not None and st.st_uid not in (uid, 0):
        return f"it is owned by someone else (uid {st.st_uid})"
    if st.st_mode & 0o022:
        return f"others can write to it (mode {st.st_mode & 0o777:o})"
    return None


def why_untrusted(path: str) -> str | None:
    """Why the directory at `path` must not be used (None: use it); a missing one is "missing"."""
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return "missing"
    except (OSError, ValueError) as e:
        return getattr(e, "strerror", None) or str(e)
    return distrust(st)


def trusted_installed_bin(env: Mapping[str, str], prog: str) -> tuple[str | None, tuple[str, str] | None]:
    """(the installed plugins' bin/ when it may be searched, else None; when it exists but may
    not be searched, the directory that fails the trust rule and why)."""
    root = data_dir(env, prog)
    if root is None:
        return None, None
    bin_dir = os.path.join(root, "bin")
    # bin/ holds links into plugins/: whoever could change either could change what runs.
    for path in (root, bin_dir, os.path.join(root, "plugins")):
        why = why_untrusted(path)
        if why == "missing":
            return None, None  # nothing installed yet: one directory less to search on every command
        if why is not None:
            return None, (path, why)
    return bin_dir, None


_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC | getattr(os, "O_NOFOLLOW", 0)


def open_dir(path: str | None, name: str | None = None, *, dir_fd: int | None = None, create: bool = False) -> int | None:
    """A descriptor of a trusted directory (`name` inside `dir_fd`, or `path`), or None.

    With `create`, a missing directory is made (0700, whatever the umask;
    only its last component: the base directories must exist or be made by
    `open_root`).
    """
    target = name if name is not None else path
    if target is None:
        return None
    try:
        fd = os.open(target, _DIR_FLAGS, dir_fd=dir_fd)
    except FileNotFoundError:
        if not create:
            return None
        try:
            os.mkdir(target, 0o700, dir_fd=dir_fd)
        except FileExistsError:
            pass
        except OSError:
            return None
        try:
            fd = os.open(target, _DIR_FLAGS, dir_fd=dir_fd)
        except OSError:
            return None
    except OSError:
        return None  # a link (ELOOP), not a directory, no permission
    try:
        st = os.fstat(fd)
        if distrust(st) is not None:
            os.close(fd)
            return None
        if create and st.st_mode & 0o077:
            os.fchmod(fd, 0o700)  # made by us under a loose umask
    except OSError:
        os.close(fd)
        return None
    return fd


def open_cache(env: Mapping[str, str], prog: str, *, create: bool = False) -> int | None:
    """A descriptor of the host's own cache directory, or None when there is none it can trust."""
    root = cache_dir(env, prog)
    if root is None:
        return None
    if create:
        parent = os.path.dirname(root)
        try:
            os.makedirs(parent, 0o700, exist_ok=True)
        except OSError:
            return None
    return open_dir(root, create=create)
