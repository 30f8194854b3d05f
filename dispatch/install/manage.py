"""`tool plugin install|list|upgrade|remove|lock`: installing plugins (docs/installing.md).

Every writer holds the store's lock (dispatch/installed.py) from start to end; a version
is fetched and checked in a directory of its own and made current by one rename, so a
failure, Ctrl-C or SIGKILL leaves the previous state as it was.
"""
from __future__ import annotations

import os
import re
import shlex
import sys
import time
from typing import NamedTuple

from dispatch import commands, lookup, resolve
from dispatch.error_handler import silence_stdout
from dispatch.errors import ToolError, usage_error
from dispatch.exitcodes import ExitCode
from dispatch.install import lockfile, sources
from dispatch.install import manifest as manifest_mod
from dispatch.install.sources import ARCHIVE_SUFFIX, Fetcher, project_name
from dispatch.install.store import Store
from dispatch.screen.text import visible, write_json

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Sequence
    from typing import Any

    from dispatch.context import Invocation
    from dispatch.install.manifest import Manifest
    from dispatch.install.sources import Fetched, Fetcher, Request
    from dispatch.install.store import Store

_VALUED = {"install": ("--name", "--pin", "--sha256", "--locked"), "upgrade": (), "remove": (), "list": (), "lock": ()}
# An option whose value is given with `=` only (`--sandbox` alone: read-only), as the host's --sandbox.
_OPTIONAL = {"install": {"--sandbox": "read-only"}}
_FLAGS = {
    "install": ("--allow-http", "--force", "--json", "--no-sandbox"), "upgrade": ("--all", "--dry-run", "--json"),
    "remove": ("--json",), "list": ("--json",), "lock": ("--json",),
}


def parse(inv: Invocation, command: str, args: Sequence[str]) -> tuple[dict[str, str], set[str], list[str]]:
    values: dict[str, str] = {}
    flags: set[str] = set()
    names: list[str] = []
    i = 0
    while i < len(args):
        arg = args[i]
        i += 1
        key, eq, value = arg.partition("=")
        optional = _OPTIONAL.get(command, {})
        if key in optional:
            values[key] = value if eq else optional[key]
        elif key in _VALUED[command]:
            if not eq:
                if i >= len(args):
                    raise usage_error(f"plugin {command}: {key} needs a value")
                value = args[i]
                i += 1
            values[key] = value
        elif arg in _FLAGS[command]:
            flags.add(arg)
        elif arg.startswith("-") and arg != "-":
            raise usage_error(f"plugin {command}: unknown option {arg!r}; see '{inv.prog} help plugin'")
        else:
            names.append(arg)
    return values, flags, names


def check_names(names: list[str]) -> None:
    """Names of installed plugins as given on the command line: never a path."""
    for name in names:
        problem = resolve.name_problem(name)
        if problem is not None:
            raise usage_error(f"{name!r} is not a plugin name: {problem}")


def no_names(inv: Invocation, command: str, names: list[str]) -> None:
    if names:
        raise usage_error(f"plugin {command}: unexpected argument {names[0]!r}; see '{inv.prog} help plugin'")


# -- shared ----------------------------------------------------------------------------------


def store_of(inv: Invocation) -> Store:
    return Store.of(inv.environ, inv.prog)


def fetcher(inv: Invocation) -> Fetcher:
    report = None
    if inv.options.verbosity >= 0 and os.isatty(2):
        state = {"partial": False}

        def report(line: str) -> None:
            line = line[:1] + visible(line[1:])  # a URL or path from a lock file may hold anything
            if line.startswith("\r"):
                sys.stderr.write(f"\r\033[K{inv.prog}: {line[1:]}")
                state["partial"] = True
            else:
                sys.stderr.write(("\n" if state["partial"] else "") + f"{inv.prog}: {line}\n")
                state["partial"] = False
            sys.stderr.flush()

    return Fetcher(inv.prog, inv.program.var("PROTOCOL").encode(), inv.environ, report, inv.options.verbosity > 0)


def locked_store(inv: Invocation) -> Store:
    store = store_of(inv)
    store.lock(waiting=lambda: inv.error(f"waiting for another '{inv.prog} plugin' command to finish"))
    return store


