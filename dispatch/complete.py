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

from dispatch.text import visible

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence

    from dispatch.context import Invocation

ASK_TIMEOUT = 1.0  # a plugin that does not answer within this gives no candidates

_HOST_FLAGS = {
    "--help": "show help",
    "--version": "show the version",
    "--verbose": "say more",
    "--quiet": "show only errors",
    "--json": "JSON lines on stdout",
    "--no-input": "never prompt",
    "--timeout": "stop the command after SECONDS",
    "--max-output": "stop after SIZE bytes of output",
    "--max-cpu": "limit CPU time",
    "--max-memory": "limit memory",
}


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
    except Exception:  # noqa: BLE001 - completion must never break the user's shell
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
    from dispatch.options import TAKES_VALUE

    # Skip the host options in front of the command words.
    i = 0
    while i < len(words) and words[i].startswith("-"):
        if words[i] == "--":
            i += 1
            break
        if words[i] in TAKES_VALUE or _own_takes_value(inv, words[i]) or _cluster_takes_value(inv, words[i]):
            i += 1
        i += 1
    if i > len(words):
        return []  # completing the value of a host option (a directory, seconds): the shell's own
    if words[i:] == [] and current.startswith("-"):
        own = [(flag, o.help) for flag, o in inv.program.options.items() if flag.startswith("--")]
        return [*_HOST_FLAGS.items(), *own]
    command = list(words[i:])
    if not command:
        return _command_names(inv, current)
    from dispatch.builtins import BUILTINS

    if command[0] in inv.program.builtins:
        return []  # the program's own builtin: the shell's file names
    if command[0] in BUILTINS:
        return _builtin_args(inv, command, current)
    return _plugin_args(inv, command, current)


def _own_takes_value(inv: Invocation, word: str) -> bool:
    """A program's own valued option given alone (`-c` or `--opt`), whose value is the next word."""
    option = inv.program.options.get(word)
    return option is not None and option.metavar is not None


def _cluster_takes_value(inv: Invocation, word: str) -> bool:
    """Short flags together whose last one takes the next word as its value (`-vC DIR`)."""
    from dispatch.options import TAKES_VALUE

    if word.startswith("--") or len(word) < 3:
        return False
    for j, ch in enumerate(word[1:], 1):
        flag = "-" + ch
        if flag in TAKES_VALUE or _own_takes_value(inv, flag):
            return j == len(word) - 1  # else the rest of the word is the value
    return False


def _plugin_names(inv: Invocation) -> Iterable[str]:
    """Command names from the directory listings alone (no stat of every file)."""
    from dispatch import lookup, resolve

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
    from dispatch import builtins

    table = builtins.names(inv.program)
    found = list(table.items())
    cfg = inv.config
    if cfg is not None:
        found += [(name, "alias: " + " ".join(words)) for name, words in cfg.aliases.items() if name not in table]
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
            return [("install", "install a plugin from a file, directory, git, Python package or archive"),
                    ("list", "the installed plugins"), ("upgrade", "upgrade installed plugins"),
                    ("remove", "remove installed plugins"), ("lock", "print a lock file of the installed plugins"),
                    ("check", "check a plugin against the protocol")]
        if len(command) == 2 and command[1] == "check":
            return _command_names(inv, current)
        if command[1] in ("upgrade", "remove") and not current.startswith("-"):
            from dispatch.installed import Store

            return [(name, "") for name in Store.of(inv.environ, inv.prog).names()]
        return []
    flags = {"list": ["--json", "--refresh"], "doctor": ["--json"], "version": ["--json"]}.get(name, [])
    return [(f, "") for f in flags]


def _plugin_args(inv: Invocation, command: list[str], current: str) -> list[tuple[str, str]]:
    from dispatch import declaration, lookup, metadata, resolve

    found: list[tuple[str, str]] = []
    nwords = resolve.command_words(command)
    # Deeper plugin commands first: `tool db <TAB>` offers `migrate` for tool-db-migrate.
    if nwords == len(command):
        stem = "-".join(command) + "-"
        for name in _plugin_names(inv):
            if name.startswith(stem + current):
                found.append((_next_word(name, stem + current)[len(stem) :], ""))
    plugin = lookup.find(inv, command)
    if plugin is None:
        return found  # nothing runs: nothing to complete
    program = inv.program
    env = inv.environ
    from dispatch import sidecar

    helper = sidecar.find(inv, plugin.path)
    if helper is not None:
        # The plugin's author gave a completer: it is asked, never the plugin (a plain one above all).
        return found + sidecar.complete(inv, helper, " ".join(command[: plugin.nwords]), command[plugin.nwords :], current)
    if not declaration.declares(plugin.path, plugin.stat, program.var("PROTOCOL").encode(), env, program.prog):
        return found  # plain plugins are never run for completion
    if type(metadata.read(env, program.prog, plugin.stat).get("protocol")) is not int:
        return found  # nor is a plugin not yet seen speaking the protocol (a keystroke must not start it)
    from dispatch import probe

    child_env = inv.plugin_env(" ".join(command[: plugin.nwords]))
    words = list(command[plugin.nwords :])
    answer = probe.ask(
        program, plugin.path, lambda c: c.complete(words, current), child_env, timeout=ASK_TIMEOUT, answer_type="completions"
    )
    if answer.answer is not None and answer.answer.get("type") == "completions":
        for item in answer.answer.get("candidates", []):
            found.append((str(item.get("value", "")), str(item.get("description", ""))))
    return found
