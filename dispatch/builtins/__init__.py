"""The library's builtin commands and the hidden `__complete`: which code runs each (an
explicit table, so that every import is one the layout checks can see). Their names, usages
and summaries are dispatch/commands.py's; the program's own builtins win over these."""
from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Protocol

    from dispatch.context import Invocation

    class Command(Protocol):
        def run(self, inv: Invocation, args: list[str]) -> int: ...


def _command(name: str) -> Command:
    """The module of the library's builtin `name` (imported only when it runs)."""
    if name == "help":
        from dispatch.builtins import help

        return help
    if name == "list":
        from dispatch.builtins import list as list_

        return list_
    if name == "version":
        from dispatch.builtins import version

        return version
    if name == "completion":
        from dispatch.builtins import completion

        return completion
    if name == "doctor":
        from dispatch.builtins import doctor

        return doctor
    if name == "plugin":
        from dispatch.builtins import plugin

        return plugin
    if name == "__complete":
        from dispatch.builtins import complete

        return complete
    raise LookupError(f"no builtin {name!r}")


def run(inv: Invocation, name: str, args: list[str]) -> int:
    """Run a builtin: the program's own (which wins), else the library's."""
    own = inv.program.builtins.get(name)
    if own is not None:
        return int(own.run(inv, args))
    return _command(name).run(inv, args)