def reinstall_command(manifest: Manifest, prog: str) -> str:
    """The command that installs this plugin again from its source, as it was."""
    source = manifest.source
    words = [prog, "plugin", "install", sources.without_secret(str(source.get("location"))), "--name", manifest.name]
    if source.get("kind") == "git" and source.get("pin"):
        words += ["--pin", str(source["pin"])]
    if manifest.sandbox is not None:
        words.append(f"--sandbox={manifest.sandbox}")
    if source.get("kind") == "archive":
        words += ["--sha256", str(source.get("sha256"))]
        if str(source.get("location")).startswith("http:"):
            words.append("--allow-http")

    return " ".join(shlex.quote(w) for w in words)


def describe(manifest: Manifest, prog: str) -> dict[str, Any]:
    source = manifest.source
    return {
        "name": manifest.name, "kind": source.get("kind"), "source": sources.without_secret(str(source.get("location"))),
        "version": manifest.version, "pin": source.get("pin"), "resolved": source.get("resolved"),
        "commands": sorted(manifest.commands), "installed": manifest.installed, "sandbox": manifest.sandbox,
    }


# -- install ---------------------------------------------------------------------------------


_VERSION_SUFFIX = re.compile(r"[-_]v?\d[\w.]*$")


def guess_name(prog: str, kind: str, location: str) -> str:
    """The name a source is installed under when --name is not given."""
    if kind == "python":
        base = os.path.basename(location) if os.path.isfile(location) else location
        if base.endswith(".whl"):
            base = base.split("-", 1)[0]
        elif os.path.isfile(location):
            base = _VERSION_SUFFIX.sub("", ARCHIVE_SUFFIX.sub("", base))
        base = project_name(base)
    else:
        base = location.rstrip("/").rsplit("/", 1)[-1].rsplit(":", 1)[-1]
        base = base.removesuffix(".git")
        if kind == "archive":
            base = _VERSION_SUFFIX.sub("", ARCHIVE_SUFFIX.sub("", base.split("?", 1)[0]))
    for prefix in (prog + "-", prog + "_"):
        base = base.removeprefix(prefix)
    return base


def install(inv: Invocation, values: dict[str, str], flags: set[str], names: list[str], as_json: bool) -> int:
    force = "--force" in flags
    if "--locked" in values:
        if names or set(values) != {"--locked"} or "--no-sandbox" in flags:
            raise usage_error("plugin install --locked FILE takes no source, and no option but --force, --allow-http and --json "
                              "(the lock file gives each plugin's sandbox)")
        return install_locked(inv, values["--locked"], force=force, as_json=as_json, allow_http="--allow-http" in flags)
    name, request = _request(inv, values, flags, names)
    store = store_of(inv)
    given = values.get("--name")
    staged = stage(inv, store, name, request, command=given, fixed=given is not None)  # the long part: unlocked
    manifest, version = staged.manifest, staged.version
    try:
        store.lock(waiting=lambda: inv.error(f"waiting for another '{inv.prog} plugin' command to finish"))
        check_clashes(inv, store, manifest, force)
        old = store.manifest(manifest.name)
        if old is not None and request.sandbox is None and "--no-sandbox" not in flags and old.sandbox is not None:
            manifest.sandbox = old.sandbox  # installed again, it stays confined as it was (--no-sandbox frees it)
        if old is not None and not force and (old.source.get("kind"), old.source.get("location")) != (request.kind, request.location):
            raise ToolError(ExitCode.FAILURE, f"{manifest.name} is installed from {old.source.get('location')} "
                               f"({old.source.get('kind')}); use --force to replace it with {request.location}, or "
                               f"--name to install this one beside it")
    except BaseException:
        store.discard(version)
        store.unlock()
        raise
    try:
        store.commit(manifest, version)  # on failure it puts the previous state back itself
    finally:
        store.unlock()
    if as_json:
        return written(inv, manifest.name, lambda: write_json(
            {"installed": [describe(manifest, inv.prog)], "replaced": describe(old, inv.prog) if old else None}))
    replaced = f" (replacing {visible(old.version)})" if old is not None else ""
    replaced += f", sandboxed {manifest.sandbox}" if manifest.sandbox is not None else ""
    line = (f"installed {manifest.name} {visible(manifest.version)} from {visible(request.location)} ({request.kind}){replaced}: "
            + ", ".join(f"{inv.prog} {c}" for c in sorted(manifest.commands)))
    line += "".join(f", with its completion sidecar {inv.prog}_complete-{c}" for c in sorted(manifest.completers))
    line += "".join(f" ({visible(note)})" for note in staged.notes)
    return written(inv, manifest.name, lambda: sys.stdout.write(line + "\n"))


