"""`tool list`: every plugin on the search path, in the order it is found, with what is known of it.

It never runs a plugin it has not already seen speak the protocol: kinds,
versions and summaries come from the metadata cache. `--refresh` asks the
known protocol plugins again (a `describe` request); plain and unknown
plugins are never probed.
"""
from __future__ import annotations

import os
import sys

TYPE_CHECKING = False
if TYPE_CHECKING:
    from dispatch.catalog import PluginFile
    from dispatch.cli import Dispatcher

USAGE = "list [--json] [--refresh]"


def plugins(dispatcher: Dispatcher, env: os._Environ[str] | dict[str, str], *, refresh: bool = False) -> tuple[list[PluginFile], object]:
    from dispatch import catalog, metadata

    sp = dispatcher.search_path(env)
    found = catalog.scan(dispatcher, sp.dirs, env)
    meta_file = metadata.metadata_path(env, dispatcher.prog)
    known = metadata.load_metadata(meta_file)
    if refresh:
        refresh_metadata(dispatcher, catalog.with_metadata(found, known), env, meta_file)
        known = metadata.load_metadata(meta_file)
    return catalog.with_metadata(found, known), sp


def refresh_metadata(dispatcher: Dispatcher, found: list[PluginFile], env: object, meta_file: str | None) -> None:
    """Ask every plugin known to speak the protocol to describe itself again."""
    from dispatch import metadata, probe

    for p in found:
        if p.kind != "protocol" or not p.executable:
            continue
        describe = {"type": "describe", "host": {"name": dispatcher.prog, "version": dispatcher.version}}
        answer = probe.ask(p.path, describe, env, env_prefix=dispatcher.env_prefix, answer_type="description")  # type: ignore[arg-type]
        try:
            st = os.stat(p.path)
        except OSError:
            continue
        if answer.hello is not None and answer.hello.get("protocol") is not None:
            description = None
            if answer.answer is not None and answer.answer.get("type") == "description":
                description = {k: v for k, v in answer.answer.items() if k != "type"}
            metadata.note(
                meta_file, st, p.path,
                kind=f"protocol:{answer.hello['protocol']}",
                plugin=answer.hello.get("plugin"),
                description=description,
                problem=None,
            )
        else:
            metadata.note(meta_file, st, p.path, problem=answer.problem or "no protocol version in common")


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
                "search_path": sp.dirs,  # type: ignore[attr-defined]
                "skipped": [{"source": v, "entry": e, "reason": r} for v, e, r in sp.skipped],  # type: ignore[attr-defined]
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
        rows.append((p.name, p.kind_label, p.version or "", _short(p.summary or "", 48), p.path))
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    out = []
    warnings = 0
    for i, row in enumerate(rows):
        out.append("  ".join(f"{cell:<{widths[j]}}" for j, cell in enumerate(row[:4])) + "  " + row[4] + "\n")
        if i:
            for problem in found[i - 1].problems:
                warnings += 1
                out.append(f"  warning: {problem.message}\n")
    sys.stdout.write("".join(out))
    sys.stdout.flush()
    if warnings:
        dispatcher.error(f"{len(found)} plugin file(s), {warnings} warning(s); see '{dispatcher.prog} doctor'")
    return 0


def _short(text: str, width: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 1] + "\u2026"
