"""Which plugin file runs for the command words of an invocation, and why none does (126, 127).

On the start-up path of every command: it imports `resolve` only; the
explanations of a failure (suggestions, the catalogue) are imported when
there is one.
"""
from __future__ import annotations

import os

from dispatch import dirs, resolve

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Sequence

    from dispatch.context import Invocation
    from dispatch.errors import ToolError

Table = list[tuple[int, list[str]]]


def search_path(inv: Invocation, *, trace: bool = False) -> resolve.SearchPath:
    """The plugin directories: the program's own, PROG_PLUGIN_PATH, the config's, the installed
    plugins', then PATH (traced with -v)."""
    extra = inv.config.plugin_dirs if inv.config is not None else ()
    installed, untrusted = dirs.trusted_installed_bin(inv.environ, inv.prog)
    sp = resolve.search_path(inv.environ, inv.program.var("PLUGIN_PATH"), extra=extra, first=inv.dirs, installed=installed)
    if untrusted is not None:
        path, why = untrusted
        bin_dir = dirs.installed_bin(inv.environ, inv.prog) or path
        sp.skipped.append(("installed", bin_dir, f"the installed plugins' directory is not used: {path}: {why}"))
    if trace and inv.options.verbosity > 0:
        inv.trace("search path: " + (os.pathsep.join(sp.dirs) or "(empty)"))
        if installed is not None:
            inv.trace(f"installed plugins ({inv.prog} plugin install) are in {installed}, after "
                      f"{inv.program.var('PLUGIN_PATH')} and the config's directories, before PATH")
        for var, entry, reason in sp.skipped:
            inv.trace(f"skipped {var} entry {entry!r}: {reason}")
        for d in sp.dirs:
            if not os.path.isdir(d):
                inv.trace(f"skipped {d}: not a directory")
    return sp


class Search:
    """One search for the command words at the front of `rest`, and what it found."""

    __slots__ = ("words", "valid", "path", "table", "found")

    def __init__(self, inv: Invocation, rest: Sequence[str], *, trace: bool) -> None:
        program = inv.program
        self.words = list(rest[: resolve.command_words(rest)])
        self.valid = resolve.lookup_words(self.words, program.prog)
        self.path = search_path(inv, trace=trace)
        self.table: Table = resolve.candidates(
            program.prog, self.valid, windows=program.windows, pathext=resolve.pathext(program.windows, inv.environ)
        )
        if trace and self.table:
            inv.trace("looking for " + ", ".join(n for _, names in self.table for n in names))
        self.found = resolve.find(self.path.dirs, self.table, program.windows)


def find(inv: Invocation, rest: Sequence[str]) -> resolve.Found | None:
    """The plugin that would run for `rest`, quietly; None when none would."""
    return Search(inv, rest, trace=False).found


def lookup(inv: Invocation, rest: Sequence[str]) -> tuple[resolve.Found, list[str]]:
    """The plugin for the command words at the front of `rest`, and the words; raises
    ToolError 126 (a file of that name cannot run) or 127 (no such command)."""
    search = Search(inv, rest, trace=True)
    if search.found is None:
        raise not_found(inv, rest[0] if rest else "", search)
    return search.found, search.words


def not_found(inv: Invocation, first: str, search: Search) -> ToolError:
    """126 naming a file of the right name that cannot run, else 127 with "did you mean"."""
    from dispatch.errors import ToolError, usage_error
    from dispatch.exitcodes import ExitCode

    prog = inv.program.prog
    words = search.words
    if not words:
        return usage_error(f"expected a command, got {first!r}; see '{prog} --help'")
    misses = resolve.near_misses(search.path.dirs, search.table)
    if misses:
        path, why = misses[0]
        return ToolError(ExitCode.CANNOT_EXECUTE, f"found {path}, but cannot run it: {why}")
    problem = resolve.name_problem(words[0])
    if problem is not None:
        return ToolError(ExitCode.NOT_FOUND, f"{words[0]!r} is not {article(prog)} {prog} command: {problem}")
    skipped = _in_skipped_entry(search.path, search.table)
    if skipped is not None:
        var, entry, reason, path = skipped
        why = (
            f"{reason}; doctor says how to fix it" if var == "installed" else
            f"the {var} entry {entry!r} is relative and {prog} skips relative entries (they would make the "
            f"current directory a plugin source); put the directory on {var} as an absolute path, or run {path} directly"
        )
        return ToolError(ExitCode.NOT_FOUND, f"{words[0]!r} is not {article(prog)} {prog} command here: {path} exists, but {why}")
    from dispatch import commands
    from dispatch.catalog import scan, suggest

    names = [*commands.builtins(inv.program), *commands.aliases(inv.config, inv.program)]
    names += [p.name for p in scan.scan(inv.program, search.path.dirs, inv.environ) if p.runs]
    close = suggest.closest("-".join(search.valid), names)
    message = f"{words[0]!r} is not {article(prog)} {prog} command."
    if len(close) == 1:
        message += f" Did you mean {close[0]!r}?"
    elif close:
        message += " Did you mean one of " + ", ".join(repr(c) for c in close) + "?"
    else:
        message += f" See '{prog} list' for the plugins on the search path."
    return ToolError(ExitCode.NOT_FOUND, message)


def _in_skipped_entry(sp: resolve.SearchPath, table: Table) -> tuple[str, str, str, str] | None:
    """(variable, entry, reason, path) when a skipped entry (relative, empty, or an installed
    plugins' directory that is not trusted) holds a file of a wanted name."""
    for var, entry, reason in sp.skipped:
        if reason == "duplicate":
            continue
        for _nwords, names in table:
            for name in names:
                path = os.path.join(entry or ".", name)
                if os.path.lexists(path):
                    return var, entry, reason, path if path.startswith((".", "/")) else "./" + path
    return None


def article(word: str) -> str:
    """'a' or 'an' before `word` (a program's name, as most are said: "an acme command")."""
    return "an" if word[:1].lower() in ("a", "e", "i", "o", "u") else "a"
