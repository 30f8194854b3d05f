"""Builtin commands, one module each with `USAGE` and `run(inv, args) -> int`. They always win over plugins."""
from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from dispatch.context import Invocation

# name -> one-line summary; the implementation is dispatch/builtins/<name>.py.
BUILTINS = {
    "help": "show help for {prog} or for a command",
    "list": "list the plugins with their kind, version and summary",
    "version": "show the version",
    "completion": "print a shell completion script (bash, zsh, fish)",
    "doctor": "check the setup: search path, plugins, cache, config",
    "plugin": "plugin author tools: 'plugin check NAME' tests a plugin against the protocol",
}


def summary(name: str, prog: str) -> str:
    return BUILTINS[name].replace("{prog}", prog)


def run(inv: Invocation, name: str, args: list[str]) -> int:
    import importlib

    module = importlib.import_module(f"dispatch.builtins.{name}")
    status: int = module.run(inv, args)
    return status


def usage(name: str) -> str:
    import importlib

    text: str = importlib.import_module(f"dispatch.builtins.{name}").USAGE
    return text
