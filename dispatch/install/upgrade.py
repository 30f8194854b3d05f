"""`tool plugin upgrade NAME...|--all [--dry-run]`: a new version of installed plugins, in place
only once complete (dispatch/manage.py, docs/installing.md)."""
from __future__ import annotations

import json
import os
import sys

from dispatch.errors import ToolError
from dispatch.exitcodes import ExitCode
from dispatch.install import manifest as manifest_mod
from dispatch.install import run, sources
from dispatch.install.manage import check_clashes, fetcher, reinstall_command, stage, store_of, written
from dispatch.screen.text import visible, write_json

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from dispatch.context import Invocation
    from dispatch.install.manifest import Manifest
    from dispatch.install.store import Store


def upgrade(inv: Invocation, names: list[str], *, all_: bool, dry_run: bool, as_json: bool) -> int:
    store = store_of(inv)  # the writers' lock is taken for each switch only, never while fetching
    if not dry_run:
        store.lock(waiting=lambda: inv.error(f"waiting for another '{inv.prog} plugin' command to finish"))
        store.unlock()  # a writer: what interrupted ones left is cleared first, as by every writer
    results: list[dict[str, Any]] = []
    failed = 0
    manifests = store.manifests() if all_ else []
    if not all_:
        missing = [n for n in names if store.manifest(n) is None]
        if missing:
            raise ToolError(ExitCode.FAILURE, f"not installed: {', '.join(missing)} ('{inv.prog} plugin list' shows what is)")
        manifests = [m for m in (store.manifest(n) for n in names) if m is not None]
    for manifest in manifests:
        try:
            results.append(_upgrade_one(inv, store, manifest, dry_run))
        except ToolError as e:
            failed += 1
            inv.error(f"{manifest.name}: {e.message}")
            results.append({"name": manifest.name, "status": "failed", "from": manifest.version, "to": None,
                            "message": e.message})
    if as_json:
        written(inv, "upgrade", lambda: write_json({"dry_run": dry_run, "plugins": results}))
    else:
        words = {"upgraded": "upgraded", "would_upgrade": "would upgrade", "up_to_date": "up to date",
                 "pinned": "pinned", "linked": "linked (always current)", "failed": "failed"}
        text = "".join(f"{r['name']}: {words[r['status']]}"
                       + (f" {visible(str(r['from']))} -> {visible(str(r['to']))}" if r["status"] in ("upgraded", "would_upgrade") else "")
                       + "\n" for r in results)
        written(inv, "upgrade", lambda: sys.stdout.write(text))
    return ExitCode.FAILURE if failed else ExitCode.OK


def _upgrade_one(inv: Invocation, store: Store, manifest: Manifest, dry_run: bool) -> dict[str, Any]:
    source = manifest.source
    kind = source["kind"]
    result: dict[str, Any] = {"name": manifest.name, "from": manifest.version, "to": manifest.version}
    if kind == "archive" or (kind == "git" and source.get("pin")):
        return {**result, "status": "pinned"}
    location = str(source.get("location"))
    if kind == "link":
        # Its files are live; what it provides is linked at install: commands added or removed since.
        now = fetcher(inv).commands_in(store.current(manifest.name) or "", "src") if os.path.isdir(location) else {}
        if sorted(now) == sorted(manifest.commands) or len(manifest.commands) == 1 == len(now):
            return {**result, "status": "linked"}
        if dry_run:
            return {**result, "status": "would_upgrade", "to": f"commands {' '.join(sorted(now)) or '(none)'}"}
    if dry_run:
        newest = _newest(inv, store, manifest)
        if newest is None or newest == _current_id(manifest):
            return {**result, "status": "up_to_date"}
        return {**result, "status": "would_upgrade", "to": manifest_mod.short_version(kind, newest)}
    if kind in ("file", "python") and os.path.isabs(location):
        # A file (or a wheel or sdist file): unchanged, nothing to fetch again.
        if not os.path.isfile(location):
            raise ToolError(ExitCode.FAILURE, f"its source {location} is gone")
        if manifest_mod.sha256_file(location, follow=True) == source.get("sha256"):
            return {**result, "status": "up_to_date"}
    from_index = kind == "python" and not os.path.isabs(location)  # a changed file may keep its version
    if (kind == "git" or from_index) and _newest(inv, store, manifest) == _current_id(manifest):
        # The branch has not moved (git ls-remote), or pip would install the same version: no clone, no new venv.
        return {**result, "status": "up_to_date"}
    single = next(iter(manifest.commands)) if len(manifest.commands) == 1 else None
    staged = stage(inv, store, manifest.name, sources.Request(kind, location, sandbox=manifest.sandbox),
                   command=single, fixed=True)
    if kind != "link" and _current_id(staged.manifest) == _current_id(manifest):
        store.discard(staged.version)
        return {**result, "status": "up_to_date"}
    try:
        store.lock(waiting=lambda: inv.error(f"waiting for another '{inv.prog} plugin' command to finish"))
        _no_new_clash(inv, store, manifest, staged.manifest)
    except BaseException:
        store.discard(staged.version)
        store.unlock()
        raise
    try:
        store.commit(staged.manifest, staged.version)  # on failure it puts the previous state back itself
    finally:
        store.unlock()
    to = staged.manifest.version if kind != "link" else f"commands {' '.join(sorted(staged.manifest.commands))}"
    return {**result, "status": "upgraded", "to": to}


