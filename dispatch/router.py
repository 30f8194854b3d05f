"""Where a command line goes when it is not the fast path to a plugin: the version and help
options, builtins, shell completion's `__complete`, and aliases (after builtins and plugins,
as git does), else 127 with "did you mean"."""
from __future__ import annotations

from dispatch import builtins, launch, lookup
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
        if options.json:
            # Scripts asked for JSON lines: human help would break their parser.
            raise usage_error(f"--json needs a command, as in '{inv.prog} --json list'; see '{inv.prog} --help'")
        if program.no_command is not None:
            import sys

            sys.stderr.write(f"usage: {inv.prog} [options] <command> [<args>...]\nSee '{inv.prog} --help'.\n")
            return program.no_command
        return builtins.run(inv, "help", [])
    if builtins.exists(rest[0], program):
        return builtins.run(inv, rest[0], rest[1:])
    if rest[0] == "__complete":
        from dispatch import complete

        return complete.run(inv, rest[1:])
    if search is None:
        search = lookup.Search(inv, rest, trace=True)
    if search.found is not None:
        return launch.run_plugin(inv, search.found, search.words, rest)
    config = inv.config
    if config is not None and rest[0] in config.aliases:
        from dispatch.config import expand_alias

        expanded = expand_alias(config, rest, builtins.names(program))
        if expanded is not None:
            inv.trace(f"alias {rest[0]!r} is {' '.join(expanded[: len(expanded) - len(rest) + 1])!r}")
            return route(inv, expanded)
    raise lookup.not_found(inv, rest[0], search)
