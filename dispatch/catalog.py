"""Every plugin file on the search path, in the order it would be found, with its problems.

Used by `list`, `help` and "did you mean"; never on the hot path. It reads
directories and file metadata only: no plugin is executed to list it.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field

from dispatch import resolve

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    from dispatch.cli import Dispatcher


@dataclass(frozen=True)
class Problem:
    code: str  # shadowed | not_executable | broken_link | builtin_name
    message: str


@dataclass(frozen=True)
class PluginFile:
    name: str  # the command as typed: file name without prefix (and extension), `_` as `-`
    path: str
    dir: str
    executable: bool
    runs: bool  # this is the file `<prog> <name>` runs
    problems: tuple[Problem, ...] = field(default=())
    identity: str | None = None  # the cache key of the file, when it could be read
    # From the metadata cache (never from running the plugin):
    kind: str | None = None  # "protocol" | "plain" | None (not seen running yet)
    protocol: int | None = None
    version: str | None = None
    summary: str | None = None
    description: dict[str, object] | None = None
    handshake_problem: str | None = None

    @property
    def kind_label(self) -> str:
        if self.kind == "protocol":
            return f"protocol v{self.protocol}"
        return self.kind or "not run yet"


def with_metadata(plugins: list[PluginFile], metadata: dict[str, dict[str, object]]) -> list[PluginFile]:
    """The plugins, with what the metadata cache knows of each file."""
    import dataclasses

    out = []
    for p in plugins:
        entry = metadata.get(p.identity or "")
        if not entry:
            out.append(p)
            continue
        kind = str(entry.get("kind") or "")
        info = entry.get("plugin") if isinstance(entry.get("plugin"), dict) else {}
        description = entry.get("description") if isinstance(entry.get("description"), dict) else None
        summary = (description or {}).get("summary") or info.get("summary")  # type: ignore[union-attr]
        out.append(
            dataclasses.replace(
                p,
                kind="protocol" if kind.startswith("protocol") else (kind or None),
                protocol=int(kind.split(":")[1]) if kind.startswith("protocol:") and kind.split(":")[1].isdigit() else None,
                version=str(info["version"]) if info.get("version") else None,  # type: ignore[union-attr, index]
                summary=str(summary) if summary else None,
                description=description,  # type: ignore[arg-type]
                handshake_problem=str(entry["problem"]) if entry.get("problem") else None,
            )
        )
    return out


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
            try:
                if entry.is_dir():
                    continue
                is_file = entry.is_file()
            except OSError:
                continue
            problem = None
            if not is_file:
                if entry.is_symlink() and not os.path.exists(entry.path):
                    target = os.readlink(entry.path)
                    problem = Problem("broken_link", f"symbolic link to {target!r}, which does not exist")
                else:
                    continue  # sockets, fifos: not plugins
            executable = is_file and resolve.is_executable(entry.path, windows)
            if is_file and not executable:
                problem = Problem("not_executable", f"not executable; run: chmod +x {entry.path}")
            ident = None
            if is_file:
                from dispatch.cache import identity

                try:
                    ident = identity(entry.stat())
                except OSError:
                    pass
            raw.append((name, entry.path, d, executable, problem, ident))

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
