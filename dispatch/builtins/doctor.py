"""`tool doctor`: check the whole setup and say what to fix.

It reads directories, file metadata, `#!` lines, the caches and the config;
it runs no plugin. It exits 1 when something needs attention, 0 otherwise.
"""
from __future__ import annotations

import os
import stat
import sys

from dispatch import commands, config, dirs, lookup, shebang
from dispatch.builtins.common import parse_args
from dispatch.catalog import scan
from dispatch.errors import ToolError
from dispatch.exitcodes import ExitCode
from dispatch.install.manage import reinstall_command
from dispatch.install.store import Store
from dispatch.screen.text import visible, write_json

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping
    from typing import Literal

    from dispatch.catalog.metadata import RunProblem
    from dispatch.catalog.scan import PluginFile
    from dispatch.context import Invocation, Program

    Severity = Literal["error", "warning"]


class Finding:
    __slots__ = ("severity", "code", "message", "fix", "path")

    def __init__(self, severity: Severity, code: str, message: str, fix: str, path: str | None = None) -> None:
        self.severity = severity
        self.code = code
        self.message = message
        self.fix = fix
        self.path = path

    def to_json(self) -> dict[str, object]:
        return {"severity": self.severity, "code": self.code, "message": self.message, "fix": self.fix, "path": self.path}


def check(inv: Invocation) -> tuple[list[Finding], int, list[str]]:
    """Everything that needs attention, the number of plugin files, the search path."""
    findings = _config_findings(inv)
    sp = lookup.search_path(inv)
    for var, entry, reason in sp.skipped:
        if var == "installed":
            findings.append(_untrusted_store_finding(inv, reason))
        elif reason != "duplicate":
            findings.append(
                Finding("warning", "path_entry_skipped", f"{var} entry {entry!r} is skipped: {reason}",
                        f"use an absolute directory in {var}, or remove the entry")
            )
    findings += _directory_findings(inv.program, sp.dirs)
    findings += _installed_findings(inv)
    invalid: list[tuple[str, str]] = []
    found = scan.with_metadata(scan.scan(inv.program, sp.dirs, inv.environ, invalid), inv.program, inv.environ)
    for p in found:
        findings += _plugin_findings(inv, p)
    for path, why in invalid:
        findings.append(Finding("warning", "invalid_name", f"{path}: never run: {why}",
                                f"rename it {inv.prog}-NAME, NAME of letters, digits, '.', '_' and '-' "
                                "(first a letter or a digit), if it is meant to be a plugin", path))
    findings += _cache_findings(inv.environ, inv.prog)
    findings += _sandbox_findings(inv)
    return findings, len(found), sp.dirs


def _installed_policies(inv: Invocation) -> list[str]:
    """The sandbox policies installed plugins were installed with."""
    if dirs.data_dir(inv.environ, inv.prog) is None:
        return []
    from dispatch.sandbox.policy import NAMES  # an unknown one is reported with its plugin (installed_changed)

    return [m.sandbox for m in Store.of(inv.environ, inv.prog).manifests() if m.sandbox in NAMES]


def _sandbox_findings(inv: Invocation) -> list[Finding]:
    """Whether this machine can enforce each sandbox policy in use (tried on a throwaway thread)."""
    installed = _installed_policies(inv)
    if not inv.may_sandbox and not installed:
        return []
    from dispatch.sandbox import confine

    found = []
    for policy in confine.in_use(inv, installed):
        problem = confine.trial(policy)
        if problem is not None:
            found.append(Finding(
                "error", "sandbox_unenforceable", f"the sandbox policy {policy.name} cannot be enforced: {problem}",
                "run sandboxed plugins on Linux 6.2+ with Landlock (or macOS); until then they do not run (126)",
            ))
    return found


def sandbox_summary(inv: Invocation) -> dict[str, object] | None:
    """The sandbox policies in use and what enforces them (None: none in use)."""
    installed = _installed_policies(inv)
    if not inv.may_sandbox and not installed:
        return None
    from dispatch.sandbox import confine

    names = [p.name for p in confine.in_use(inv, installed)]
    return {"policies": names, "enforced_by": confine.mechanism()} if names else None


