"""`tool help [COMMAND]` (also `tool`, `-h`, `--help`)."""
from __future__ import annotations

import os
import sys

from dispatch.render import visible

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping

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
        return plugin_help(dispatcher, args)
    return general_help(dispatcher)


def plugin_help(dispatcher: Dispatcher, args: list[str]) -> int:
    """A protocol plugin's description, rendered; a plain plugin's own --help, said so."""
    from dispatch import declaration

    env = os.environ
    found, words = dispatcher.lookup(args, env)
    command = f"{dispatcher.prog} {' '.join(words[: found.nwords])}"
    needle = (dispatcher.env_prefix + "PROTOCOL").encode()
    if declaration.declares(found.path, found.stat, needle, env, dispatcher.prog):
        description = describe(dispatcher, found.path, found.stat, env)
        if description is not None:
            from protocol import help as render

            sys.stdout.write(visible(render.render(description, command), multiline=True))
            return 0
    else:
        dispatcher.error(f"{os.path.basename(found.path)} does not describe itself; here is its own --help")
    # The plugin owns its help, as under git.
    return dispatcher.run_plugin([*args[: found.nwords], "--help"], env)


def describe(dispatcher: Dispatcher, path: str, st: os.stat_result, env: Mapping[str, str]) -> dict[str, object] | None:
    """The cached describe answer, asking the plugin (which declares the protocol) when there is none yet."""
    from dispatch import metadata, probe

    entry = metadata.read(env, dispatcher.prog, st)
    if isinstance(entry.get("description"), dict):
        return entry["description"]  # type: ignore[no-any-return]
    request = {"type": "describe", "host": {"name": dispatcher.prog, "version": dispatcher.version}}
    answer = probe.ask(path, request, env, env_prefix=dispatcher.env_prefix, answer_type="description")
    if answer.hello is None or answer.answer is None or answer.answer.get("type") != "description":
        return None
    description = {k: v for k, v in answer.answer.items() if k != "type"}
    metadata.note(
        env, dispatcher.prog, st, path,
        declares=True, protocol=answer.hello.get("protocol"), plugin=answer.hello.get("plugin"), description=description,
    )
    return description


def general_help(dispatcher: Dispatcher) -> int:
    from dispatch.builtins.list import plugins
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
    found, _ = plugins(dispatcher, os.environ)
    runnable = {}
    for p in found:
        if p.runs and p.name not in runnable:
            runnable[p.name] = p
    described = [p for p in runnable.values() if p.summary]
    others = sorted(name for name, p in runnable.items() if not p.summary)
    if described:
        out.append("\nPlugins:\n")
        for p in sorted(described, key=lambda p: p.name):
            out.append(f"  {p.name:<19}  {visible(' '.join((p.summary or '').split()))}\n")
    if others:
        out.append("\nOther plugins:" if described else "\nPlugins:")
        line = "\n "
        for name in others:
            if len(line) + len(name) + 1 > 78:
                out.append(line)
                line = "\n "
            line += " " + name
        out.append(line + "\n")
    if not runnable:
        out.append(f"\nNo plugins found yet: put an executable named {prog}-NAME on PATH.\n")
    out.append(f"\nRun '{prog} help <command>' for a command's help, '{prog} list' for details.\n")
    sys.stdout.write("".join(out))
    sys.stdout.flush()
    return 0
