"""`tool help [COMMAND]` (also `tool`, `-h`, `--help`)."""
from __future__ import annotations

import os
import sys

from dispatch import commands, declaration, launch, lookup
from dispatch.builtins.list import plugins
from dispatch.catalog import metadata, probe
from dispatch.screen import pager
from dispatch.screen.style import Style, paragraph, two_columns, words
from dispatch.screen.text import visible, write_json
from protocol import help as render

TYPE_CHECKING = False
if TYPE_CHECKING:
    from dispatch.catalog.scan import PluginFile
    from dispatch.context import Invocation, Program

def run(inv: Invocation, args: list[str]) -> int:
    if args and commands.is_builtin(args[0], inv.program):
        name = args[0]
        usage, summary = f"{inv.prog} {commands.usage(name, inv.program)}", commands.summary(name, inv.program)
        if inv.options.json:
            write_json({"command": name, "kind": "builtin", "usage": usage, "summary": summary})
        else:
            sys.stdout.write(f"usage: {usage}\n\n{summary}\n")
        return 0
    if args and not args[0].startswith("-"):
        return plugin_help(inv, args)
    return general_help(inv)


def plugin_help(inv: Invocation, args: list[str]) -> int:
    """A protocol plugin's description, rendered; a plain plugin's own --help, said so. With
    words after the command (`help db migrate`), what `db migrate --help` says, as docker does:
    the plugin owns its subcommands' help."""
    program = inv.program
    found, words = lookup.lookup(inv, args)
    command = f"{inv.prog} {' '.join(words[: found.nwords])}"
    if len(args) > found.nwords:
        return launch.run_plugin(inv, found, words, [*args, "--help"])
    if declaration.declares(found.path, found.stat, program.var("PROTOCOL").encode(), inv.environ, inv.prog):
        description = describe(inv, found.path, found.stat)
        if description is not None and inv.options.json:
            write_json({"command": " ".join(words[: found.nwords]), "kind": "protocol", "description": description})
            return 0
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


def _options(program: Program, width: int | None) -> str:
    """The host options, from the one table (the library's, then the program's own)."""
    rows = []
    for option in dict.fromkeys(program.option_table.values()):
        spelled = ", ".join(option.flags) + (
            f"[={option.metavar}]" if option.optional else f" {option.metavar}" if option.metavar else ""
        )
        rows.append((spelled, option.help))
    return two_columns(rows, width, widest=22)


def general_help(inv: Invocation) -> int:
    """The program's help: its usage, options, builtins, aliases and plugins, fitted to the
    terminal's whole width (paged when it is longer than the terminal), whole in a pipe."""
    program = inv.program
    if inv.options.json:
        write_json(document(inv))
        return 0
    width = Style.for_stdout(inv.environ).width
    out = [paragraph(f"usage: {inv.prog} [options] <command> [<args>...]", width)]
    if program.description:
        out.append("\n" + paragraph(program.description, width))
    own = "the program's own directories, " if program.search_dirs else ""
    out.append("\n" + paragraph(
        f"Runs {inv.prog}-<command> found on the plugin search path "
        f"({own}{program.var('PLUGIN_PATH')}, installed plugins, then PATH).", width))
    out.append("\nOptions (before the command):\n" + _options(program, width))
    out.append("\nBuiltin commands:\n" + two_columns(list(commands.builtins(program).items()), width))
    aliases = commands.aliases(inv.config, program)
    if aliases:
        rows = [(name, visible(commands.alias_summary(words))) for name, words in sorted(aliases.items())]
        out.append("\nAliases (from the config):\n" + two_columns(rows, width))
    out.append(_plugins_text(inv, width))
    out.append("\n" + paragraph(f"Run '{inv.prog} help <command>' for a command's help, '{inv.prog} list' for details.", width))
    pager.show(inv, "".join(out))
    return 0


def document(inv: Invocation) -> dict[str, object]:
    """`tool --json help`: what the help says, as one JSON document."""
    program = inv.program
    return {
        "usage": f"{inv.prog} [options] <command> [<args>...]",
        "description": program.description,
        "options": [{"flags": list(o.flags), "metavar": o.metavar, "optional_value": o.optional, "help": o.help}
                    for o in dict.fromkeys(program.option_table.values())],
        "builtins": [{"name": name, "summary": summary} for name, summary in commands.builtins(program).items()],
        "aliases": [{"name": name, "expands_to": expansion}
                    for name, expansion in sorted(commands.aliases(inv.config, program).items())],
        "plugins": [{"name": p.name, "kind": p.kind, "summary": p.summary} for p in sorted(_runnable(inv).values(), key=lambda p: p.name)],
    }


def _runnable(inv: Invocation) -> dict[str, PluginFile]:
    found, _ = plugins(inv)
    runnable: dict[str, PluginFile] = {}
    for p in found:
        if p.runs and p.name not in runnable:
            runnable[p.name] = p
    return runnable


def _plugins_text(inv: Invocation, width: int | None) -> str:
    runnable = _runnable(inv)
    if not runnable:
        return f"\nNo plugins found yet: put an executable named {inv.prog}-NAME on PATH.\n"
    described = sorted((p for p in runnable.values() if p.summary), key=lambda p: p.name)
    others = sorted(visible(name) for name, p in runnable.items() if not p.summary)
    out = []
    if described:
        rows = [(visible(p.name), visible(" ".join((p.summary or "").split()))) for p in described]
        out.append("\nPlugins:\n" + two_columns(rows, width))
    if others:
        out.append(("\nOther plugins:\n" if described else "\nPlugins:\n") + words(others, width))
    return "".join(out)
