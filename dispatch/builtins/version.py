"""`tool version` (also `--version`, `-V`)."""
from __future__ import annotations

import sys

TYPE_CHECKING = False
if TYPE_CHECKING:
    from dispatch.context import Invocation

USAGE = "version [--json]"


def run(inv: Invocation, args: list[str]) -> int:
    from dispatch.builtins import common

    as_json = common.parse_flags(inv, "version", args, USAGE)
    if as_json is None:
        return 0
    python = sys.version.split()[0]
    if as_json:
        common.write_json({"name": inv.prog, "version": inv.program.version, "python": python})
    else:
        text = inv.program.version_text
        if text is None:
            text = f"{inv.prog} {inv.program.version} (Python {python})"
        elif callable(text):
            text = text(inv)
        sys.stdout.write(text.rstrip("\n") + "\n")
    sys.stdout.flush()
    return 0