def _config_findings(inv: Invocation) -> list[Finding]:
    """The config first: a broken one changes everything else."""
    findings: list[Finding] = []
    program = inv.program
    try:
        cfg = config.of(inv.environ, program.prog, program.var("CONFIG"))
    except ToolError as e:  # naming file, line and key
        return [Finding("error", "bad_config", e.message, "fix the file, or move it away")]
    if cfg is None:
        return findings
    for name in cfg.aliases:
        if commands.is_builtin(name, program):
            findings.append(
                Finding("warning", "alias_hides_builtin", f"alias {name!r} has the name of a builtin and is never used",
                        f"rename it in {cfg.path}", cfg.path)
            )
            continue
        plugin = lookup.find(inv, [name])
        if plugin is not None:  # plugins come before aliases, as in git and cargo
            findings.append(
                Finding("warning", "alias_hidden_by_plugin",
                        f"alias {name!r} is never used: '{program.prog} {name}' runs the plugin {plugin.path}",
                        f"rename the alias in {cfg.path}, or the plugin, if you meant the alias", cfg.path)
            )
    for loop in commands.alias_loops(commands.aliases(cfg, program)):
        findings.append(Finding("error", "alias_loop", f"alias loop: {' -> '.join(loop)}", f"fix [alias] in {cfg.path}", cfg.path))
    return findings


_FIXES = {
    "shadowed": "remove or rename one of them ('{prog} list' shows the order)",
    "not_executable": "chmod +x the file, or remove it",
    "broken_link": "point the link at an existing file, or remove it",
    "not_a_file": "remove it: only regular files can be plugins",
    "builtin_name": "rename it: {prog} runs its builtin instead",
    "takes_over": "rename one of them, or change the order of the search path, if that is not what you want",
}
_WARNINGS = frozenset({"shadowed", "takes_over"})


def _plugin_findings(inv: Invocation, p: PluginFile) -> list[Finding]:
    """What is wrong with one plugin file: its problems on the search path, who can change it,
    its #! line, and how its last run went."""
    prog = inv.prog
    findings = []
    managed = dirs.installed_bin(inv.environ, prog)
    for problem in p.problems:
        if problem.code == "broken_link" and p.dir == managed:
            continue  # an installed plugin's link: installed_changed says what is missing and how to fix it
        severity: Severity = "warning" if problem.code in _WARNINGS else "error"
        fix = _FIXES[problem.code].replace("{prog}", prog)
        findings.append(Finding(severity, problem.code, f"{p.path}: {problem.message}", fix, p.path))
    if p.stat is not None:
        findings += _file_findings(p.path, p.stat, prog)
    if p.executable:
        missing = shebang.missing_interpreter(p.path, inv.environ.get("PATH"))
        if missing is not None:
            findings.append(
                Finding("error", "bad_interpreter", f"{p.path}: its #! line names {missing!r}, which is not installed",
                        "install it, or fix the first line of the file", p.path)
            )
    if p.last_problem is not None and p.kind == "protocol":
        findings.append(_run_finding(inv, p, p.last_problem))
    return findings


def _run_finding(inv: Invocation, p: PluginFile, problem: RunProblem) -> Finding:
    """How the last run of a plugin that declares the protocol went wrong, and the fix."""
    prog, var = inv.prog, inv.program.var("PROTOCOL")
    if problem.code == "did_not_greet":
        fix = (f"make it send a hello first thing when {var} is set, or remove the text {var} from the file; "
               f"'{prog} plugin check {p.name}' shows more")
        return Finding("error", "did_not_greet", f"{p.path}: {problem.message}", fix, p.path)
    fix = problem.fix or f"run '{prog} plugin check {p.name}' to see what is wrong"
    return Finding("error", "handshake_failed", f"{p.path}: its last run failed: {problem.message}", fix, p.path)


