"""Every plugin file on the search path, in the order it would be found, with its problems.

Used by `list`, `help` and "did you mean"; never on the hot path. It reads
directories, file metadata and, for a summary comment, the first 4 KiB of a
plugin file: no plugin is executed to list it.
"""
from __future__ import annotations

import os

from dispatch import resolve
from dispatch.catalog import metadata
from dispatch.catalog.cache import identity
from dispatch.commands import is_builtin

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterator, Mapping, Sequence
    from typing import Literal

    from dispatch.context import Program

    Kind = Literal["protocol", "plain"]  # it declares the protocol, or not
    SummaryFrom = Literal["plugin", "header"]  # it said so (speaking the protocol), or a comment in its file
    ProblemCode = Literal["shadowed", "not_executable", "broken_link", "not_a_file", "builtin_name", "takes_over"]


class Problem:
    """Why a plugin file does not run, or runs where the user may not expect it (a code for
    doctor and `list --json`, and the sentence)."""

    __slots__ = ("code", "message")

    def __init__(self, code: ProblemCode, message: str) -> None:
        self.code = code
        self.message = message


class PluginFile:
    """One `<prog>-*` file on the search path (plain slots, not a dataclass: `dataclasses`
    imports `inspect` and `re`, which would cost `tool list` more than the scan itself)."""

    __slots__ = (
        "name", "path", "dir", "executable", "runs", "problems", "identity", "stat",
        "kind", "protocol", "version", "summary", "summary_from", "description", "last_problem",
    )

    def __init__(
        self,
        name: str,
        path: str,
        dir: str,
        executable: bool,
        runs: bool,
        problems: tuple[Problem, ...] = (),
        identity: str | None = None,
        stat: os.stat_result | None = None,
    ) -> None:
        self.name = name  # the command as typed: file name without prefix (and extension), `_` as `-`
        self.path = path
        self.dir = dir
        self.executable = executable
        self.runs = runs  # this is the file `<prog> <name>` runs
        self.problems = problems
        self.identity = identity  # the cache key of the file, when it could be read
        self.stat = stat
        # From the file's declaration and the metadata cache (never from running the plugin):
        self.kind: Kind | None = None  # None: it cannot run
        self.protocol: int | None = None  # the version it greeted with, once seen speaking it
        self.version: str | None = None
        self.summary: str | None = None
        self.summary_from: SummaryFrom | None = None
        self.description: dict[str, object] | None = None
        self.last_problem: metadata.RunProblem | None = None  # why its last run did not go by the protocol

    @property
    def kind_label(self) -> str:
        if self.kind == "protocol":
            return f"protocol v{self.protocol}" if self.protocol is not None else "protocol"
        return self.kind or "-"

    @property
    def speaks_protocol(self) -> bool:
        """It declares the protocol and the host has seen it greet: safe to ask (describe, complete)."""
        return self.kind == "protocol" and self.protocol is not None


def with_metadata(plugins: list[PluginFile], program: Program, env: Mapping[str, str]) -> list[PluginFile]:
    """The plugins, with their kind (from the file's declaration) and what the metadata cache
    knows of each file (filled in place). A file seen for the first time is scanned for its
    declaration, and the answer kept for next time."""
    from dispatch import declaration

    prog = program.prog
    index = metadata.Index(env, prog)
    needle = program.var("PROTOCOL").encode()
    for p in plugins:
        if p.stat is None or not p.executable or p.identity is None:
            continue
        entry = index.entries.get(p.identity) or {}
        declares = index.declares(p.identity)
        if declares is None:
            declares = declaration.declares(p.path, p.stat, needle, env, prog)
            index.learn(p.identity, declares)
        p.kind = "protocol" if declares else "plain"
        if not declares:
            _from_header(p, prog, index)
            continue
        plugin_info = entry.get("plugin")
        info: dict[str, object] = plugin_info if isinstance(plugin_info, dict) else {}
        found = entry.get("description")
        description: dict[str, object] | None = found if isinstance(found, dict) else None
        summary = (description or {}).get("summary") or info.get("summary")
        p.protocol = entry["protocol"] if type(entry.get("protocol")) is int else None
        p.version = str(info["version"]) if info.get("version") else None
        p.summary = str(summary) if summary else None
        p.description = description
        p.last_problem = metadata.RunProblem.from_json(entry.get("problem"))
        if p.summary:
            p.summary_from = "plugin"
        else:
            _from_header(p, prog, index)  # not run yet, or it says nothing of itself
    index.save()
    return plugins


