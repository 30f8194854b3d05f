"""`tool help [COMMAND]` (also `tool`, `-h`, `--help`)."""
from __future__ import annotations

import os
import sys

TYPE_CHECKING = False
if TYPE_CHECKING:
    from dispatch.cli import Dispatcher

USAGE = "help [COMMAND...]"

_OPTIONS = """\
  -h, --help           show this help
  -V, --version        show the version
  -v, --verbose        say more; -v also traces how the command was found
  -q, --quiet          show only errors
  --json               machine-readable output on stdout (JSON lines)
  --no-input           never prompt; plugins asking for input get an error
  --timeout SECONDS    stop the command after SECONDS (e.g. 30, 1.5, 2m)
  --max-output SIZE    stop the command after SIZE bytes of output (e.g. 10M)
  --max-cpu SECONDS    limit the command's CPU time
  --max-memory SIZE    limit the command's memory (e.g. 512M)
  -C DIR               run as if started in DIR
"""


def run(dispatcher: Dispatcher, args: list[str]) -> int:
    from dispatch.cli import BUILTINS

    if args and args[0] in BUILTINS:
        import importlib

        module = importlib.import_module(f"dispatch.builtins.{args[0]}")
        sys.stdout.write(f"usage: {dispatcher.prog} {module.USAGE}\n\n{BUILTINS[args[0]]}\n")
        return 0
    if args and not args[0].startswith("-"):
        # A plugin owns its flags and its help.
        return dispatcher.run_plugin([*args, "--help"], os.environ)
    return general_help(dispatcher)


def general_help(dispatcher: Dispatcher) -> int:
    from dispatch import catalog
    from dispatch.cli import BUILTINS

    prog = dispatcher.prog
    out = []
    out.append(f"usage: {prog} [options] <command> [<args>...]\n")
    if dispatcher.description:
        out.append(f"\n{dispatcher.description}\n")
    out.append(
        f"\nRuns {prog}-<command> found on the plugin search path "
        f"({dispatcher.plugin_path_var()}, then PATH).\n"
    )
    out.append("\nOptions (before the command):\n" + _OPTIONS)
    out.append("\nBuiltin commands:\n")
    for name, summary in BUILTINS.items():
        out.append(f"  {name:<19}  {summary}\n")
    env = os.environ
    names = sorted({p.name for p in catalog.scan(dispatcher, dispatcher.search_path(env).dirs, env) if p.runs})
    if names:
        out.append("\nPlugins:\n")
        line = " "
        for name in names:
            if len(line) + len(name) + 2 > 78:
                out.append(line + "\n")
                line = " "
            line += " " + name
        out.append(line + "\n")
    else:
        out.append(f"\nNo plugins found yet: put an executable named {prog}-NAME on PATH.\n")
    out.append(f"\nRun '{prog} help <command>' for a command's help, '{prog} list' for details.\n")
    sys.stdout.write("".join(out))
    sys.stdout.flush()
    return 0
