"""`tool plugin upgrade NAME...|--all [--dry-run]`: a new version of installed plugins, in place
only once complete (dispatch/manage.py, docs/installing.md)."""
from __future__ import annotations

import json
import os
import subprocess
import sys

from dispatch.errors import ToolError
from dispatch.exitcodes import ExitCode
from dispatch.install import manifest as manifest_mod
from dispatch.install import sources
from dispatch.install.manage import check_clashes, fetcher, locked_store, stage, store_of
from dispatch.screen.text import write_json

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from dispatch.context import Invocation
    from dispatch.install.manifest import Manifest
    from dispatch.install.store import Store


def upgrade(inv: Invocation, names: list[str], *, all_: bool, dry_run: bool, as_json: bool) -> int:
    store = locked_store(inv) if not dry_run else store_of(inv)
    results: list[dict[str, Any]] = []
    failed = 0
    try:
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
    finally:
        store.unlock()
    if as_json:
        write_json({"dry_run": dry_run, "plugins": results})
    else:
        words = {"upgraded": "upgraded", "would_upgrade": "would upgrade", "up_to_date": "up to date",
                 "pinned": "pinned", "linked": "linked (always current)", "failed": "failed"}
        for r in results:
            change = f" {r['from']} -> {r['to']}" if r["status"] in ("upgraded", "would_upgrade") else ""
            sys.stdout.write(f"{r['name']}: {words[r['status']]}{change}\n")
    return 1 if failed else 0


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
        if manifest_mod.sha256_file(location) == source.get("sha256"):
            return {**result, "status": "up_to_date"}
    from_index = kind == "python" and not os.path.isabs(location)  # a changed file may keep its version
    if (kind == "git" or from_index) and _newest(inv, store, manifest) == _current_id(manifest):
        # The branch has not moved (git ls-remote), or pip would install the same version
        # (pip install --dry-run in the plugin's venv): no clone, no new venv.
        return {**result, "status": "up_to_date"}
    request = sources.Request(kind, location)
    single = next(iter(manifest.commands)) if len(manifest.commands) == 1 else None
    staged, version = stage(inv, store, manifest.name, request, command=single, fixed=True)
    if kind != "link" and _current_id(staged) == _current_id(manifest):
        store.discard(version)
        return {**result, "status": "up_to_date"}
    try:
        check_clashes(inv, store, staged, force=True)
    except BaseException:
        store.discard(version)
        raise
    store.commit(staged, version)  # on failure it puts the previous state back itself
    to = staged.version if kind != "link" else f"commands {' '.join(sorted(staged.commands))}"
    return {**result, "status": "upgraded", "to": to}


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
        return manifest_mod.sha256_file(location) if os.path.isfile(location) else None
    if kind == "git":
        out = sources.git(["ls-remote", "--", location, "HEAD"], inv.environ)
        return out.split()[0] if out.split() else None
    if kind == "python" and os.path.isabs(location):
        return manifest_mod.sha256_file(location) if os.path.isfile(location) else None
    if kind == "python":
        version = store.current(manifest.name)
        assert version is not None
        python = os.path.join(version, "venv", "bin", "python")
        proc = subprocess.run(
            [python, "-m", "pip", "install", "--dry-run", "--upgrade", "--quiet", "--disable-pip-version-check",
             "--no-input", "--report", "-", location],
            stdin=subprocess.DEVNULL, capture_output=True, env=dict(inv.environ),
        )
        if proc.returncode != 0:
            raise ToolError(ExitCode.FAILURE, "pip cannot tell what an upgrade would install: "
                               + (proc.stderr.decode(errors="replace").strip().splitlines() or ["?"])[-1])
        try:
            report = json.loads(proc.stdout)
        except ValueError:
            return None
        for item in report.get("install", []):
            if item.get("requested"):
                meta = item.get("metadata", {})
                return f"{meta.get('name')}=={meta.get('version')}"
        return _current_id(manifest)  # nothing to install: what is there is the newest
    return None
