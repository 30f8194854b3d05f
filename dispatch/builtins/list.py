"""`tool list`: every plugin on the search path, in the order it is found, with problems."""
from __future__ import annotations

import os
import sys

TYPE_CHECKING = False
if TYPE_CHECKING:
    from dispatch.cli import Dispatcher

USAGE = "list [--json]"


def run(dispatcher: Dispatcher, args: list[str]) -> int:
    from dispatch import catalog
    from dispatch.builtins import common

    as_json = common.parse_flags(dispatcher, "list", args, USAGE)
    if as_json is None:
        return 0
    env = os.environ
    sp = dispatcher.search_path(env)
    plugins = catalog.scan(dispatcher, sp.dirs, env)
    if as_json:
        common.write_json(
            {
                "search_path": sp.dirs,
                "skipped": [{"source": v, "entry": e, "reason": r} for v, e, r in sp.skipped],
                "plugins": [
                    {
                        "name": p.name,
                        "path": p.path,
                        "executable": p.executable,
                        "runs": p.runs,
                        "problems": [{"code": q.code, "message": q.message} for q in p.problems],
                    }
                    for p in plugins
                ],
            }
        )
        return 0
    out = sys.stdout
    if not plugins:
        dispatcher.error(
            f"no plugins found. Put an executable named {dispatcher.prog}-NAME in a directory "
            f"on PATH or {dispatcher.plugin_path_var()}, then run '{dispatcher.prog} NAME'"
        )
        return 0
    width = min(max(len(p.name) for p in plugins), 24)
    warnings = 0
    for p in plugins:
        out.write(f"{p.name:<{width}}  {p.path}\n")
        for problem in p.problems:
            warnings += 1
            out.write(f"{'':<{width}}  warning: {problem.message}\n")
    out.flush()
    if warnings:
        dispatcher.error(f"{len(plugins)} plugin file(s), {warnings} warning(s)")
    return 0
