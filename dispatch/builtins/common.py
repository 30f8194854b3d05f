"""What the builtins share: their tiny argument parsing."""
from __future__ import annotations

import sys

from dispatch import commands
from dispatch.errors import usage_error

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Collection, Sequence

    from dispatch.context import Invocation


def parse_args(
    inv: Invocation,
    name: str,
    args: Sequence[str],
    *,
    flags: Collection[str] = ("--json",),
    max_positional: int = 0,
) -> tuple[set[str], list[str]] | None:
    """(flags given, positional arguments) of the builtin `name`; None after printing its
    usage for -h/--help. `--json` given as a host option counts as given here."""
    usage = commands.usage(name, inv.program)
    given: set[str] = {"--json"} if inv.options.json else set()
    positional: list[str] = []
    for arg in args:
        if arg in ("-h", "--help"):
            sys.stdout.write(f"usage: {inv.prog} {usage}\n")
            return None
        if arg in flags:
            given.add(arg)
        elif arg.startswith("-") or len(positional) >= max_positional:
            raise usage_error(f"{name}: unexpected argument {arg!r}; usage: {inv.prog} {usage}")
        else:
            positional.append(arg)
    return given, positional


def parse_flags(inv: Invocation, name: str, args: Sequence[str]) -> bool | None:
    """Accept only `--json`: whether JSON was asked for; None after printing -h."""
    parsed = parse_args(inv, name, args)
    return None if parsed is None else "--json" in parsed[0]
