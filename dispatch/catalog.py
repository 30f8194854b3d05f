"""Every plugin file on the search path, in the order it would be found, with its problems.

Used by `list`, `help` and "did you mean"; never on the hot path. It reads
directories and file metadata only: no plugin is executed to list it.
"""
from __future__ import annotations

import os

from dispatch import resolve

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    from dispatch.context import Program


class Problem:
    __slots__ = ("code", "message")

    def __init__(self, code: str, message: str) -> None:
        self.code = code
        self.message = message


class PluginFile:
    """One `<prog>-*` file on the search path (plain slots, not a dataclass: `dataclasses`
    imports `inspect` and `re`, which would cost `tool list` more than the scan itself)."""

    __slots__ = (
        "name", "path", "dir", "executable", "runs", "problems", "identity", "stat",
        "kind", "protocol", "version", "summary", "description", "handshake_problem",
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
        self.problems = problems  # codes: shadowed not_executable broken_link not_a_file builtin_name takes_over
        self.identity = identity  # the cache key of the file, when it could be read
        self.stat = stat
        # From the file's declaration and the metadata cache (never from running the plugin):
        self.kind: str | None = None  # "protocol" (declares it) | "plain" | None (cannot run)
        self.protocol: int | None = None  # the version it greeted with, once seen speaking it
        self.version: str | None = None
        self.summary: str | None = None
        self.description: dict[str, object] | None = None
        self.handshake_problem: str | None = None

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
    from dispatch import declaration, metadata

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
        p.handshake_problem = str(entry["problem"]) if entry.get("problem") else None
    index.save()
    return plugins


def _command_name(file_name: str, prefix: str, windows: bool, pathext: Sequence[str]) -> str | None:
    if not file_name.startswith(prefix):
        return None
    rest = file_name[len(prefix) :]
    if windows:
        root, ext = os.path.splitext(rest)
        if ext.lower() not in pathext:
            return None
        rest = root
    if resolve.name_problem(rest) is not None:
        return None
    return rest


def scan(program: Program, dirs: Sequence[str], env: Mapping[str, str]) -> list[PluginFile]:
    """All `<prog>-*` files (not directories) in `dirs`, in search order, each dir sorted by name."""
    from dispatch.builtins import BUILTINS
    from dispatch.cache import identity
    windows = program.windows
    pathext = resolve.pathext(windows, env)
    prefix = program.prog + "-"
    raw: list[tuple[str, str, str, bool, Problem | None, str | None, os.stat_result | None]] = []
    seen_dirs: set[tuple[int, int]] = set()
    for d in dirs:
        try:
            dst = os.stat(d)
        except OSError:
            continue
        if (dst.st_dev, dst.st_ino) in seen_dirs:
            continue  # one directory reached twice (/bin -> /usr/bin): listed once, where it is first
        seen_dirs.add((dst.st_dev, dst.st_ino))
        try:
            with os.scandir(d) as it:
                entries = sorted((e for e in it if e.name.startswith(prefix)), key=lambda e: e.name)
        except OSError:
            continue
        for entry in entries:
            name = _command_name(entry.name, prefix, windows, pathext)
            if name is None:
                continue
            path = entry.path
            problem = None
            ident = None
            try:
                st = entry.stat()  # follows links; one stat(2), kept by the DirEntry
            except OSError:
                if not entry.is_symlink():
                    continue
                problem = Problem("broken_link", f"symbolic link to {os.readlink(path)!r}, which does not exist")
                raw.append((name, path, d, False, problem, None, None))
                continue
            mode = st.st_mode & 0o170000
            if mode == 0o040000:
                continue  # a directory of that name: not a plugin, and common enough (tool-data/)
            if mode != 0o100000:
                problem = Problem("not_a_file", "not a regular file (a FIFO, socket or device): it cannot run; remove it")
                raw.append((name, path, d, False, problem, None, None))
                continue
            executable = windows or os.access(path, os.X_OK)
            if not executable:
                problem = Problem("not_executable", f"not executable; run: chmod +x {path}")
            ident = identity(st)
            raw.append((name, path, d, executable, problem, ident, st))

    winners: dict[str, str] = {}
    order = {d: i for i, d in enumerate(dirs)}
    first_in: dict[str, int] = {}  # command name -> index of the first directory with a runnable file
    for name, path, d, executable, *_ in raw:
        if executable:
            first_in.setdefault(name.replace("_", "-"), order.get(d, 0))
    plugins = []
    for name, path, d, executable, problem, ident, file_stat in raw:
        problems = [problem] if problem else []
        runs = False
        if executable:
            first = winners.setdefault(name, path)
            if first != path:
                problems.append(Problem("shadowed", f"shadowed by {first}, which is found first"))
            else:
                runs = True
        if runs and "-" in name.replace("_", "-"):
            # `tool a b` runs the longest name that exists, wherever it is on the path:
            # a shorter command found earlier loses its `b` argument to this file.
            parts = name.replace("_", "-").split("-")
            for k in range(len(parts) - 1, 0, -1):
                shorter = "-".join(parts[:k])
                if first_in.get(shorter, len(dirs)) < order.get(d, 0):
                    problems.append(Problem(
                        "takes_over",
                        f"'{program.prog} {' '.join(parts)}' runs this file, not '{program.prog} {shorter}' "
                        f"(found earlier on the search path) with the argument(s) {' '.join(parts[k:])!r}: "
                        "the longest name wins",
                    ))
                    break
        if name in BUILTINS:
            problems.append(
                Problem("builtin_name", f"never run: {name!r} is a builtin command of {program.prog}")
            )
            runs = False
        plugins.append(
            PluginFile(
                name=name.replace("_", "-"),
                path=path,
                dir=d,
                executable=executable,
                runs=runs,
                problems=tuple(problems),
                identity=ident,
                stat=file_stat,
            )
        )
    return plugins
