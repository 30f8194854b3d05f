"""`tool list`: every plugin on the search path, in the order it is found, with what is known of it.

It runs no plugin: a plugin's kind comes from its file (whether it declares
the protocol), versions and summaries from the metadata cache, learned when
a protocol plugin runs, or from a `# tool-summary:` comment in the file. On a
terminal the rows are cut to its width (dispatch/screen/style.py); pipes and
`--json` get every text in full. `--refresh` asks every plugin that declares the
protocol to describe itself (a `describe` request); plain plugins are never
run.
"""
from __future__ import annotations

import sys

from dispatch import lookup
from dispatch.builtins.common import parse_args
from dispatch.catalog import metadata, probe, scan
from dispatch.screen.style import Style, cells, cut, cut_path, pad
from dispatch.screen.text import visible, write_json

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping

    from dispatch.catalog.scan import PluginFile
    from dispatch.context import Invocation
    from dispatch.resolve import SearchPath


def plugins(inv: Invocation, *, refresh: bool = False) -> tuple[list[PluginFile], SearchPath]:
    """Every plugin file on the search path, with what is known of it (asking again with `refresh`)."""
    sp = lookup.search_path(inv, trace=True)
    found = scan.with_metadata(scan.scan(inv.program, sp.dirs, inv.environ), inv.program, inv.environ)
    if refresh:
        refresh_metadata(inv, found)
        found = scan.with_metadata(scan.scan(inv.program, sp.dirs, inv.environ), inv.program, inv.environ)
    return found, sp


def refresh_metadata(inv: Invocation, found: list[PluginFile]) -> None:
    """Ask every plugin that declares the protocol to describe itself (again)."""
    for p in found:
        if p.kind != "protocol" or not p.runs or p.stat is None:
            continue
        answer = probe.ask(inv.program, p.path, lambda c: c.describe(), inv.environ, answer_type="description",
                           sandbox=probe.sandbox_of(inv, p.path))
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
            mismatch = answer.mismatch
            problem = (
                metadata.RunProblem("handshake_failed", f"protocol error: {mismatch.detail}", mismatch.fix) if mismatch
                else metadata.RunProblem("handshake_failed", answer.problem or "no hello")
            )
            metadata.note(inv.environ, inv.prog, p.stat, p.path, problem=problem)


def run(inv: Invocation, args: list[str]) -> int:
    parsed = parse_args(inv, "list", args, flags=("--json", "--refresh"))
    if parsed is None:
        return 0
    given, _ = parsed
    found, sp = plugins(inv, refresh="--refresh" in given)
    sandboxes = policies(inv, found)
    if "--json" in given:
        write_json(document(found, sp, sandboxes))
        return 0
    if not found:
        inv.error(
            f"no plugins found. Put an executable named {inv.prog}-NAME in a directory "
            f"on PATH or {inv.program.var('PLUGIN_PATH')}, then run '{inv.prog} NAME'"
        )
        return 0
    text, warnings = table(found, Style.for_stdout(inv.environ), sandboxes)
    sys.stdout.write(text)
    sys.stdout.flush()
    if warnings:
        inv.error(f"{len(found)} plugin file(s), {warnings} warning(s); see '{inv.prog} doctor'")
    return 0


def policies(inv: Invocation, found: list[PluginFile]) -> dict[str, str]:
    """The sandbox policy each plugin runs under, by path (only those confined)."""
    if not inv.may_sandbox:
        return {}
    from dispatch.sandbox.policy import of_plugin

    return {p.path: policy.name for p in found if (policy := of_plugin(inv, p.path)) is not None}


def document(found: list[PluginFile], sp: SearchPath, sandboxes: Mapping[str, str] | None = None) -> dict[str, object]:
    """What `list --json` prints."""
    return {
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
                "summary_from": p.summary_from,
                "problems": [{"code": q.code, "message": q.message} for q in p.problems],
                "sandbox": (sandboxes or {}).get(p.path),
            }
            for p in found
        ],
    }


def table(found: list[PluginFile], style: Style, sandboxes: Mapping[str, str] | None = None) -> tuple[str, int]:
    """The plugins as a table fitted to the terminal (a confined one's kind says its sandbox
    policy: `plain [read-only]`), with a warning line under each problem; and how many
    warnings there are."""
    rows: list[tuple[str, ...]] = [("NAME", "KIND", "VERSION", "SUMMARY", "PATH")]
    for p in found:
        policy = (sandboxes or {}).get(p.path)
        kind = f"{p.kind_label} [{policy}]" if policy else p.kind_label
        rows.append((visible(p.name), kind, _one_line(p.version), _one_line(p.summary), visible(p.path)))
    if style.width is not None:
        rows = _fit(rows, style.width)
    widths = [max(cells(r[i]) for r in rows) for i in range(4)]
    out = []
    warnings = 0
    for i, row in enumerate(rows):
        if row[4]:
            line = "  ".join(pad(cell, widths[j]) for j, cell in enumerate(row[:4])) + "  "
            out.append(line + (style.dim(row[4]) if i else row[4]) + "\n")
        else:  # a terminal too narrow for the paths
            out.append("  ".join(pad(cell, widths[j]) for j, cell in enumerate(row[:3])) + "  " + row[3] + "\n")
        if not i:
            continue
        messages = [q.message for q in found[i - 1].problems]
        last = found[i - 1].last_problem
        if last is not None:
            messages.append(f"its last run failed: {last.text}")
        for message in messages:
            warnings += 1
            out.append(f"  {style.warning('warning:')} {visible(message)}\n")
    return "".join(out), warnings


def _one_line(text: str | None) -> str:
    """Plugin-supplied text on one line, escaped (cutting it later cannot split an escape
    sequence: there are none left, only their visible spelling)."""
    return visible(" ".join(text.split())) if text else ""


def _fit(rows: list[tuple[str, ...]], width: int) -> list[tuple[str, ...]]:
    """The rows cut to a terminal's `width`: the name to 24 columns and the version to 16, then
    the summary and the path (keeping its end) share what is left, with an ellipsis; on a
    terminal too narrow for both, the paths are left out (pipes, --json and -v have them)."""
    rows = [(cut(r[0], 24), r[1], cut(r[2], 16), *r[3:]) for r in rows]
    fixed = sum(max(cells(r[i]) for r in rows) + 2 for i in range(3)) + 2
    room = width - fixed - 1  # the last column: a row exactly as wide as the terminal wraps on some
    summary = max(cells(r[3]) for r in rows)
    path = max(cells(r[4]) for r in rows)
    if summary + path <= room:
        return rows
    if room < 28:
        return [(*r[:3], cut(r[3], max(room + 2, 8)), "") for r in rows]
    keep = min(summary, max(room // 2, room - path, 12))
    return [(*r[:3], cut(r[3], keep), cut_path(r[4], room - keep)) for r in rows]
