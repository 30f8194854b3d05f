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

from dispatch import commands, dirs, lookup
from dispatch.builtins.common import parse_args
from dispatch.catalog import metadata, scan
from dispatch.screen import pager
from dispatch.screen.style import Style, cells, cut, cut_path, pad, paragraph
from dispatch.screen.text import visible, write_json

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    from dispatch.catalog.scan import PluginFile
    from dispatch.context import Invocation
    from dispatch.resolve import SearchPath


def plugins(
    inv: Invocation, *, refresh: bool = False, invalid: list[tuple[str, str]] | None = None,
) -> tuple[list[PluginFile], SearchPath]:
    """Every plugin file on the search path, with what is known of it (asking again with
    `refresh`); into `invalid`, the files whose names cannot be commands (scan.scan)."""
    sp = lookup.search_path(inv, trace=True)
    found = scan.with_metadata(scan.scan(inv.program, sp.dirs, inv.environ, invalid), inv.program, inv.environ)
    if refresh:
        refresh_metadata(inv, found)
        found = scan.with_metadata(scan.scan(inv.program, sp.dirs, inv.environ), inv.program, inv.environ)
    return found, sp


def refresh_metadata(inv: Invocation, found: list[PluginFile]) -> None:
    """Ask every plugin that declares the protocol to describe itself (again)."""
    from dispatch.catalog import probe  # for --refresh only: it brings the protocol's client
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
    invalid: list[tuple[str, str]] = []
    found, sp = plugins(inv, refresh="--refresh" in given, invalid=invalid)
    sandboxes = policies(inv, found)
    aliases = alias_rows(inv, found)
    if "--json" in given:
        write_json(document(found, sp, sandboxes, aliases, invalid))
        return 0
    if not found and not aliases and not invalid:
        inv.error(
            f"no plugins found. Put an executable named {inv.prog}-NAME in a directory "
            f"on PATH or {inv.program.var('PLUGIN_PATH')}, then run '{inv.prog} NAME'"
        )
        return 0
    text, warnings = table(found, Style.for_stdout(inv.environ), sandboxes, aliases, invalid)
    pager.show(inv, text)
    if warnings:
        inv.error(f"{len(found) + len(invalid)} plugin file(s), {warnings} warning(s); see '{inv.prog} doctor'")
    return 0


class Alias:
    """One alias of the config, as `list` shows it: what it expands to, and the plugin that
    hides it (plugins come before aliases), if one does."""

    __slots__ = ("name", "words", "config", "hidden_by")

    def __init__(self, name: str, words: list[str], config: str, hidden_by: str | None) -> None:
        self.name, self.words, self.config, self.hidden_by = name, words, config, hidden_by


def alias_rows(inv: Invocation, found: list[PluginFile]) -> list[Alias]:
    if inv.config is None:
        return []
    runs = {p.name: p.path for p in found if p.runs}
    return [Alias(name, words, inv.config.path, runs.get(name))
            for name, words in sorted(commands.aliases(inv.config, inv.program).items())]


def policies(inv: Invocation, found: list[PluginFile]) -> dict[str, str]:
    """The sandbox policy each plugin runs under, by path (only those confined)."""
    from dispatch.errors import ToolError

    found_policies = {}
    # Only the run's or the config's policy, or an installed plugin's own, can apply: the others
    # are not even looked at (2,000 plugins on PATH cost nothing here).
    installed = dirs.installed_bin(inv.environ, inv.prog)
    for p in found if inv.may_sandbox else [p for p in found if p.dir == installed]:
        try:
            if not inv.may_confine(p.path):
                continue
            from dispatch.sandbox.policy import of_plugin

            policy = of_plugin(inv, p.path)
        except ToolError:
            found_policies[p.path] = "unusable"  # it does not run (126); a run or doctor says why
            continue
        if policy is not None:
            found_policies[p.path] = policy.name
    return found_policies


