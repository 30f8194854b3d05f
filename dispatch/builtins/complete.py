"""Shell completion: the candidates the scripts of `tool completion bash|zsh|fish` ask for.

    tool __complete --shell zsh|fish -- WORDS... CURRENT
    tool __complete --shell bash --line "$COMP_LINE" --point "$COMP_POINT" --wordbreaks "$COMP_WORDBREAKS"

zsh and fish give the words as they split them. bash splits at its COMP_WORDBREAKS (`=`
and `:` among them), so it gives the line instead: the host splits it as the shell will run
it, and each candidate is written as bash replaces it (only what follows the last wordbreak
of the word being typed) and quoted for the command line when inserting it needs that.

It completes host options, builtins, aliases, plugin names (from directory listings, only
files that can run; a name's `_` is a `-` inside one word, as `tool foo-bar` runs
`tool-foo_bar`), multi-word plugin commands (`tool db <TAB>` offers `migrate` for
`tool-db-migrate`, and so does `tool help db <TAB>`), and the arguments of a plugin:
through its sidecar `<prog>_complete-NAME` when it has one (dispatch/catalog/sidecar.py),
else, for a plugin that declares the protocol and has been seen speaking it, through a
`complete` request bounded in time. Plain plugins and plugins never run are not started for
completion: the shell falls back to file names.

Output: a candidate a line (zsh: `value:description`, fish: `value<TAB>description`), then
a line `:N`, cobra's directive bits: 2 = no space after the candidate, 4 = no file names;
and for bash 128 = let bash quote what it inserts, as it quotes file names.
"""
from __future__ import annotations

import os
import sys

from dispatch import commands, declaration, lookup, options, resolve
from dispatch.catalog.candidates import Candidates
from dispatch.screen.text import visible
from protocol.digits import decimal

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterator, Sequence

    from dispatch.context import Invocation

ASK_TIMEOUT = 1.0  # a plugin that does not answer within this gives no candidates
NO_SPACE = 2  # cobra's ShellCompDirectiveNoSpace
QUOTE_AS_FILES = 128  # ours (cobra's bits stop at 32): bash quotes what it inserts, as for file names
_BASH_WORDBREAKS = " \t\n\"'@><=;|&(:"
_SAFE = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-./:=@%+,")


def run(inv: Invocation, args: list[str]) -> int:
    shell, words, current, breaks = _request(args)
    try:
        found = candidates(inv, words, current, described=shell != "bash")  # bash shows no descriptions
    except Exception:  # completion must never break the user's shell
        if inv.options.verbosity > 0:
            raise
        found = Candidates()
    sys.stdout.write(_format(shell, found, current, breaks))
    return 0


def _request(args: list[str]) -> tuple[str, list[str], str, str]:
    """(shell, the words before the one being typed, the word being typed, bash's wordbreaks)."""
    shell = "bash"
    named: dict[str, str] = {}
    while len(args) >= 2 and args[0] in ("--shell", "--line", "--point", "--wordbreaks"):
        named[args[0]] = args[1]
        args = args[2:]
    shell = named.get("--shell", shell)
    if "--line" in named:
        line = named["--line"]
        point = decimal(named.get("--point", ""))
        if point is not None:
            line = line[:point]
        words, current = split_line(line)
        return shell, words[1:], current, named.get("--wordbreaks", _BASH_WORDBREAKS)
    if args[:1] == ["--"]:
        args = args[1:]
    *words, current = args or [""]
    return shell, words, current, ""


def split_line(line: str) -> tuple[list[str], str]:
    """The words of a command line as the shell will pass them (quotes and backslashes taken
    away), and the last one, being typed ("" after a space)."""
    words: list[str] = []
    word: list[str] = []
    in_word = False
    quote = ""
    i = 0
    while i < len(line):
        c = line[i]
        i += 1
        if quote:
            if c == quote:
                quote = ""
            elif c == "\\" and quote == '"' and i < len(line) and line[i] in '"\\$`':
                word.append(line[i])
                i += 1
            else:
                word.append(c)
        elif c in " \t\n":
            if in_word:
                words.append("".join(word))
                word, in_word = [], False
        else:
            in_word = True
            if c in "'\"":
                quote = c
            elif c == "\\" and i < len(line):
                word.append(line[i])
                i += 1
            else:
                word.append(c)
    return words, "".join(word) if in_word or quote else ""