def _others_can_write(st: os.stat_result, *, parent: bool = False) -> str | None:
    """Who besides the owner can change this directory's entries, or None ("anyone", "group N").
    A sticky bit (/tmp) protects a `parent`: others cannot rename or remove what they do not
    own. It does not protect a search directory: anyone may still add a new `tool-ls` to it."""
    if parent and st.st_mode & stat.S_ISVTX:
        return None
    if st.st_mode & stat.S_IWOTH:
        return "anyone"
    if st.st_mode & stat.S_IWGRP:
        return f"the members of group {st.st_gid}"
    return None


def _foreign(st: os.stat_result) -> bool:
    """Owned by someone other than root and this user."""
    return st.st_uid not in (0, os.getuid())


def _directory_findings(program: Program, dirs: list[str]) -> list[Finding]:
    """Who can add a command: whoever can write to a search directory or replace one of its parents."""
    prog = program.prog
    findings = []
    seen: set[tuple[int, int]] = set()
    parents_seen: set[str] = set()
    for d in dirs:
        try:
            st = os.stat(d)
        except OSError:
            continue
        if not stat.S_ISDIR(st.st_mode) or (st.st_dev, st.st_ino) in seen:
            continue
        seen.add((st.st_dev, st.st_ino))
        who = _others_can_write(st)
        if who is not None or _foreign(st):
            who = who or f"its owner (uid {st.st_uid})"
            findings.append(Finding(
                "error" if who == "anyone" else "warning", "world_writable_dir" if who == "anyone" else "writable_dir",
                f"{d} is on the search path and {who} can write to it: they could add a {prog}-* command",
                f"chmod {'o' if who == 'anyone' else 'go'}-w {d} (or take it off PATH and {program.var('PLUGIN_PATH')})", d))
        parent = os.path.dirname(os.path.realpath(d))
        while parent not in parents_seen:
            parents_seen.add(parent)
            try:
                pst = os.stat(parent)
            except OSError:
                break
            who = _others_can_write(pst, parent=True)
            if who is not None or _foreign(pst):
                who = who or f"its owner (uid {pst.st_uid})"
                findings.append(Finding(
                    "error" if who == "anyone" else "warning", "writable_parent",
                    f"{parent}, a parent of the search directory {d}, can be changed by {who}: they could "
                    f"replace {d} and add {prog}-* commands",
                    f"chmod go-w {parent}, or move {d} somewhere only you can change", parent))
            if parent == os.path.dirname(parent):
                break
            parent = os.path.dirname(parent)
    return findings


def _file_findings(path: str, st: os.stat_result, prog: str) -> list[Finding]:
    """A plugin file someone else can change runs their code as whoever runs the command."""
    if st.st_mode & stat.S_IWOTH:
        return [Finding("error", "writable_plugin", f"{path}: anyone can change this plugin",
                        f"chmod o-w {path}", path)]
    if st.st_mode & stat.S_IWGRP:
        return [Finding("warning", "writable_plugin", f"{path}: the members of group {st.st_gid} can change this plugin",
                        f"chmod g-w {os.path.realpath(path)} (or make sure you trust them)", path)]
    if _foreign(st):
        return [Finding("warning", "writable_plugin", f"{path}: its owner (uid {st.st_uid}) can change this plugin",
                        f"make sure you trust uid {st.st_uid}, or copy {os.path.realpath(path)} to a file of your own", path)]
    return []


def _cache_findings(env: Mapping[str, str], prog: str) -> list[Finding]:
    """Whether the cache directory can be used: it must be ours alone (design section 6)."""
    root = dirs.cache_dir(env, prog)
    if root is None:
        return [Finding("warning", "cache_unusable", "no cache directory: HOME and XDG_CACHE_HOME are unset or relative",
                        "set HOME (or XDG_CACHE_HOME) to an absolute directory; meanwhile nothing is remembered")]
    try:
        st = os.lstat(root)
    except FileNotFoundError:
        return []  # made on first use
    except OSError as e:
        return [Finding("warning", "cache_unusable", f"the cache {root} cannot be used: {e.strerror}",
                        "fix its permissions; meanwhile nothing is remembered", root)]
    why = dirs.distrust(st)
    if why is not None:
        return [Finding("warning", "cache_untrusted", f"the cache {root} is not used: {why}",
                        f"remove it (rm -r {root}) and let {prog} make its own, private one; meanwhile nothing is remembered", root)]
    if not os.access(root, os.W_OK | os.X_OK):
        return [Finding("warning", "cache_unusable", f"the cache cannot be written: {root} is not writable",
                        "fix its permissions; meanwhile nothing is remembered", root)]
    return []


