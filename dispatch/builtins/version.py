"""`tool version` (also `--version`, `-V`)."""
from __future__ import annotations

import sys

TYPE_CHECKING = False
if TYPE_CHECKING:
    from dispatch.cli import Dispatcher

USAGE = "version [--json]"


def run(dispatcher: Dispatcher, args: list[str]) -> int:
    from dispatch.builtins import common

    as_json = common.parse_flags(dispatcher, "version", args, USAGE)
    if as_json is None:
        return 0
    python = sys.version.split()[0]
    if as_json:
        common.write_json({"name": dispatcher.prog, "version": dispatcher.version, "python": python})
    else:
        sys.stdout.write(f"{dispatcher.prog} {dispatcher.version} (Python {python})\n")
    sys.stdout.flush()
    return 0