def _request(inv: Invocation, values: dict[str, str], flags: set[str], names: list[str]) -> tuple[str, Request]:
    """The plugin's name and what to fetch, from the command line; usage errors (2) for what cannot be."""
    if len(names) != 1:
        raise usage_error(f"plugin install: give one SOURCE; see '{inv.prog} help plugin'")
    pin, sha256 = values.get("--pin"), values.get("--sha256")
    if sha256 is not None and not re.fullmatch(r"[0-9a-fA-F]{64}", sha256):
        raise usage_error(f"--sha256 must be 64 hex digits, got {sha256!r}")
    kind, location = sources.classify(names[0], pin=pin, sha256=sha256)
    if sha256 and kind not in ("file", "archive") and not (kind == "python" and os.path.isfile(location)):
        raise usage_error(f"--sha256 is for a file, an archive or a wheel file; {names[0]} is a {kind} "
                          "source" + (", pinned by --pin" if kind == "git" else ""))
    if pin is not None and (not pin or pin.startswith("-") or any(c.isspace() or c in "\0~^:?*[\\" for c in pin)):
        raise usage_error(f"--pin must be a tag, branch or commit, got {pin!r}")
    if pin and kind != "git":
        raise usage_error(f"--pin is for git sources; {names[0]} is a {kind} source"
                          + (" (pin a Python package with ==: name==1.2)" if kind == "python" else ""))
    sandbox = values.get("--sandbox")
    if sandbox is not None:
        if "--no-sandbox" in flags:
            raise usage_error("plugin install: --sandbox and --no-sandbox contradict each other; give one")
        from dispatch.sandbox.policy import parse as parse_policy

        sandbox = parse_policy(sandbox).name
    name = values.get("--name") or guess_name(inv.prog, kind, location)
    problem = resolve.name_problem(name) or ("it is longer than 100 characters" if len(name) > 100 else None)
    if problem is not None:
        raise usage_error(f"cannot install {names[0]} as {name!r}: {problem}; choose a name with --name")
    return name, sources.Request(kind, location, pin=pin, sha256=sha256, allow_http="--allow-http" in flags, sandbox=sandbox)


def written(inv: Invocation, what: str, write: Callable[[], object]) -> int:
    """0 once a report of what was done is written; when stdout cannot take it (a full disk),
    1 with a line saying the change itself was made."""
    try:
        write()
        sys.stdout.flush()
    except OSError as e:
        silence_stdout()
        raise ToolError(ExitCode.FAILURE, f"{what}: done, but its report cannot be written to stdout: {e.strerror or e}; "
                        f"'{inv.prog} plugin list' shows what is installed") from None
    return 0


class Staged(NamedTuple):
    manifest: Manifest
    version: str
    notes: list[str]


def stage(
    inv: Invocation, store: Store, name: str, request: Request, *, command: str | None = None, fixed: bool = False
) -> Staged:
    """Fetch into a new version directory of `name` and describe it, without the writers' lock;
    the directory is removed when anything fails (Ctrl-C, SIGTERM included). `command`: what to
    call the source's one command (--name, or what it was called before an upgrade); `fixed`:
    keep `name` even when the source's one command is called otherwise."""

    version = store.new_version(name)
    try:
        fetched = fetcher(inv).fetch(request, version)
        commands, completers = _commands(inv, request, fetched, command)
        if request.kind in ("git", "archive"):
            # A pinned source must not run, or be checked as, something outside what was pinned.
            outside = manifest_mod.escaping_links(version)
            if outside:
                raise ToolError(ExitCode.FAILURE, f"unsafe source {request.location}: the link {outside[0].partition('/')[2]} leads outside it; "
                                   "nothing was installed")
        files = manifest_mod.hash_tree(version)
        if request.files is not None and files != request.files:
            changed = sorted(k for k in set(files) | set(request.files) if files.get(k) != request.files.get(k))
            raise ToolError(ExitCode.FAILURE, f"hash mismatch for {name} from {request.location}: {', '.join(changed[:3])}"
                               f"{' ...' if len(changed) > 3 else ''} {'differs' if len(changed) == 1 else 'differ'} from the lock file; "
                               "nothing was installed")
        if request.kind != "python" and not fixed and len(commands) == 1 and next(iter(commands)) != name:
            # One command: the plugin is known by it (a repository tool-deploy-plugin giving tool-deploy is "deploy").
            name = next(iter(commands))
            version = store.move(version, name)
        manifest = manifest_mod.Manifest(name, fetched.source, commands, files,
                                      time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), f"{inv.prog} {inv.program.version}")
        manifest.completers = completers
        manifest.sandbox = request.sandbox
    except OSError as e:
        store.discard(version)
        where = f" ({e.filename})" if isinstance(e.filename, str) else ""
        raise ToolError(ExitCode.FAILURE, f"cannot install {name} into {store.root}: {e.strerror or e}{where}; "
                        "nothing was installed") from None
    except BaseException:
        store.discard(version)
        raise
    return Staged(manifest, version, fetched.notes)


