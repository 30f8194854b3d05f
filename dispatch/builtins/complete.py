"""Shell completion: `tool __complete --shell SHELL -- WORDS... CURRENT` prints the candidates.

The scripts from `tool completion bash|zsh|fish` call it. It completes host
options, builtins, plugin names (from directory listings only, nothing is
run), multi-word plugin commands (`tool db <TAB>` offers `migrate` for
`tool-db-migrate`), and the arguments of a plugin: through its sidecar `<prog>_complete-NAME`
when it has one (dispatch/sidecar.py), else, for a plugin that declares the
protocol and has been seen speaking it, through a `complete` request bounded
in time. Plain plugins and plugins never run are not started for
completion: the shell falls back to file names.
"""
from __future__ import annotations

import os
import sys

from dispatch import commands, declaration, lookup, options, resolve
from dispatch.screen.text import visible

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence

    from dispatch.context import Invocation

ASK_TIMEOUT = 1.0  # a plugin that does not answer within this gives no candidates

def run(inv: Invocation, args: list[str]) -> int:
    shell = "bash"
    if args[:1] == ["--shell"] and len(args) > 1:
        shell, args = args[1], args[2:]
    if args[:1] == ["--"]:
        args = args[1:]
    if not args:
        args = [""]
    *words, current = args
    try:
        found = candidates(inv, words, current)
    except Exception:
        if inv.options.verbosity > 0:
            raise
        found = []
    out = []
    seen = set()
    for value, description in found:
        if not value.startswith(current) or value in seen or not value.isprintable():
            continue  # a value with control characters would be typed into the user's shell
        description = visible(" ".join(description.split()))
        seen.add(value)
        if shell == "bash" or not description:
            out.append(value if shell != "zsh" else value.replace(":", "\\:"))
        elif shell == "zsh":
            out.append(value.replace(":", "\\:") + ":" + description)
        else:
            out.append(value + "\t" + description)
    sys.stdout.write("".join(line + "\n" for line in out))
    return 0


def candidates(inv: Invocation, words: Sequence[str], current: str) -> list[tuple[str, str]]:
    """(value, description) pairs for the word being typed, `current`, after `words`."""
    # Skip the host options in front of the command words.
    i = 0
    while i < len(words) and words[i].startswith("-"):
        if words[i] == "--":
            i += 1
            break
        if _skips_next(inv, words[i]):
            i += 1
        i += 1
    if i > len(words):
        return []  # completing the value of a host option (a directory, seconds): the shell's own
    if words[i:] == [] and current.startswith("-"):
        return [(flag, o.help) for flag, o in inv.program.option_table.items() if flag.startswith("--")]
    command = list(words[i:])
    if not command:
        return _command_names(inv, current)
    if command[0] in inv.program.builtins:
        return []  # the program's own builtin: the shell's file names
    if command[0] in commands.BUILTINS:
        return _builtin_args(inv, command, current)
    # A line that runs its plugin sandboxed (`tool --sandbox=workdir fmt <TAB>`) never starts it
    # for a keystroke: its completion would run outside the sandbox the line asks for.
    sandboxed = any(w == "--sandbox" or w.startswith("--sandbox=") for w in words[:i])
    return _plugin_args(inv, command, current, run_plugin=not sandboxed)


def _skips_next(inv: Invocation, word: str) -> bool:
    """Whether a host option word takes the next word as its value: `-C` or `--timeout` alone,
    or short flags together whose last one does (`-vC DIR`)."""
    table = inv.program.option_table
    if word.startswith("--") or len(word) == 2:
        return options.takes_value(table, word)
    for j, ch in enumerate(word[1:], 1):
        if options.takes_value(table, "-" + ch):
            return j == len(word) - 1  # else the rest of the word is the value
    return False


