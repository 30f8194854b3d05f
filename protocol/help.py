"""Help text from a `description` message: one rendering for the SDK's --help and `tool help NAME`."""
from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping
    from typing import Any


def render(description: Mapping[str, Any], command: str) -> str:
    """`command` is how the user types it, e.g. "tool deploy"."""
    lines = [f"usage: {description.get('usage') or command + ' [args...]'}"]
    if description.get("summary"):
        lines += ["", str(description["summary"])]
    if description.get("description"):
        lines += ["", str(description["description"]).rstrip()]
    subcommands = description.get("subcommands") or []
    if subcommands:
        lines += ["", "Commands:"]
        width = max(len(str(s.get("name", ""))) for s in subcommands)
        for sub in subcommands:
            lines.append(f"  {sub.get('name', '')!s:<{width}}  {sub.get('summary', '')}".rstrip())
    flags = description.get("flags") or []
    if flags:
        lines += ["", "Options:"]
        shown = []
        for flag in flags:
            names = ", ".join(n for n in (flag.get("short"), flag.get("name")) if n)
            if flag.get("takes_value"):
                names += " " + ("{" + ",".join(flag["choices"]) + "}" if flag.get("choices") else str(flag.get("metavar") or "VALUE"))
            shown.append((names, str(flag.get("summary", ""))))
        width = max(len(n) for n, _ in shown)
        for names, summary in shown:
            lines.append(f"  {names:<{width}}  {summary}".rstrip())
    return "\n".join(lines) + "\n"