def _no_new_clash(inv: Invocation, store: Store, old: Manifest, new: Manifest) -> None:
    """An upgrade is refused what a fresh install would be: a command it adds that a builtin
    has, or that runs another file on the search path (it would shadow the user's own, or be
    shadowed); commands it had keep what was accepted at install (--force included)."""
    check_clashes(inv, store, new, force=True)  # another installed plugin's command: never
    added = {c: p for c, p in new.commands.items() if c not in old.commands}
    if not added:
        return
    try:
        check_clashes(inv, store, manifest_mod.Manifest(new.name, new.source, added, {}, "", ""), force=False)
    except ToolError as e:
        raise ToolError(ExitCode.FAILURE, f"not upgraded: its new version adds a command: {e.message.split('; use --force')[0]}; "
                        f"to accept that, install it again with --force ({reinstall_command(old, inv.prog)} --force)") from None


def _current_id(manifest: Manifest) -> str | None:
    source = manifest.source
    # A file's content, else what it resolved to (a commit, a package version from an index).
    value = source.get("sha256") or source.get("resolved")
    return str(value) if value else None


def _newest(inv: Invocation, store: Store, manifest: Manifest) -> str | None:
    """What an upgrade would install, without installing it (None: cannot tell)."""
    source = manifest.source
    kind, location = source["kind"], str(source.get("location"))
    if kind == "file":
        return manifest_mod.sha256_file(location, follow=True) if os.path.isfile(location) else None
    if kind == "git":
        out = sources.git(["ls-remote", "--", location, "HEAD"], inv.environ)
        return out.split()[0] if out.split() else None
    if kind == "python" and os.path.isabs(location):
        return manifest_mod.sha256_file(location, follow=True) if os.path.isfile(location) else None
    if kind == "python":
        return _pip_newest(inv, manifest, location)
    return None


def _pip_newest(inv: Invocation, manifest: Manifest, location: str) -> str | None:
    """What `pip install location` would install in a new venv, asked of a pip that is not the
    plugin's (its venv may hold anything the plugin's packages put there, a `.pth` that runs on
    start-up, a replaced pip): the pip bundled with the host's Python, run isolated (-I: no
    PYTHONPATH, no user site), with the environment pip gets for installs."""
    pip = sources.host_pip()
    if pip is None:
        raise ToolError(ExitCode.FAILURE, f"cannot tell what an upgrade would install: {sys.executable} has no pip of its own "
                        "(ensurepip); upgrade without --dry-run")
    code, out, err = run.run(
        [*pip, "install", "--dry-run", "--ignore-installed", "--quiet", "--disable-pip-version-check", "--no-input",
         "--report", "-", location], sources.clean_env(inv.environ), deadline=run.PIP_DEADLINE, what=f"pip install --dry-run {location}")
    if code != 0:
        raise ToolError(ExitCode.FAILURE, "pip cannot tell what an upgrade would install: "
                           + ((out + err).decode(errors="replace").strip().splitlines() or ["?"])[-1])
    try:
        report = json.loads(out)
    except ValueError:
        return None
    for item in report.get("install", []):
        if item.get("requested"):
            meta = item.get("metadata", {})
            return f"{meta.get('name')}=={meta.get('version')}"
    return _current_id(manifest)  # nothing to install: what is there is the newest
