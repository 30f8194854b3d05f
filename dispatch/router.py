"""Where a command line goes when it is not the fast path to a plugin: the version and help
options, builtins, shell completion's `__complete`, and aliases (after builtins and plugins,
as git does), else 127 with "did you mean"."""
from __future__ import annotations

import sys

from dispatch import builtins, commands, launch, lookup
from dispatch.errors import usage_error

TYPE_CHECKING = False
if TYPE_CHECKING:
    from dispatch.context import Invocation


def route(inv: Invocation, rest: list[str], search: lookup.Search | None = None) -> int:
    """Run what `rest` names (`search`: the plugin search already done for it, if any)."""
    options = inv.options
    program = inv.program
    for option in program.options.values():
        if option.run is not None and option.dest in inv.settings:
            return option.run(inv)  # an option that is a command of its own (`jupyter --paths`)
    if options.version:
        return builtins.run(inv, "version", [])
    if options.help:
        return builtins.run(inv, "help", rest)
    if not rest:
        return _no_command(inv)
    if commands.is_builtin(rest[0], program) or rest[0] == commands.COMPLETE:
        return builtins.run(inv, rest[0], rest[1:])
    if search is None:
        search = lookup.Search(inv, rest, trace=True)
    if search.found is not None:
        return launch.run_plugin(inv, search.found, search.words, rest)
    expanded = _alias(inv, rest)
    if expanded is not None:
        return route(inv, expanded)
    raise lookup.not_found(inv, rest[0], search)


def _no_command(inv: Invocation) -> int:
    if inv.options.json:
        # Scripts asked for JSON lines: human help would break their parser.
        raise usage_error(f"--json needs a command, as in '{inv.prog} --json list'; see '{inv.prog} --help'")
    if inv.program.no_command is not None:
        sys.stderr.write(f"usage: {inv.prog} [options] <command> [<args>...]\nSee '{inv.prog} --help'.\n")
        return inv.program.no_command
    return builtins.run(inv, "help", [])


def _alias(inv: Invocation, rest: list[str]) -> list[str] | None:
    """The command line with its alias expanded, or None when the first word is none."""
    table = commands.aliases(inv.config, inv.program)
    try:
        expanded = commands.expand(table, rest)
    except commands.AliasLoop as e:
        assert inv.config is not None
        raise usage_error(f"bad config {inv.config.path}: alias loop: {e}") from None
    if expanded is not None:
        inv.trace(f"alias {rest[0]!r} is {' '.join(expanded[: len(expanded) - len(rest) + 1])!r}")
    return expanded
