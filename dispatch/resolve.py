"""Which file runs for the command words: the search path and the name rules.

Pure functions over what they are given (environment, platform, path
separator), so that every rule is testable without touching os.environ.
This module is on the start-up path of every command: it imports nothing
beyond `os`, which the interpreter has already loaded.
"""
from __future__ import annotations

import os

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

_ALNUM = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789")
_NAME_CHARS = _ALNUM | frozenset("._-")
# Longer file names cannot exist on the usual file systems; this also bounds
# the lookups for `tool rm f1 f2 ... f10000`.
_NAME_MAX = 255
DEFAULT_PATHEXT = ".COM;.EXE;.BAT;.CMD"


def name_problem(word: str) -> str | None:
    """Why `word` can never be (part of) a command name, or None when it can.

    A word is a name only if it matches [A-Za-z0-9][A-Za-z0-9._-]*: no path
    separators, no NUL, no leading dot or dash, so `.`/`..` and `a/b` are
    never looked up on disk.
    """
    if word.isascii() and word[:1].isalnum() and word.replace("-", "").replace("_", "").replace(".", "").isalnum():
        return None  # the common case, decided in C: completion and list ask this of every file
    if not word:
        return "it is empty"
    if word[0] not in _ALNUM:
        return f"names cannot start with {word[0]!r}"
    for ch in word:
        if ch not in _NAME_CHARS:
            if ch == "/" or ch == "\\":
                return "names cannot contain path separators"
            return f"names cannot contain {ch!r}"
    return None


def command_words(args: Sequence[str]) -> int:
    """How many leading arguments are command words: up to the first that starts with '-'."""
    n = 0
    for arg in args:
        if arg.startswith("-"):
            break
        n += 1
    return n


def lookup_words(words: Sequence[str], prefix: str = "") -> list[str]:
    """The leading command words that may be looked up: those before the first invalid one,
    and no more than fit in a file name with `prefix-` in front (so that `tool rm f1 ... f100000`
    costs as little as `tool rm f1`)."""
    valid = []
    length = len(prefix)
    for word in words:
        length += len(word) + 1
        if length > _NAME_MAX or name_problem(word) is not None:
            break
        valid.append(word)
    return valid


class SearchPath:
    """The directories plugins are looked up in, and the entries that were skipped (for -v)."""

    __slots__ = ("dirs", "skipped")

    def __init__(self, dirs: list[str], skipped: list[tuple[str, str, str]]) -> None:
        self.dirs = dirs
        # (variable, entry, reason)
        self.skipped = skipped


def search_path(
    env: Mapping[str, str],
    plugin_path_var: str,
    *,
    pathsep: str = os.pathsep,
    isabs: object = None,
    extra: Sequence[str] = (),
    first: Sequence[str] = (),
    installed: str | None = None,
) -> SearchPath:
    """`first` (a program's own directories), `plugin_path_var` entries, then `extra` dirs
    (the config's), then `installed` (where `plugin install` puts plugins), then PATH;
    duplicates removed.

    Relative and empty entries are skipped: they would make the current
    directory a plugin source (Go's ErrDot lesson). Directories that do not
    exist are kept here and simply find nothing.
    """
    is_abs = isabs if callable(isabs) else os.path.isabs
    dirs: list[str] = []
    skipped: list[tuple[str, str, str]] = []
    seen: set[str] = set()
    sources: list[tuple[str, Sequence[str]]] = [("program", first)] if first else []
    value = env.get(plugin_path_var)
    if value:
        sources.append((plugin_path_var, value.split(pathsep)))
    if extra:
        sources.append(("config", extra))
    if installed:
        sources.append(("installed", [installed]))
    value = env.get("PATH")
    if value:
        sources.append(("PATH", value.split(pathsep)))
    for var, entries in sources:
        for entry in entries:
            if not entry:
                skipped.append((var, entry, "empty entry (would mean the current directory)"))
                continue
            if not is_abs(entry):
                skipped.append((var, entry, "relative entry (would depend on the current directory)"))
                continue
            norm = os.path.normpath(entry)
            if norm in seen:
                skipped.append((var, entry, "duplicate"))
                continue
            seen.add(norm)
            dirs.append(norm)
    return SearchPath(dirs, skipped)


