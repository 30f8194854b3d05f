"""A program embedding the dispatcher, written against the public names only: type-checked
with `mypy --strict` against the installed package (tests/library_test.py), so that the
public surface stays typed."""
from __future__ import annotations

import sys

import dispatch
from dispatch import Builtin, Dispatcher, ExitCode, Invocation, Option, ToolError, __version__


def status(inv: Invocation, args: list[str]) -> int:
    if args:
        raise ToolError(ExitCode.USAGE, f"status takes no arguments, got {args[0]!r}")
    verbose: bool = inv.options.verbosity > 0
    sys.stdout.write(f"{inv.prog} {__version__}: {'verbose' if verbose else 'ok'}; dirs {', '.join(inv.dirs)}\n")
    return ExitCode.OK


def paths(inv: Invocation) -> int:
    sys.stdout.write("\n".join(inv.dirs) + "\n")
    return 0


def misspelt() -> object:
    # Checkers must see a typo in a public name (strict mode flags this ignore as unused if not).
    return dispatch.Dispatchr  # type: ignore[attr-defined]


dispatcher = Dispatcher(
    "mycli",
    version="1.0",
    search_dirs=lambda env: [env.get("HOME", "/") + "/.mycli/plugins"],
    builtins=[Builtin("status", "show the status", status, usage="status")],
    options=[
        Option("-c", metavar="NAME=VALUE", repeat=True, help="set a value", env="MYCLI_C"),
        Option("--paths", help="show the plugin directories", run=paths),
    ],
)

if __name__ == "__main__":
    code: int = dispatcher.main()
    dispatcher.run()