def _format(shell: str, found: Candidates, current: str, breaks: str) -> str:
    out = []
    seen = set()
    for value, description in found.items:
        if not value.startswith(current) or value in seen or not value.isprintable():
            continue  # a value with control characters would be typed into the user's shell
        seen.add(value)
        if shell == "bash":
            out.append(value)  # bash shows no descriptions
            continue
        description = visible(" ".join(description.split()))
        if shell == "zsh":
            out.append(value.replace(":", "\\:") + (":" + description if description else ""))
        else:
            out.append(value + ("\t" + description if description else ""))
    directive = found.directive
    if shell == "bash":
        out, quoting = _for_bash(out, current, breaks)
        directive |= quoting
    return "".join(line + "\n" for line in out) + f":{directive}\n"


def _for_bash(values: list[str], current: str, breaks: str) -> tuple[list[str], int]:
    """The candidates as bash replaces the word being typed (from its last wordbreak on), and
    how they are quoted for the command line: not at all when they need none; by bash itself
    as it quotes file names (QUOTE_AS_FILES: the list shows them as they are, what is inserted
    is quoted) when none has a `/` (which bash would take for a directory); else here."""
    cut = max((current.rfind(c) for c in breaks if c not in " \t\n"), default=-1) + 1
    values = [v[cut:] for v in values]
    if all(set(v) <= _SAFE for v in values):
        return values, 0
    if not any("/" in v or "\n" in v for v in values):
        return values, QUOTE_AS_FILES
    return [quote(v) for v in values], 0


def quote(value: str) -> str:
    """`value` as one word of a bash command line (backslashes, as bash's `printf %q`)."""
    if value and set(value) <= _SAFE and not value.startswith("~"):
        return value
    return "".join(c if c in _SAFE else "\\" + c for c in value) if "\n" not in value else "$'" + value.replace("\\", "\\\\").replace("'", "\\'").replace("\n", "\\n") + "'"


def candidates(inv: Invocation, words: Sequence[str], current: str, *, described: bool = True) -> Candidates:
    """The candidates for the word being typed, `current`, after `words` (`described`: with the
    plugins' summaries, which cost a look at each file and the cache, for the shells that show them)."""
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
        return Candidates()  # completing the value of a host option (a directory, seconds): the shell's own
    if words[i:] == [] and current.startswith("-"):
        return Candidates([(flag, o.help) for flag, o in inv.program.option_table.items() if flag.startswith("--")])
    command = list(words[i:])
    if not command:
        return Candidates(_command_names(inv, [], current, described))
    if command[0] in inv.program.builtins:
        return Candidates()  # the program's own builtin: the shell's file names
    if command[0] in commands.BUILTINS:
        return Candidates(_builtin_args(inv, command, current, described))
    # A line that runs its plugin sandboxed (`tool --sandbox=workdir fmt <TAB>`) never starts it
    # for a keystroke: its completion would run outside the sandbox the line asks for.
    sandboxed = any(w == "--sandbox" or w.startswith("--sandbox=") for w in words[:i])
    return _plugin_args(inv, command, current, described, run_plugin=not sandboxed)


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


def _plugin_files(inv: Invocation, before: Sequence[str], current: str) -> Iterator[tuple[str, bool, str]]:
    """(the next command word, whether it is the file's last, path) of each plugin file on the
    search path whose words start with `before` and then a word starting with `current`, and
    that can run (a regular file, links followed, executable: a directory or a dangling link of
    a plugin's name is no command). `tool-db-run_all` is `db`, then `run-all`: `-` separates
    command words, `_` is a `-` in one. (One loop over every entry of every directory on the
    search path, 2,000 plugins and more: kept tight.)"""
    prefix, n, given, windows = inv.prog + "-", len(before), tuple(before), inv.program.windows
    cut = len(prefix)
    for d in lookup.search_path(inv).dirs:
        try:
            with os.scandir(d) as it:
                for entry in it:
                    name = entry.name
                    if not name.startswith(prefix):
                        continue  # most of PATH: decided before anything else
                    rest = os.path.splitext(name[cut:])[0] if windows else name[cut:]
                    if resolve.name_problem(rest) is not None:
                        continue
                    if n:
                        words = tuple(w.replace("_", "-") for w in rest.split("-"))
                        if len(words) <= n or words[:n] != given:
                            continue
                        word, last = words[n], len(words) == n + 1
                    else:
                        word, dash, _ = rest.partition("-")
                        word, last = word.replace("_", "-"), not dash
                    if word.startswith(current) and entry.is_file() and (windows or os.access(entry.path, os.X_OK)):
                        yield word, last, entry.path
        except OSError:
            continue