def document(
    found: list[PluginFile], sp: SearchPath, sandboxes: Mapping[str, str] | None = None,
    aliases: Sequence[Alias] = (), invalid: Sequence[tuple[str, str]] = (),
) -> dict[str, object]:
    """What `list --json` prints."""
    return {
        "aliases": [{"name": a.name, "expands_to": a.words, "config": a.config, "hidden_by": a.hidden_by} for a in aliases],
        "invalid": [{"path": path, "reason": why} for path, why in invalid],
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


# The columns, in order: header, and the widest they are padded to (a longer cell is cut on a
# terminal; in a pipe it is written whole, and only its own row is pushed). 0: no limit.
_COLUMNS = (("NAME", 24), ("KIND", 22), ("VERSION", 16), ("SUMMARY", 48), ("PATH", 0))
_NAME, _KIND, _VERSION, _SUMMARY, _PATH = range(5)
_GAP = "  "


def table(
    found: list[PluginFile], style: Style, sandboxes: Mapping[str, str] | None = None,
    aliases: Sequence[Alias] = (), invalid: Sequence[tuple[str, str]] = (),
) -> tuple[str, int]:
    """The plugins, then the config's aliases, as a table (fitted to a terminal of any width
    from 40 columns, using the whole width when it has more; a confined one's kind says its
    sandbox policy: `plain [read-only]`), with a warning line under each problem, and one for
    each file whose name cannot be a command; and how many warnings there are."""
    rows: list[list[str]] = [[header for header, _ in _COLUMNS]]
    problems: list[list[str]] = [[]]
    for p in found:
        policy = (sandboxes or {}).get(p.path)
        kind = f"{p.kind_label} [{policy}]" if policy else p.kind_label
        rows.append([visible(p.name), kind, _one_line(p.version), _one_line(p.summary), visible(p.path)])
        last = [f"its last run failed: {p.last_problem.text}"] if p.last_problem is not None else []
        problems.append([q.message for q in p.problems] + last)
    for a in aliases:
        rows.append([visible(a.name), "alias", "", _one_line(commands.alias_summary(a.words)), visible(a.config)])
        problems.append([f"never used: the plugin {a.hidden_by} has its name (plugins come before aliases)"]
                        if a.hidden_by else [])
    widths = _widths(rows, style.width)
    shown = [(i, w) for i, w in enumerate(widths) if w is not None]
    out = []
    warnings = 0
    for row, messages in zip(rows, problems):
        out.append(_line(row, shown, style, header=row is rows[0]) + "\n")
        warnings += len(messages)
        out += [_warning(message, style, "  ") for message in messages]
    warnings += len(invalid)
    out += [_warning(f"{path}: never run: {why}", style, "") for path, why in invalid]
    return "".join(out), warnings


def _warning(message: str, style: Style, indent: str) -> str:
    lines = paragraph(f"warning: {visible(message)}", style.width - len(indent) if style.width else None).splitlines()
    lines[0] = style.warning("warning:") + lines[0][len("warning:"):]
    return "".join(f"{indent}{line}\n" for line in lines)


# How a terminal too narrow for every column is met, step by step until the rows fit: a column
# cut down to a width (never below its header's), or left out (None). The path keeps its end.
_NARROWER = ((_PATH, 24), (_SUMMARY, 24), (_PATH, 16), (_VERSION, None), (_SUMMARY, 16), (_PATH, None),
             (_NAME, 10), (_SUMMARY, 10), (_KIND, None), (_SUMMARY, 1))


def _widths(rows: list[list[str]], width: int | None) -> list[int | None]:
    """Each column's width (None: not shown), for a terminal `width` columns wide (None: a
    pipe, where every text is whole and a long one pushes only its own row). NAME, KIND and
    SUMMARY fit 40 columns; wider terminals get the version and the path, and use all their
    width."""
    natural = [max(cells(r[i]) for r in rows) for i in range(len(_COLUMNS))]
    shown: list[int | None] = [min(n, cap) if cap else n for n, (_, cap) in zip(natural, _COLUMNS)]
    if width is None:
        return shown
    room = width - 1  # a row exactly as wide as the terminal wraps on some
    for column, floor in _NARROWER:
        used = [w for w in shown if w is not None]
        over = sum(used) + len(_GAP) * (len(used) - 1) - room
        current = shown[column]
        if over <= 0:
            break
        if current is None:
            continue
        shown[column] = None if floor is None else max(min(current, max(floor, cells(_COLUMNS[column][0]))), current - over)
    return shown


def _line(row: list[str], shown: list[tuple[int, int]], style: Style, *, header: bool) -> str:
    """One row: the `shown` columns (index, width), cut on a terminal, padded but the last."""
    cells_out = []
    fit = style.width is not None
    for n, (i, width) in enumerate(shown, 1):
        text = row[i]
        if fit:
            text = cut_path(text, width) if i == _PATH else cut(text, width)
        if n == len(shown):
            cells_out.append(style.dim(text) if i == _PATH and not header else text)
        else:  # the common text (ASCII, printable) padded in C; the rest by its display width
            cells_out.append(text.ljust(width) if text.isascii() and text.isprintable() else pad(text, width))
    return _GAP.join(cells_out).rstrip()


def _one_line(text: str | None) -> str:
    """Plugin-supplied text on one line, escaped (cutting it later cannot split an escape
    sequence: there are none left, only their visible spelling)."""
    return visible(" ".join(text.split())) if text else ""
