"""What the builtins share: their tiny argument parsing and JSON output."""
from __future__ import annotations

import sys

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Collection, Sequence

    from dispatch.context import Invocation


def parse_args(
    inv: Invocation,
    name: str,
    args: Sequence[str],
    usage: str,
    *,
    flags: Collection[str] = ("--json",),
    max_positional: int = 0,
) -> tuple[set[str], list[str]] | None:
    """(flags given, positional arguments); None after printing the usage for -h/--help.

    `--json` given as a host option counts as given here.
    """
    from dispatch.errors import usage_error

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


def parse_flags(inv: Invocation, name: str, args: Sequence[str], usage: str) -> bool | None:
    """Accept only `--json`: whether JSON was asked for; None after printing -h."""
    parsed = parse_args(inv, name, args, usage)
    return None if parsed is None else "--json" in parsed[0]


def write_json(document: object) -> None:
    from protocol.framing import encode  # _json directly: `json` imports `re`

    # encode: UTF-8, with text that cannot be (a non-UTF-8 file name) kept as escapes.
    sys.stdout.flush()
    sys.stdout.buffer.write(encode(document))