def _command_names(inv: Invocation, before: Sequence[str], current: str, described: bool = True) -> list[tuple[str, str]]:
    """The next command word after `before`: builtins and aliases (first word only), and plugins."""
    found: list[tuple[str, str]] = []
    if not before:
        found += list(commands.builtins(inv.program).items())
        found += [(name, commands.alias_summary(words)) for name, words in commands.aliases(inv.config, inv.program).items()]
    deeper: dict[str, str] = {}
    for word, last, path in _plugin_files(inv, before, current):
        if last:
            deeper[word] = path
        else:
            deeper.setdefault(word, "")
    summaries = _summaries(inv, {w: p for w, p in deeper.items() if p}) if described else {}
    found += [(word, summaries.get(word, "")) for word in sorted(deeper)]
    return found


def _summaries(inv: Invocation, paths: dict[str, str]) -> dict[str, str]:
    """What `tool list` says of each plugin file (read from the file and the cache; nothing is run)."""
    if not paths:
        return {}
    from dispatch.catalog import scan

    files = [f for f in (scan.file_at(path, word, os.path.dirname(path), inv.program.windows) for word, path in paths.items()) if f]
    scan.with_metadata(files, inv.program, inv.environ)
    return {f.name: f.summary or "" for f in files}


def _builtin_args(inv: Invocation, command: list[str], current: str, described: bool) -> list[tuple[str, str]]:
    name = command[0]
    if name == "help":
        return _command_names(inv, command[1:], current, described)  # `help db <TAB>` as `db <TAB>`
    if name == "completion" and len(command) == 1:
        return [("bash", ""), ("zsh", ""), ("fish", "")]
    if name == "plugin":
        if len(command) == 1:
            return [(sub, text) for sub, (_, text) in commands.PLUGIN_COMMANDS.items()]
        if current.startswith("-"):
            return [(f, "") for f in commands.flags(commands.plugin_usage(inv.prog, command[1]))]
        if command[1] == "check":
            return _command_names(inv, command[2:], current, described)
        if command[1] in ("upgrade", "remove"):
            from dispatch.install.store import Store  # the installed plugins' names: for these two only

            return [(name, "") for name in Store.of(inv.environ, inv.prog).names()]
        return []
    return [(f, "") for f in commands.flags(commands.usage(name, inv.program))]


def _plugin_args(inv: Invocation, command: list[str], current: str, described: bool, *, run_plugin: bool = True) -> Candidates:
    from dispatch.catalog import metadata, probe, sidecar

    found = Candidates()
    nwords = resolve.command_words(command)
    if nwords == len(command):
        # Deeper plugin commands first: `tool db <TAB>` offers `migrate` for tool-db-migrate.
        found.items += _command_names(inv, command, current, described)
    plugin = lookup.find(inv, command)
    if plugin is None or not run_plugin:
        return found  # nothing runs: nothing to complete
    program = inv.program
    env = inv.environ
    helper = sidecar.find(inv, plugin.path)
    if helper is not None:
        # The plugin's author gave a completer: it is asked, never the plugin (a plain one above all).
        given = sidecar.complete(inv, helper, " ".join(command[: plugin.nwords]), command[plugin.nwords :], current)
        return Candidates(found.items + given.items, given.directive)
    if not declaration.declares(plugin.path, plugin.stat, program.var("PROTOCOL").encode(), env, program.prog):
        return found  # plain plugins are never run for completion
    if type(metadata.read(env, program.prog, plugin.stat).get("protocol")) is not int:
        return found  # nor is a plugin not yet seen speaking the protocol (a keystroke must not start it)
    child_env = inv.plugin_env(" ".join(command[: plugin.nwords]))
    words = list(command[plugin.nwords :])
    answer = probe.ask(
        program, plugin.path, lambda c: c.complete(words, current), child_env, timeout=ASK_TIMEOUT, answer_type="completions",
        sandbox=probe.sandbox_of(inv, plugin.path),
    )
    if answer.answer is not None and answer.answer.get("type") == "completions":
        for item in answer.answer.get("candidates", []):
            found.items.append((str(item.get("value", "")), str(item.get("description", ""))))
    return found