HEADER_BYTES = 4096  # where a summary comment is looked for: the start of the file
HEADER_LINES = 20


def _from_header(p: PluginFile, prog: str, index: metadata.Index) -> None:
    """The summary comment of the file, read once per version of it (then kept in the index)."""
    assert p.identity is not None
    summary = index.headers.get(p.identity)
    if summary is None:
        summary = header_summary(p.path, prog)
        index.learn_header(p.identity, summary)
    if summary:
        p.summary, p.summary_from = summary, "header"


def header_summary(path: str, prog: str) -> str | None:
    """The summary a plugin file gives in a comment near its top, without running it:
    a line `# tool-summary: Deploy the app` (for `prog` tool), within the first 20 lines and
    4 KiB, after any comment marker (`#`, `//`, `--`, `;`, `rem`...: only punctuation,
    spaces and `rem` may come before the keyword). At most 200 characters are kept."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError:
        return None
    try:
        head = os.read(fd, HEADER_BYTES)
    except OSError:
        return None
    finally:
        os.close(fd)
    key = f"{prog}-summary:".encode()
    if key not in head:
        return None
    for raw in head.split(b"\n")[:HEADER_LINES]:
        at = raw.find(key)
        if at < 0:
            continue
        before = raw[:at].strip().lower()
        if before.startswith(b"rem"):
            before = before[3:]
        if any(chr(c).isalnum() for c in before):
            continue  # code that mentions the keyword, not a comment
        text = raw[at + len(key) :].decode("utf-8", "replace").strip()
        for end in ("*/", "-->", '"""', "'''"):  # the end of a comment or docstring on the same line
            if text.endswith(end):
                text = text[: -len(end)].rstrip()
        return " ".join(text.split())[:200] or None
    return None


def scan(
    program: Program, dirs: Sequence[str], env: Mapping[str, str], invalid: list[tuple[str, str]] | None = None,
) -> list[PluginFile]:
    """All `<prog>-*` files (not directories) in `dirs`, in search order, each dir sorted by
    name, with the problems of each: which one runs for its name, and why the others do not.
    Into `invalid` (when given), in the same pass: (path, why) of each `<prog>-*` file whose
    name can never be typed as a command (`tool-a b`, `tool-.x`, `tool-データ`), never run,
    which `list` and `doctor` report. Unlike git, which runs `git-データ`, a command word is
    [A-Za-z0-9][A-Za-z0-9._-]*, so that no word typed can be a path or an option, and every
    name looks the same in every terminal and shell."""
    found = list(_files(program, dirs, env, invalid))
    order = {d: i for i, d in enumerate(dirs)}
    first_in: dict[str, int] = {}  # command name -> index of the first directory with a runnable file
    for p in found:
        if p.executable:
            first_in.setdefault(p.name, order.get(p.dir, 0))
    winners: dict[str, str] = {}
    for p in found:
        problems = list(p.problems)
        if p.executable:
            first = winners.setdefault(p.name, p.path)
            if first != p.path:
                problems.append(Problem("shadowed", f"shadowed by {first}, which is found first"))
            else:
                p.runs = True
        if p.runs and "-" in p.name:
            problems += _takes_over(program.prog, p.name, order.get(p.dir, 0), first_in, len(dirs))
        if is_builtin(p.name, program):
            problems.append(Problem("builtin_name", f"never run: {p.name!r} is a builtin command of {program.prog}"))
            p.runs = False
        p.problems = tuple(problems)
    return found


