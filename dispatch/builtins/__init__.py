"""Builtin commands, one module each with `USAGE` and `run(inv, args) -> int`. They always win over plugins."""
from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from dispatch.context import Invocation, Program

# name -> one-line summary; the implementation is dispatch/builtins/<name>.py.
BUILTINS = {
    "help": "show help for {prog} or for a command",
    "list": "list the plugins with their kind, version and summary",
    "version": "show the version",
    "completion": "print a shell completion script (bash, zsh, fish)",
    "doctor": "check the setup: search path, plugins, cache, config",
    "plugin": "install, upgrade, remove and lock plugins; 'plugin check NAME' tests one against the protocol",
}


def names(program: Program) -> dict[str, str]:
    """Every builtin of the program with its summary: the library's, then the program's own
    (which replace a library builtin of the same name)."""
    table = {name: text.replace("{prog}", program.prog) for name, text in BUILTINS.items()}
    table.update((name, own.summary) for name, own in program.builtins.items())
    return table


def exists(name: str, program: Program) -> bool:
    return name in BUILTINS or name in program.builtins


def summary(name: str, program: Program) -> str:
    own = program.builtins.get(name)
    return own.summary if own is not None else BUILTINS[name].replace("{prog}", program.prog)


def run(inv: Invocation, name: str, args: list[str]) -> int:
    """Run a builtin: the program's own (which wins), else the library's."""
    own = inv.program.builtins.get(name)
    if own is not None:
        return int(own.run(inv, args))
    import importlib

    module = importlib.import_module(f"dispatch.builtins.{name}")
    status: int = module.run(inv, args)
    return status


def usage(name: str, program: Program) -> str:
    own = program.builtins.get(name)
    if own is not None:
        return own.usage.removeprefix(program.prog + " ")  # given as "status [--short]" or "prog status [--short]"
    import importlib

    text: str = importlib.import_module(f"dispatch.builtins.{name}").USAGE
    return text.replace("{prog}", program.prog)
