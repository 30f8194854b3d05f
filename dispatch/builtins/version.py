"""`tool version` (also `--version`, `-V`)."""
from __future__ import annotations

import sys

from dispatch.builtins.common import parse_flags
from dispatch.screen.text import write_json

TYPE_CHECKING = False
if TYPE_CHECKING:
    from dispatch.context import Invocation


def run(inv: Invocation, args: list[str]) -> int:
    as_json = parse_flags(inv, "version", args)
    if as_json is None:
        return 0
    python = sys.version.split()[0]
    if as_json:
        write_json({"name": inv.prog, "version": inv.program.version, "python": python})
    else:
        text = inv.program.version_text
        if text is None:
            text = f"{inv.prog} {inv.program.version} (Python {python})"
        elif callable(text):
            text = text(inv)
        sys.stdout.write(text.rstrip("\n") + "\n")
    sys.stdout.flush()
    return 0