def _takes_over(prog: str, name: str, at: int, first_in: Mapping[str, int], ndirs: int) -> list[Problem]:
    """`tool a b` runs the longest name that exists, wherever it is on the path: a shorter
    command found earlier loses its `b` argument to this file."""
    parts = name.split("-")
    for k in range(len(parts) - 1, 0, -1):
        shorter = "-".join(parts[:k])
        if first_in.get(shorter, ndirs) < at:
            return [Problem(
                "takes_over",
                f"'{prog} {' '.join(parts)}' runs this file, not '{prog} {shorter}' (found earlier on the search "
                f"path) with the argument(s) {' '.join(parts[k:])!r}: the longest name wins",
            )]
    return []


def _files(program: Program, dirs: Sequence[str], env: Mapping[str, str], invalid: list[tuple[str, str]] | None) -> Iterator[PluginFile]:
    """Each `<prog>-*` file of `dirs` with its own problem (not executable, a broken link...);
    into `invalid`, (path, why) of each whose name can never be typed as a command."""
    windows = program.windows
    pathext = resolve.pathext(windows, env)
    prefix = program.prog + "-"
    cut = len(prefix)
    for d, entry in _entries(dirs, prefix):
        rest = entry.name[cut:]
        if windows:
            rest, ext = os.path.splitext(rest)
            if ext.lower() not in pathext:
                continue  # not a program here at all
        problem = resolve.name_problem(rest)
        if problem is None:
            found = _file(entry, rest.replace("_", "-"), d, windows)
            if found is not None:
                yield found
        elif invalid is not None:
            invalid.append((entry.path, f"{rest!r} cannot be typed as a command: {problem}"))


def _entries(dirs: Sequence[str], prefix: str) -> Iterator[tuple[str, os.DirEntry[str]]]:
    """(directory, entry) of each name starting with `prefix` in `dirs`, each directory sorted; a
    directory reached twice (/bin -> /usr/bin) is listed once, where it is first."""
    seen_dirs: set[tuple[int, int]] = set()
    for d in dirs:
        try:
            dst = os.stat(d)
            if (dst.st_dev, dst.st_ino) in seen_dirs:
                continue
            seen_dirs.add((dst.st_dev, dst.st_ino))
            with os.scandir(d) as it:
                entries = sorted((e for e in it if e.name.startswith(prefix)), key=lambda e: e.name)
        except OSError:
            continue
        for entry in entries:
            yield d, entry


class _Path:
    """One path, as much of a directory entry as `_file` asks of it."""

    __slots__ = ("path",)

    def __init__(self, path: str) -> None:
        self.path = path

    def stat(self) -> os.stat_result:
        return os.stat(self.path)

    def is_symlink(self) -> bool:
        return os.path.islink(self.path)


def file_at(path: str, name: str, d: str, windows: bool) -> PluginFile | None:
    """The plugin file at `path` (a command of that `name`, in the directory `d`), as the scan
    finds it; None for no file (a directory, gone)."""
    return _file(_Path(path), name, d, windows)


def _file(entry: os.DirEntry[str] | _Path, name: str, d: str, windows: bool) -> PluginFile | None:
    path = entry.path
    try:
        st = entry.stat()  # follows links; one stat(2), kept by the DirEntry
    except OSError:
        if not entry.is_symlink():
            return None
        problem = Problem("broken_link", f"symbolic link to {os.readlink(path)!r}, which does not exist")
        return PluginFile(name, path, d, False, False, (problem,))
    mode = st.st_mode & 0o170000
    if mode == 0o040000:
        return None  # a directory of that name: not a plugin, and common enough (tool-data/)
    if mode != 0o100000:
        problem = Problem("not_a_file", "not a regular file (a FIFO, socket or device): it cannot run; remove it")
        return PluginFile(name, path, d, False, False, (problem,))
    executable = windows or os.access(path, os.X_OK)
    problems = () if executable else (Problem("not_executable", f"not executable; run: chmod +x {path}"),)
    return PluginFile(name, path, d, executable, False, problems, identity(st), st)
