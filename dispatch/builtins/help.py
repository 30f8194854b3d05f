"""`tool help [COMMAND]` (also `tool`, `-h`, `--help`)."""
from __future__ import annotations

import os
import sys
import textwrap

from dispatch import commands, declaration, launch, lookup
from dispatch.builtins.list import plugins
from dispatch.catalog import metadata, probe
from dispatch.screen.style import Style, cells, cut
from dispatch.screen.text import visible
from protocol import help as render

TYPE_CHECKING = False
if TYPE_CHECKING:
    from dispatch.context import Invocation, Program

def run(inv: Invocation, args: list[str]) -> int:
    if args and commands.is_builtin(args[0], inv.program):
        name = args[0]
        sys.stdout.write(f"usage: {inv.prog} {commands.usage(name, inv.program)}\n\n{commands.summary(name, inv.program)}\n")
        return 0
    if args and not args[0].startswith("-"):
        return plugin_help(inv, args)
    return general_help(inv)


def plugin_help(inv: Invocation, args: list[str]) -> int:
    """A protocol plugin's description, rendered; a plain plugin's own --help, said so."""
    program = inv.program
    found, words = lookup.lookup(inv, args)
    command = f"{inv.prog} {' '.join(words[: found.nwords])}"
    if declaration.declares(found.path, found.stat, program.var("PROTOCOL").encode(), inv.environ, inv.prog):
        description = describe(inv, found.path, found.stat)
        if description is not None:

            sys.stdout.write(visible(render.render(description, command), multiline=True))
            return 0
    else:
        inv.error(f"{os.path.basename(found.path)} does not describe itself; here is its own --help")
    # The plugin owns its help, as under git.
    return launch.run_plugin(inv, found, words, [*args[: found.nwords], "--help"])


def describe(inv: Invocation, path: str, st: os.stat_result) -> dict[str, object] | None:
    """The cached describe answer, asking the plugin (which declares the protocol) when there is none yet."""
    entry = metadata.read(inv.environ, inv.prog, st)
    if isinstance(entry.get("description"), dict):
        return entry["description"]  # type: ignore[no-any-return]
    answer = probe.ask(inv.program, path, lambda c: c.describe(), inv.environ, answer_type="description",
                       sandbox=probe.sandbox_of(inv, path))
    if answer.hello is None or answer.answer is None or answer.answer.get("type") != "description":
        return None
    description = {k: v for k, v in answer.answer.items() if k != "type"}
    metadata.note(
        inv.environ, inv.prog, st, path,
        declares=True, protocol=answer.hello.get("protocol"), plugin=answer.hello.get("plugin"), description=description,
    )
    return description


def _options(program: Program) -> str:
    """The host options, from the one table (the library's, then the program's own)."""
    lines = []
    for option in dict.fromkeys(program.option_table.values()):
        spelled = ", ".join(option.flags) + (
            f"[={option.metavar}]" if option.optional else f" {option.metavar}" if option.metavar else ""
        )
        lines.append(f"  {spelled:<19}  {option.help}\n" if len(spelled) <= 19 else f"  {spelled}\n  {'':<19}  {option.help}\n")
    return "".join(lines)


def general_help(inv: Invocation) -> int:
    prog = inv.prog
    program = inv.program
    out = []
    out.append(f"usage: {prog} [options] <command> [<args>...]\n")
    if program.description:
        out.append(f"\n{program.description}\n")
    own = "the program's own directories, " if program.search_dirs else ""
    out.append(
        f"\nRuns {prog}-<command> found on the plugin search path "
        f"({own}{program.var('PLUGIN_PATH')}, installed plugins, then PATH).\n"
    )
    out.append("\nOptions (before the command):\n" + _options(program))
    out.append("\nBuiltin commands:\n")
    for name, text in commands.builtins(program).items():
        out.append(f"  {name:<19}  {text}\n")
    found, _ = plugins(inv)
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
    text = "".join(out)

    width = Style.for_stdout(inv.environ).width
    sys.stdout.write(_fitted(text, width) if width else text)
    sys.stdout.flush()
    return 0


def _fitted(text: str, width: int) -> str:
    """The help on a terminal `width` columns wide: paragraphs wrapped, table rows (indented)
    cut with an ellipsis."""

    lines = []
    for line in text.split("\n"):
        if cells(line) < width:
            lines.append(line)
        elif line.startswith(" "):
            lines.append(cut(line, width - 1))
        else:

            lines.extend(textwrap.wrap(line, width - 1, break_on_hyphens=False) or [""])
    return "\n".join(lines)