def _commands(inv: Invocation, request: Request, fetched: Fetched, command: str | None) -> tuple[dict[str, str], dict[str, str]]:
    """The commands a source provides and their completion sidecars, named as asked."""
    commands = fetched.commands
    if not commands or "" in commands:
        if "" in commands and command is not None:
            commands = {command: commands[""]}
        else:
            raise ToolError(ExitCode.FAILURE, f"{request.location} has no executable named {inv.prog}-NAME"
                            + (" (give the command's name with --name)" if "" in commands else "")
                            + "; nothing was installed")
    completers = fetched.completers
    if command is not None and len(commands) == 1:
        old_command, path = next(iter(commands.items()))
        commands = {command: path}
        completers = {command: completers[old_command]} if old_command in completers else {}
    return commands, completers


def check_clashes(inv: Invocation, store: Store, manifest: Manifest, force: bool) -> None:
    prog = inv.prog
    managed = os.path.normpath(store.bin)
    dirs = [d for d in lookup.search_path(inv).dirs if d != managed]
    order = lookup.search_path(inv).dirs
    for command in sorted(manifest.commands):
        problem = resolve.name_problem(command) or ("it is longer than 100 characters" if len(command) > 100 else None)
        if problem is not None:
            raise ToolError(ExitCode.FAILURE, f"cannot install the command {command!r}: {problem}")
        owner = store.owner(command)
        if owner is not None and owner != manifest.name:
            raise ToolError(ExitCode.FAILURE, f"'{prog} {command}' is already provided by the installed plugin {owner}; "
                               f"remove it first ({prog} plugin remove {owner})")
        if force:
            continue
        if commands.is_builtin(command, inv.program):
            raise ToolError(ExitCode.FAILURE, f"'{prog} {command}' is a builtin command of {prog}: an installed {prog}-{command} would "
                               "never run; rename it (--name), or use --force to install it anyway")
        for d in dirs:
            path = os.path.join(d, f"{prog}-{command}")
            if os.path.isfile(path) and os.access(path, os.X_OK):
                first = managed in order and order.index(managed) < order.index(d)
                raise ToolError(ExitCode.FAILURE, f"'{prog} {command}' already runs {path}; the installed one would "
                                   + ("shadow it" if first else "be shadowed by it")
                                   + "; use --force to install it anyway, or --name to choose another name")


def install_locked(inv: Invocation, path: str, *, force: bool, as_json: bool, allow_http: bool) -> int:
    entries = lockfile.load(path)
    for _, request in entries:
        request.allow_http = allow_http
    store = store_of(inv)
    # Already as locked (a cached CI runner): nothing fetched, nothing written; decided from the
    # manifest and the files hashed again, so a changed file is installed afresh.
    unchanged = [m for name, request in entries if (m := _as_locked(store, name, request, path)) is not None]
    kept = {m.name for m in unchanged}
    entries = [(name, request) for name, request in entries if name not in kept]
    staged: list[Staged] = []
    try:
        for name, request in entries:  # fetched and verified, all of them, without the writers' lock
            staged.append(stage(inv, store, name, request, command=request.command, fixed=True))
        _one_provider(path, [*unchanged, *(s.manifest for s in staged)])
        if not staged:
            return _report_locked(inv, path, staged, unchanged, as_json)
        store.lock(waiting=lambda: inv.error(f"waiting for another '{inv.prog} plugin' command to finish"))
        for s in staged:
            check_clashes(inv, store, s.manifest, force)
    except BaseException:
        for s in staged:
            store.discard(s.version)
        store.unlock()
        raise
    try:
        for i, s in enumerate(staged):  # now in place, one by one
            try:
                store.commit(s.manifest, s.version)
            except BaseException:
                for later in staged[i + 1 :]:
                    store.discard(later.version)
                raise
    finally:
        store.unlock()
    return _report_locked(inv, path, staged, unchanged, as_json)


