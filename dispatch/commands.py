"""The table of commands a program has before any plugin: the library's builtins, the
program's own (which replace a library builtin of the same name), the `plugin` subcommands,
and the user's aliases (after builtins and plugins, as git does). Resolution, listing, help,
completion and the install clash checks all read it; the builtins' code is elsewhere
(dispatch/builtins/), so this module costs the start-up path nothing but its dicts."""
from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping

    from dispatch.context import Config, Program

# name -> (usage, one-line summary); {prog} is the program's name.
BUILTINS: dict[str, tuple[str, str]] = {
    "help": ("help [COMMAND...]", "show help for {prog} or for a command"),
    "list": ("list [--json] [--refresh]", "list the plugins with their kind, version and summary"),
    "version": ("version [--json]", "show the version"),
    "completion": ("completion bash|zsh|fish", "print a shell completion script (bash, zsh, fish)"),
    "doctor": ("doctor [--json]", "check the setup: search path, plugins, cache, config"),
    "plugin": ("plugin SUBCOMMAND ...", "install, upgrade, remove and lock plugins; 'plugin check NAME' tests one against the protocol"),
}
# The hidden command the completion scripts call.
COMPLETE = "__complete"

# The `plugin` builtin's subcommands: name -> (usage lines, one-line summary).
PLUGIN_COMMANDS: dict[str, tuple[tuple[str, ...], str]] = {
    "install": (
        ("plugin install SOURCE [--name NAME] [--pin REF] [--sha256 HEX] [--sandbox[=POLICY]|--no-sandbox] [--allow-http] [--force] [--json]",
         "plugin install --locked FILE [--force] [--json]"),
        "install a plugin from a file, directory, git, Python package or archive",
    ),
    "list": (("plugin list [--json]",), "the installed plugins"),
    "upgrade": (("plugin upgrade NAME...|--all [--dry-run] [--json]",), "upgrade installed plugins"),
    "remove": (("plugin remove NAME... [--json]",), "remove installed plugins"),
    "lock": (("plugin lock [--json]",), "print a lock file of the installed plugins"),
    "check": (("plugin check NAME [--json] [-- ARGS...]",), "check a plugin against the protocol"),
}


def is_builtin(name: str, program: Program) -> bool:
    return name in BUILTINS or name in program.builtins


def builtins(program: Program) -> dict[str, str]:
    """Every builtin of the program with its summary: the library's, then the program's own."""
    table = {name: text.replace("{prog}", program.prog) for name, (_, text) in BUILTINS.items()}
    table.update((name, own.summary) for name, own in program.builtins.items())
    return table


def summary(name: str, program: Program) -> str:
    own = program.builtins.get(name)
    return own.summary if own is not None else BUILTINS[name][1].replace("{prog}", program.prog)


def usage(name: str, program: Program) -> str:
    """The usage of a builtin, without the program's name in front (`list [--json] [--refresh]`);
    the `plugin` builtin's is every subcommand's, on lines of their own."""
    own = program.builtins.get(name)
    if own is not None:
        return own.usage.removeprefix(program.prog + " ")  # given as "status [--short]" or "prog status [--short]"
    if name == "plugin":
        return plugin_usage(program.prog)
    return BUILTINS[name][0]


def flags(usage: str) -> list[str]:
    """The long flags a usage names, in order (`[--sandbox[=POLICY]|--no-sandbox]` names two):
    completion offers what help shows, from the same text."""
    found: list[str] = []
    for token in usage.replace("|", " ").replace("[", " ").replace("]", " ").split():
        name = token.partition("=")[0]
        if name.startswith("--") and len(name) > 2 and name not in found:
            found.append(name)
    return found


def plugin_usage(prog: str, subcommand: str | None = None) -> str:
    """`plugin`'s usage (of one subcommand, or of all), continued lines indented under the first."""
    lines = [line for name, (usages, _) in PLUGIN_COMMANDS.items() if subcommand in (None, name) for line in usages]
    return f"\n{' ' * 7}{prog} ".join(lines)


def aliases(config: Config | None, program: Program) -> dict[str, list[str]]:
    """The user's aliases that can be used: a builtin's name is never an alias (doctor says so)."""
    if config is None:
        return {}
    return {name: words for name, words in config.aliases.items() if not is_builtin(name, program)}


def alias_summary(words: list[str]) -> str:
    """An alias as help and list show it."""
    return "alias for " + " ".join(words)


class AliasLoop(Exception):
    """An alias that expands to itself, through `chain`."""

    def __init__(self, chain: list[str]) -> None:
        super().__init__(" -> ".join(chain))
        self.chain = chain


def expand(table: Mapping[str, list[str]], rest: list[str]) -> list[str] | None:
    """`rest` with its first word replaced by its alias (recursively), or None when it is none;
    AliasLoop for an alias that comes back to itself."""
    if not rest or rest[0] not in table:
        return None
    seen = [rest[0]]
    seen_set = {rest[0]}  # a set as well: 5,000 chained aliases cost no more than one
    head = table[rest[0]]
    while head and head[0] in table:
        if head[0] in seen_set:
            raise AliasLoop([*seen, head[0]])
        seen.append(head[0])
        seen_set.add(head[0])
        head = table[head[0]] + head[1:]
    return head + list(rest[1:])


def alias_loops(table: Mapping[str, list[str]]) -> list[list[str]]:
    """Every alias loop, each as the chain of names around it; linear in the number of aliases."""
    state: dict[str, int] = {}  # 1: on the current chain, 2: done
    loops = []
    for start in table:
        chain = []
        name = start
        while name in table and state.get(name) is None:
            state[name] = 1
            chain.append(name)
            name = table[name][0]
        if state.get(name) == 1:
            loops.append([*chain[chain.index(name) :], name])
        for visited in chain:
            state[visited] = 2
    return loops