def _plugin_names(inv: Invocation) -> Iterable[str]:
    """Command names from the directory listings alone (no stat of every file)."""
    prefix = inv.prog + "-"
    for d in lookup.search_path(inv).dirs:
        try:
            with os.scandir(d) as it:
                for entry in it:
                    if entry.name.startswith(prefix):
                        name = entry.name[len(prefix) :]
                        if inv.program.windows:
                            name = os.path.splitext(name)[0]
                        if resolve.name_problem(name) is None:
                            yield name.replace("_", "-")
        except OSError:
            continue


def _command_names(inv: Invocation, current: str) -> list[tuple[str, str]]:
    found = list(commands.builtins(inv.program).items())
    found += [(name, "alias: " + " ".join(words)) for name, words in commands.aliases(inv.config, inv.program).items()]
    names = {_next_word(name, current) for name in _plugin_names(inv) if name.startswith(current)}
    found.extend((n, "") for n in sorted(names))
    return found


def _next_word(name: str, typed: str) -> str:
    """`db-migrate` is typed as `db migrate`: offer `name` up to the end of the word being typed."""
    cut = name.find("-", len(typed))
    return name if cut < 0 else name[:cut]


def _builtin_args(inv: Invocation, command: list[str], current: str) -> list[tuple[str, str]]:
    name = command[0]
    if name == "help" and len(command) == 1:
        return _command_names(inv, current)
    if name == "completion" and len(command) == 1:
        return [("bash", ""), ("zsh", ""), ("fish", "")]
    if name == "plugin":
        if len(command) == 1:
            return [(sub, text) for sub, (_, text) in commands.PLUGIN_COMMANDS.items()]
        if len(command) == 2 and command[1] == "check":
            return _command_names(inv, current)
        if command[1] in ("upgrade", "remove") and not current.startswith("-"):
            from dispatch.install.store import Store

            return [(name, "") for name in Store.of(inv.environ, inv.prog).names()]
        return []
    flags = {"list": ["--json", "--refresh"], "doctor": ["--json"], "version": ["--json"]}.get(name, [])
    return [(f, "") for f in flags]


def _plugin_args(inv: Invocation, command: list[str], current: str, *, run_plugin: bool = True) -> list[tuple[str, str]]:
    from dispatch.catalog import metadata

    found: list[tuple[str, str]] = []
    nwords = resolve.command_words(command)
    # Deeper plugin commands first: `tool db <TAB>` offers `migrate` for tool-db-migrate.
    if nwords == len(command):
        stem = "-".join(command) + "-"
        for name in _plugin_names(inv):
            if name.startswith(stem + current):
                found.append((_next_word(name, stem + current)[len(stem) :], ""))
    plugin = lookup.find(inv, command)
    if plugin is None or not run_plugin:
        return found  # nothing runs: nothing to complete
    program = inv.program
    env = inv.environ
    from dispatch.catalog import sidecar

    helper = sidecar.find(inv, plugin.path)
    if helper is not None:
        # The plugin's author gave a completer: it is asked, never the plugin (a plain one above all).
        return found + sidecar.complete(inv, helper, " ".join(command[: plugin.nwords]), command[plugin.nwords :], current)
    if not declaration.declares(plugin.path, plugin.stat, program.var("PROTOCOL").encode(), env, program.prog):
        return found  # plain plugins are never run for completion
    if type(metadata.read(env, program.prog, plugin.stat).get("protocol")) is not int:
        return found  # nor is a plugin not yet seen speaking the protocol (a keystroke must not start it)
    from dispatch.catalog import probe

    child_env = inv.plugin_env(" ".join(command[: plugin.nwords]))
    words = list(command[plugin.nwords :])
    answer = probe.ask(
        program, plugin.path, lambda c: c.complete(words, current), child_env, timeout=ASK_TIMEOUT, answer_type="completions",
        sandbox=probe.sandbox_of(inv, plugin.path),
    )
    if answer.answer is not None and answer.answer.get("type") == "completions":
        for item in answer.answer.get("candidates", []):
            found.append((str(item.get("value", "")), str(item.get("description", ""))))
    return found