def _as_locked(store: Store, name: str, request: Request, path: str) -> Manifest | None:
    """The installed plugin `name` when it is exactly as the lock entry says, files included."""
    manifest = store.manifest(name)
    if manifest is None or not lockfile.as_locked(manifest, request, path) or store.verify(manifest):
        return None
    return manifest


def _report_locked(inv: Invocation, path: str, staged: list[Staged], unchanged: list[Manifest], as_json: bool) -> int:
    if as_json:
        return written(inv, path, lambda: write_json({"installed": [describe(s.manifest, inv.prog) for s in staged],
                                                      "unchanged": [describe(m, inv.prog) for m in unchanged]}))
    text = "".join(f"installed {s.manifest.name} {visible(s.manifest.version)} ({s.manifest.source['kind']}, as locked)\n"
                   for s in staged)
    text += "".join(f"{m.name} {visible(m.version)}: already as locked\n" for m in unchanged)
    return written(inv, path, lambda: sys.stdout.write(text))


def _one_provider(path: str, manifests: list[Manifest]) -> None:
    """Each command from one entry of a lock file: two would share its link in bin/ (removing
    one would break the other), which no install allows, even with --force."""
    seen: dict[str, str] = {}
    for manifest in manifests:
        for command in sorted(manifest.commands):
            if command in seen:
                raise ToolError(ExitCode.FAILURE, f"{path}: the plugins {seen[command]} and {manifest.name} both provide "
                                f"the command {command!r}; keep one of them in the lock file; nothing was installed")
            seen[command] = manifest.name


# -- list, remove, lock ----------------------------------------------------------------------


def list_installed(inv: Invocation, as_json: bool) -> int:
    store = store_of(inv)
    manifests = store.manifests()
    if as_json:
        write_json({"data_dir": store.root, "bin_dir": store.bin, "plugins": [describe(m, inv.prog) for m in manifests]})
        return 0
    if not manifests:
        inv.error(f"no plugins installed; install one with '{inv.prog} plugin install SOURCE'")
        return 0
    rows = [("NAME", "KIND", "VERSION", "COMMANDS", "SOURCE")]
    for m in manifests:
        kind = str(m.source.get("kind")) + (f" [{visible(m.sandbox)}]" if m.sandbox is not None else "")
        rows.append((m.name, kind, visible(m.version), " ".join(sorted(m.commands)),
                     visible(sources.without_secret(str(m.source.get("location"))))))
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    sys.stdout.write("".join("  ".join(f"{c:<{widths[j]}}" for j, c in enumerate(r[:4])) + "  " + r[4] + "\n" for r in rows))
    return 0


def remove(inv: Invocation, names: list[str], as_json: bool) -> int:
    store = locked_store(inv)
    removed = []
    try:
        missing = [n for n in names if store.current(n) is None]
        if missing:
            raise ToolError(ExitCode.FAILURE, f"not installed: {', '.join(missing)} ('{inv.prog} plugin list' shows what is)")
        for name in names:
            manifest = store.remove(name)
            if manifest is not None:
                removed.append(manifest)
    finally:
        store.unlock()
    if as_json:
        return written(inv, ", ".join(names), lambda: write_json({"removed": [describe(m, inv.prog) for m in removed]}))
    text = "".join(f"removed {m.name} " + ", ".join(f"({inv.prog} {c})" for c in sorted(m.commands)) + "\n" for m in removed)
    return written(inv, ", ".join(names), lambda: sys.stdout.write(text))


def lock(inv: Invocation, as_json: bool) -> int:
    manifests = store_of(inv).manifests()
    text = lockfile.dumps(manifests, header=(
        f"Installed {inv.prog} plugins, written by '{inv.prog} plugin lock' ({inv.prog} {inv.program.version}).\n"
        f"Install exactly these elsewhere with: {inv.prog} plugin install --locked FILE"
    ))
    if as_json:
        import tomllib

        write_json(tomllib.loads(text))
    else:
        sys.stdout.write(text)
    return 0
