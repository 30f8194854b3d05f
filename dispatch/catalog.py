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

    from dispatch.cli import Dispatcher


class Problem:
    __slots__ = ("code", "message")

    def __init__(self, code: str, message: str) -> None:
        self.code = code  # shadowed | not_executable | broken_link | builtin_name
        self.message = message


class PluginFile:
    """One `<prog>-*` file on the search path (plain slots, not a dataclass: `dataclasses`
    imports `inspect` and `re`, which would cost `tool list` more than the scan itself)."""

    __slots__ = (
        "name", "path", "dir", "executable", "runs", "problems", "identity",
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
    ) -> None:
        self.name = name  # the command as typed: file name without prefix (and extension), `_` as `-`
        self.path = path
        self.dir = dir
        self.executable = executable
        self.runs = runs  # this is the file `<prog> <name>` runs
        self.problems = problems
        self.identity = identity  # the cache key of the file, when it could be read
        # From the metadata cache (never from running the plugin):
        self.kind: str | None = None  # "protocol" | "plain" | None (not seen running yet)
        self.protocol: int | None = None
        self.version: str | None = None
        self.summary: str | None = None
        self.description: dict[str, object] | None = None
        self.handshake_problem: str | None = None

    @property
    def kind_label(self) -> str:
        if self.kind == "protocol":
            return f"protocol v{self.protocol}"
        return self.kind or "not run yet"


def with_metadata(plugins: list[PluginFile], metadata: dict[str, dict[str, object]]) -> list[PluginFile]:
    """The plugins, with what the metadata cache knows of each file (filled in place)."""
    for p in plugins:
        entry = metadata.get(p.identity or "")
        if not entry:
            continue
        kind = str(entry.get("kind") or "")
        info = entry.get("plugin") if isinstance(entry.get("plugin"), dict) else {}
        description = entry.get("description") if isinstance(entry.get("description"), dict) else None
        summary = (description or {}).get("summary") or info.get("summary")  # type: ignore[union-attr]
        p.kind = "protocol" if kind.startswith("protocol") else (kind or None)
        version = kind.split(":")[1] if kind.startswith("protocol:") else ""
        p.protocol = int(version) if version.isdigit() else None
        p.version = str(info["version"]) if info.get("version") else None  # type: ignore[union-attr, index]
        p.summary = str(summary) if summary else None
        p.description = description  # type: ignore[assignment]
        p.handshake_problem = str(entry["problem"]) if entry.get("problem") else None
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


def scan(dispatcher: Dispatcher, dirs: Sequence[str], env: Mapping[str, str]) -> list[PluginFile]:
    """All `<prog>-*` files (not directories) in `dirs`, in search order, each dir sorted by name."""
    from dispatch.cache import identity
    from dispatch.cli import BUILTINS

    windows = dispatcher.windows
    pathext = dispatcher.pathext(env)
    prefix = dispatcher.prog + "-"
    raw: list[tuple[str, str, str, bool, Problem | None, str | None]] = []
    for d in dirs:
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
                raw.append((name, path, d, False, problem, None))
                continue
            mode = st.st_mode & 0o170000
            if mode != 0o100000:
                continue  # directories, sockets, fifos: not plugins
            executable = windows or os.access(path, os.X_OK)
            if not executable:
                problem = Problem("not_executable", f"not executable; run: chmod +x {path}")
            ident = identity(st)
            raw.append((name, path, d, executable, problem, ident))

    winners: dict[str, str] = {}
    plugins = []
    for name, path, d, executable, problem, ident in raw:
        problems = [problem] if problem else []
        runs = False
        if executable:
            first = winners.setdefault(name, path)
            if first != path:
                problems.append(Problem("shadowed", f"shadowed by {first}, which is found first"))
            else:
                runs = True
        if name in BUILTINS:
            problems.append(
                Problem("builtin_name", f"never run: {name!r} is a builtin command of {dispatcher.prog}")
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
            )
        )
    return plugins