def pathext(windows: bool, env: Mapping[str, str]) -> list[str]:
    """The executable extensions to try: PATHEXT's on Windows, none elsewhere."""
    return pathext_list(env) if windows else []


def pathext_list(env: Mapping[str, str]) -> list[str]:
    """The Windows executable extensions, from PATHEXT, lower-cased, in order."""
    exts = []
    for ext in (env.get("PATHEXT") or DEFAULT_PATHEXT).split(";"):
        ext = ext.strip().lower()
        if ext and ext not in exts:
            exts.append(ext if ext.startswith(".") else "." + ext)
    return exts


def file_names(base: str, windows: bool, pathext: Sequence[str]) -> list[str]:
    """The file names that can carry command `base` on this platform.

    POSIX: the name itself. Windows: the name with each PATHEXT extension,
    preceded by the bare name when it already ends in one of them.
    """
    if not windows:
        return [base]
    names = []
    lower = base.lower()
    for ext in pathext:
        if lower.endswith(ext):
            names.append(base)
            break
    names.extend(base + ext for ext in pathext)
    return names


def candidates(
    prefix: str,
    words: Sequence[str],
    *,
    windows: bool = False,
    pathext: Sequence[str] = (),
) -> list[tuple[int, list[str]]]:
    """For each number of words, longest first: the file names that would run it.

    `prefix` is e.g. "tool". A `-` inside a word may also be a `_` in the file
    name (`tool foo-bar` finds `tool-foo_bar`), as kubectl does.
    """
    result = []
    for n in range(len(words), 0, -1):
        base = prefix + "-" + "-".join(words[:n])
        if len(base) > _NAME_MAX:
            continue
        names = file_names(base, windows, pathext)
        alt = prefix + "-" + "-".join(w.replace("-", "_") for w in words[:n])
        if alt != base:
            names.extend(file_names(alt, windows, pathext))
        result.append((n, names))
    return result


def is_executable(path: str, windows: bool = False) -> bool:
    """A regular file (symlinks followed) this user may execute."""
    return _stat_if_executable(path, windows) is not None


def _stat_if_executable(path: str, windows: bool) -> os.stat_result | None:
    try:
        st = os.stat(path)
    except (OSError, ValueError):
        return None
    if (st.st_mode & 0o170000) != 0o100000:  # S_ISREG without importing stat
        return None
    if windows or os.access(path, os.X_OK):
        return st
    return None


class Found:
    """The plugin that runs: its path, how many command words it consumed, its stat (the cache key)."""

    __slots__ = ("path", "nwords", "stat")

    def __init__(self, path: str, nwords: int, stat: os.stat_result) -> None:
        self.path = path
        self.nwords = nwords
        self.stat = stat

    def __repr__(self) -> str:
        return f"Found({self.path!r}, {self.nwords})"


def find(
    dirs: Sequence[str],
    table: Sequence[tuple[int, Sequence[str]]],
    windows: bool = False,
) -> Found | None:
    """The first executable candidate: longest name first, then search-path order."""
    join = os.path.join
    for nwords, names in table:
        for d in dirs:
            for name in names:
                path = join(d, name)
                st = _stat_if_executable(path, windows)
                if st is not None:
                    return Found(path, nwords, st)
    return None


def near_misses(
    dirs: Sequence[str],
    table: Sequence[tuple[int, Sequence[str]]],
) -> list[tuple[str, str]]:
    """Files with a matching name that cannot run: (path, why). Only asked on failure."""
    found = []
    join = os.path.join
    for _nwords, names in table:
        for d in dirs:
            for name in names:
                path = join(d, name)
                try:
                    lst = os.lstat(path)
                except (OSError, ValueError):
                    continue
                found.append((path, _why_not_runnable(path, lst)))
    return found


def _why_not_runnable(path: str, lst: os.stat_result) -> str:
    import stat

    if stat.S_ISLNK(lst.st_mode):
        try:
            st = os.stat(path)
        except OSError:
            return f"it is a symbolic link to {os.readlink(path)!r}, which does not exist"
    else:
        st = lst
    if stat.S_ISDIR(st.st_mode):
        return "it is a directory, not a file"
    if not stat.S_ISREG(st.st_mode):
        return "it is not a regular file"
    return f"it is not executable; make it so with: chmod +x {path}"