def _installed_findings(inv: Invocation) -> list[Finding]:
    """Installed plugins whose files differ from their manifest, and what interrupted installs left."""
    prog = inv.prog
    store = Store.of(inv.environ, prog) if dirs.data_dir(inv.environ, prog) else None
    if store is None or not os.path.isdir(store.plugins):
        return []
    findings = []
    for name in store.names():
        if store.manifest(name) is None:
            findings.append(Finding(
                "error", "installed_broken", f"the installed plugin {name} has no manifest that can be read",
                f"remove it ({prog} plugin remove {name}) and install it again", store.current(name),
            ))
    for manifest in store.manifests():
        problems = store.verify(manifest)
        if problems:
            findings.append(Finding(
                "error", "installed_changed",
                f"the installed plugin {manifest.name} is not as installed: {'; '.join(problems[:5])}"
                + (f" (and {len(problems) - 5} more)" if len(problems) > 5 else ""),
                f"reinstall it ({reinstall_command(manifest, prog)}), or remove it ({prog} plugin remove {manifest.name})",
                store.current(manifest.name),
            ))
    for _name, path in store.leftovers():
        findings.append(_leftover_finding(store, path, prog))
    return findings


def _leftover_finding(store: Store, path: str, prog: str) -> Finding:
    if store.kept(path):
        return Finding("warning", "installed_foreign", f"{path} was not made by {prog}: it is never run, and never removed",
                       f"move it out of {os.path.dirname(path)}, which {prog} keeps for what it installs", path)
    return Finding("warning", "installed_leftover", f"{path} was left by an interrupted install, upgrade or removal",
                   f"the next '{prog} plugin install', 'upgrade' or 'remove' removes it; or remove it yourself", path)


def _untrusted_store_finding(inv: Invocation, reason: str) -> Finding:
    """The installed plugins' directory is not searched (the one trust rule): why, and the fix."""
    prog = inv.prog
    _, untrusted = dirs.trusted_installed_bin(inv.environ, prog)
    path, why = untrusted if untrusted is not None else (dirs.data_dir(inv.environ, prog) or "", reason)
    if "owned by someone else" in why:
        fix = (f"if you run {prog} as another user (sudo -E, su without -), keep your own HOME (sudo -H, su -) or "
               f"set XDG_DATA_HOME to a directory of yours; if it is yours, take it back (chown -R {os.getuid()} {path})")
    elif "write" in why:
        fix = f"chmod -R go-w {path} (and check nothing was added to it)"
    else:
        fix = f"remove {path} ({prog} plugin install makes a real, private directory), then install your plugins again"
    return Finding("error", "installed_untrusted", f"{reason}: its plugins do not run", fix, path)


def run(inv: Invocation, args: list[str]) -> int:
    parsed = parse_args(inv, "doctor", args)
    if parsed is None:
        return 0
    findings, count, dirs = check(inv)
    sandbox = sandbox_summary(inv)
    if "--json" in parsed[0]:
        write_json({"ok": not findings, "plugins": count, "search_path": dirs, "findings": [f.to_json() for f in findings],
                    "sandbox": sandbox})
        return ExitCode.FAILURE if findings else ExitCode.OK
    out = []
    if sandbox is not None:
        out.append(f"sandbox policies in use: {', '.join(sandbox['policies'])}; enforced by {sandbox['enforced_by']}\n")  # type: ignore[arg-type]
    for f in findings:
        out.append(f"{f.severity}: {visible(f.message)}\n  fix: {visible(f.fix)}\n")
    summary = f"{count} plugin file(s) in {len(dirs)} director{'y' if len(dirs) == 1 else 'ies'}"
    if findings:
        out.append(f"{len(findings)} problem(s) found; {summary}\n")
    else:
        out.append(f"no problems found; {summary}\n")
    sys.stdout.write("".join(out))
    return ExitCode.FAILURE if findings else ExitCode.OK
