"""What the builtins share: their tiny argument parsing and JSON output."""
from __future__ import annotations

import sys

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Sequence

    from dispatch.cli import Dispatcher


def parse_flags(dispatcher: Dispatcher, name: str, args: Sequence[str], usage: str) -> bool | None:
    """Accept only `--json` (also a host option): whether JSON was asked for; None after printing -h."""
    from dispatch.cli import _usage_error

    as_json = dispatcher.options.json
    for arg in args:
        if arg == "--json":
            as_json = True
        elif arg in ("-h", "--help"):
            sys.stdout.write(f"usage: {dispatcher.prog} {usage}\n")
            return None
        else:
            raise _usage_error(f"{name}: unexpected argument {arg!r}; usage: {dispatcher.prog} {usage}")
    return as_json


def write_json(document: object) -> None:
    import json

    sys.stdout.write(json.dumps(document, ensure_ascii=False, separators=(",", ":")) + "\n")
