"""`tool list`: every plugin on the search path, in the order it is found, with what is known of it.

It runs no plugin: a plugin's kind comes from its file (whether it declares
the protocol), versions and summaries from the metadata cache, learned when
a protocol plugin runs. `--refresh` asks every plugin that declares the
protocol to describe itself (a `describe` request); plain plugins are never
run.
"""
from __future__ import annotations

import os
import sys

from dispatch.render import visible

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping

    from dispatch.catalog import PluginFile
    from dispatch.cli import Dispatcher
    from dispatch.resolve import SearchPath

USAGE = "list [--json] [--refresh]"


def plugins(dispatcher: Dispatcher, env: Mapping[str, str], *, refresh: bool = False) -> tuple[list[PluginFile], SearchPath]:
    from dispatch import catalog

    sp = dispatcher.search_path(env)
    found = catalog.with_metadata(catalog.scan(dispatcher, sp.dirs, env), env, dispatcher.prog, dispatcher.env_prefix)
    if refresh:
        refresh_metadata(dispatcher, found, env)
        found = catalog.with_metadata(catalog.scan(dispatcher, sp.dirs, env), env, dispatcher.prog, dispatcher.env_prefix)
    return found, sp


def refresh_metadata(dispatcher: Dispatcher, found: list[PluginFile], env: Mapping[str, str]) -> None:
    """Ask every plugin that declares the protocol to describe itself (again)."""
    from dispatch import metadata, probe

    for p in found:
        if p.kind != "protocol" or not p.runs or p.stat is None:
            continue
        describe = {"type": "describe", "host": {"name": dispatcher.prog, "version": dispatcher.version}}
        answer = probe.ask(p.path, describe, env, env_prefix=dispatcher.env_prefix, answer_type="description")
        if answer.hello is not None and answer.hello.get("protocol") is not None:
            description = None
            if answer.answer is not None and answer.answer.get("type") == "description":
                description = {k: v for k, v in answer.answer.items() if k != "type"}
            metadata.note(
                env, dispatcher.prog, p.stat, p.path,
                protocol=answer.hello["protocol"],
                plugin=answer.hello.get("plugin"),
                description=description,
                problem=None,
            )
        else:
            metadata.note(env, dispatcher.prog, p.stat, p.path, problem=answer.problem or "no protocol version in common")


def run(dispatcher: Dispatcher, args: list[str]) -> int:
    from dispatch.builtins import common

    parsed = common.parse_args(dispatcher, "list", args, USAGE, flags=("--json", "--refresh"))
    if parsed is None:
        return 0
    given, _ = parsed
    found, sp = plugins(dispatcher, os.environ, refresh="--refresh" in given)
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
        dispatcher.error(
            f"no plugins found. Put an executable named {dispatcher.prog}-NAME in a directory "
            f"on PATH or {dispatcher.plugin_path_var()}, then run '{dispatcher.prog} NAME'"
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
            for problem in found[i - 1].problems:
                warnings += 1
                out.append(f"  warning: {visible(problem.message)}\n")
    sys.stdout.write("".join(out))
    sys.stdout.flush()
    if warnings:
        dispatcher.error(f"{len(found)} plugin file(s), {warnings} warning(s); see '{dispatcher.prog} doctor'")
    return 0


def _short(text: str, width: int) -> str:
    """Plugin-supplied text on one line, escaped, cut to `width` (the cut cannot split an escape
    sequence: there are none left, only their visible spelling)."""
    text = visible(" ".join(text.split()))
    return text if len(text) <= width else text[: width - 1] + "\u2026"
