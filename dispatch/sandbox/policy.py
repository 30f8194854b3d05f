"""The sandbox policies, by name, and how they combine: `read-only` (read the system, the
plugin's own files and the working directory; write only a private TMPDIR; no network) and
`workdir` (the same, and write inside the working directory); `,net` allows the network.

Where a plugin's policy comes from (`of_plugin`): the run's (`--sandbox`, `TOOL_SANDBOX`:
`Options.sandbox`), the config's (the plugin's entry in [sandbox.plugins], else the table's
`default`), and what it was installed with. The narrowest wins: the result allows only what
every source allows, so no source, and nothing the plugin says about itself, can widen another.
"""
from __future__ import annotations

from dispatch.context import Frozen
from dispatch.errors import usage_error

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterable
    from typing import Final

    from dispatch.context import Grant, Invocation

READ_ONLY: Final = "read-only"
WORKDIR: Final = "workdir"
NET: Final = ",net"
NAMES: Final = (READ_ONLY, WORKDIR, READ_ONLY + NET, WORKDIR + NET)


class Policy(Frozen):
    """A policy: whether it writes the working directory (`workdir`), whether it has the network."""

    __slots__ = ("workdir", "net")
    workdir: bool
    net: bool

    def __init__(self, *, workdir: bool, net: bool) -> None:
        self._freeze(workdir=workdir, net=net)

    @property
    def name(self) -> str:
        return (WORKDIR if self.workdir else READ_ONLY) + (NET if self.net else "")

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Policy) and (self.workdir, self.net) == (other.workdir, other.net)

    def __hash__(self) -> int:
        return hash((self.workdir, self.net))

    def __repr__(self) -> str:
        return f"Policy({self.name!r})"


def parse(text: str, where: str = "--sandbox") -> Policy:
    """The policy a name gives (`read-only`, `workdir`, either with `,net`); a usage error (2)
    naming `where` it came from otherwise."""
    base, comma, suffix = text.strip().partition(",")
    if base in (READ_ONLY, WORKDIR) and (not comma or suffix == "net"):
        return Policy(workdir=base == WORKDIR, net=bool(comma))
    raise usage_error(f"{where}: unknown sandbox policy {text!r}; the policies are {', '.join(NAMES)}")


def narrowest(policies: Iterable[Policy]) -> Policy | None:
    """What every one of `policies` allows (None when there are none: not confined)."""
    found = list(policies)
    if not found:
        return None
    return Policy(workdir=all(p.workdir for p in found), net=all(p.net for p in found))


def plugin_name(prog: str, path: str) -> str:
    """The name a plugin file is known by in the config's [sandbox.plugins] (`tool-foo_bar` is
    `foo-bar`: the words the user types; its completion sidecar `tool_complete-foo_bar` too)."""
    base = path.rpartition("/")[2]
    for prefix in (prog + "-", prog + "_complete-"):
        if base.startswith(prefix):
            return base[len(prefix) :].replace("_", "-")
    return base


def of_plugin(inv: Invocation, path: str, installed: str | None = None) -> Policy | None:
    """The policy the plugin file at `path` runs under, from all its sources: the run's
    (`Options.sandbox`), the config's entry for it, and `installed`, the policy recorded
    when it was installed (None: none recorded). None: it runs unconfined."""
    names = [inv.options.sandbox, grant(inv, path).policy, installed]
    return narrowest(parse(n, "the sandbox policy") for n in names if n)


def grant(inv: Invocation, path: str) -> Grant:
    """What the config gives the plugin at `path`: its policy (its own entry's, else the
    default) and its extra paths, with the paths the config gives every sandboxed plugin."""
    from dispatch.context import Grant

    table = inv.config.sandbox if inv.config is not None else {}
    every, own = table.get(""), table.get(plugin_name(inv.prog, path))
    found = [g for g in (every, own) if g is not None]
    return Grant(
        own.policy if own is not None and own.policy is not None else every.policy if every is not None else None,
        tuple(p for g in found for p in g.read),
        tuple(p for g in found for p in g.write),
    )
