"""`tool list`: every plugin on the search path, in the order it is found, with what is known of it.

It runs no plugin: a plugin's kind comes from its file (whether it declares
the protocol), versions and summaries from the metadata cache, learned when
a protocol plugin runs. `--refresh` asks every plugin that declares the
protocol to describe itself (a `describe` request); plain plugins are never
run.
"""
from __future__ import annotations

import sys

from dispatch.text import visible

TYPE_CHECKING = False
if TYPE_CHECKING:
    from dispatch.catalog import PluginFile
    from dispatch.context import Invocation
    from dispatch.resolve import SearchPath

USAGE = "list [--json] [--refresh]"


def plugins(inv: Invocation, *, refresh: bool = False) -> tuple[list[PluginFile], SearchPath]:
    """Every plugin file on the search path, with what is known of it (asking again with `refresh`)."""
    from dispatch import catalog, lookup

    sp = lookup.search_path(inv, trace=True)
    found = catalog.with_metadata(catalog.scan(inv.program, sp.dirs, inv.environ), inv.program, inv.environ)
    if refresh:
        refresh_metadata(inv, found)
        found = catalog.with_metadata(catalog.scan(inv.program, sp.dirs, inv.environ), inv.program, inv.environ)
    return found, sp


def refresh_metadata(inv: Invocation, found: list[PluginFile]) -> None:
    """Ask every plugin that declares the protocol to describe itself (again)."""
    from dispatch import metadata, probe

    for p in found:
        if p.kind != "protocol" or not p.runs or p.stat is None:
            continue
        answer = probe.ask(inv.program, p.path, lambda c: c.describe(), inv.environ, answer_type="description")
        if answer.hello is not None and answer.mismatch is None:
            description = None
            if answer.answer is not None and answer.answer.get("type") == "description":
                description = {k: v for k, v in answer.answer.items() if k != "type"}
            metadata.note(
                inv.environ, inv.prog, p.stat, p.path,
                protocol=answer.hello["protocol"],
                plugin=answer.hello.get("plugin"),
                description=description,
                problem=None,
            )
        else:
            metadata.note(inv.environ, inv.prog, p.stat, p.path, problem=answer.mismatch or answer.problem or "no hello")


def run(inv: Invocation, args: list[str]) -> int:
    from dispatch.builtins import common

    parsed = common.parse_args(inv, "list", args, USAGE, flags=("--json", "--refresh"))
    if parsed is None:
        return 0
    given, _ = parsed
    found, sp = plugins(inv, refresh="--refresh" in given)
    if "--json" in given:
        common.write_json(
            {
                "search_path": sp.dirs,
                "skipped": [{"source": v, "entry": e, "reason": r} for v, e, r in sp.skipped],
                "plugins": [
                    {
                        "name": p.name,
                        "path": p.path,
                        "executable": p.executable,
                        "runs": p.runs,
                        "kind": p.kind,
                        "protocol": p.protocol,
                        "version": p.version,
                        "summary": p.summary,
                        "problems": [{"code": q.code, "message": q.message} for q in p.problems],
                    }
                    for p in found
                ],
            }
        )
        return 0
    if not found:
        inv.error(
            f"no plugins found. Put an executable named {inv.prog}-NAME in a directory "
            f"on PATH or {inv.program.var('PLUGIN_PATH')}, then run '{inv.prog} NAME'"
        )
        return 0
    rows = [("NAME", "KIND", "VERSION", "SUMMARY", "PATH")]
    for p in found:
        rows.append((p.name, p.kind_label, _short(p.version or "", 16), _short(p.summary or "", 48), visible(p.path)))
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    out = []
    warnings = 0
    for i, row in enumerate(rows):
        out.append("  ".join(f"{cell:<{widths[j]}}" for j, cell in enumerate(row[:4])) + "  " + row[4] + "\n")
        if i:
            messages = [q.message for q in found[i - 1].problems]
            if found[i - 1].handshake_problem:
                messages.append(f"its last run failed: {found[i - 1].handshake_problem}")
            for message in messages:
                warnings += 1
                out.append(f"  warning: {visible(message)}\n")
    sys.stdout.write("".join(out))
    sys.stdout.flush()
    if warnings:
        inv.error(f"{len(found)} plugin file(s), {warnings} warning(s); see '{inv.prog} doctor'")
    return 0


def _short(text: str, width: int) -> str:
    """Plugin-supplied text on one line, escaped, cut to `width` (the cut cannot split an escape
    sequence: there are none left, only their visible spelling)."""
    if not text:
        return text
    text = visible(" ".join(text.split()))
    return text if len(text) <= width else text[: width - 1] + "\u2026"
