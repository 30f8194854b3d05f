"""The lock file of installed plugins (`tool plugin lock`, `tool plugin install --locked FILE`):
TOML, one `[[plugin]]` table per installed plugin with its exact source and hashes.

    lock = 1

    [[plugin]]
    name = "deploy"
    kind = "git"
    source = "https://example.com/tool-deploy.git"
    pin = "3f9c4e0b2d..."                    # git: the commit
    files = { "src/tool-deploy" = "9b1f..." }  # git, file: sha256 of every file

    [[plugin]]
    name = "report"
    kind = "python"
    source = "tool-report==1.2"
    requirements = ["tool-report @ https://.../tool_report-1.2-py3-none-any.whl --hash=sha256:..."]
"""
from __future__ import annotations

import json
import re
import tomllib

from dispatch import resolve
from dispatch.errors import ToolError
from dispatch.exitcodes import ExitCode
from dispatch.install.sources import KINDS, Request

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Sequence
    from typing import Any

    from dispatch.install.manifest import Manifest
    from dispatch.install.sources import Request

VERSION = 1
_REQUIREMENT = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]* @ (https?|file)://[^\s]+ --hash=sha256:[0-9a-f]{64}")


def _string(value: str) -> str:
    # A TOML basic string: JSON's escapes are TOML's (json.dumps never writes `\/`).
    return json.dumps(value, ensure_ascii=True)


def dumps(manifests: Sequence[Manifest], *, header: str) -> str:
    """The lock file for these installed plugins."""
    lines = [f"# {line}" for line in header.splitlines()] + ["", f"lock = {VERSION}"]
    for manifest in manifests:
        source = manifest.source
        kind = source["kind"]
        lines += ["", "[[plugin]]", f"name = {_string(manifest.name)}", f"kind = {_string(kind)}",
                  f"source = {_string(str(source.get('location', '')))}"]
        if kind == "git":
            lines.append(f"pin = {_string(str(source.get('resolved', '')))}")
        if kind in ("file", "archive"):
            lines.append(f"sha256 = {_string(str(source.get('sha256', '')))}")
        if kind == "python":
            requirements = source.get("requirements")
            if not requirements:
                raise ToolError(ExitCode.FAILURE, f"{manifest.name} cannot be locked: it was installed from {source.get('location')}, "
                                   "which pip gave no hash for (a directory or a VCS URL); install it from a wheel, "
                                   "an sdist or an index")
            lines.append("requirements = [" + ", ".join(_string(r) for r in requirements) + "]")
        lines.append("commands = [" + ", ".join(_string(c) for c in sorted(manifest.commands)) + "]")
        if kind in ("git", "file"):
            lines.append("files = { " + ", ".join(f"{_string(k)} = {_string(v)}" for k, v in sorted(manifest.files.items())) + " }")
    return "\n".join(lines) + "\n"


def load(path: str) -> list[tuple[str, Request]]:
    """(name, what to fetch) for every plugin of a lock file; ToolError (2) when it is not one."""
    try:
        with open(path, "rb") as f:
            data = tomllib.loads(f.read(16 << 20).decode("utf-8"))
    except OSError as e:
        raise ToolError(ExitCode.USAGE, f"cannot read the lock file {path}: {e.strerror}") from None
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as e:
        raise ToolError(ExitCode.USAGE, f"{path} is not a lock file: {e}") from None
    if data.get("lock") != VERSION:
        raise ToolError(ExitCode.USAGE, f"{path} is not a lock file of version {VERSION} (lock = {data.get('lock')!r})")
    entries: Any = data.get("plugin", [])
    if not isinstance(entries, list):
        raise ToolError(ExitCode.USAGE, f"{path}: [[plugin]] must be a list of tables")
    found: list[tuple[str, Request]] = []
    for i, entry in enumerate(entries, 1):
        where = f"{path}, plugin {i}"
        if not isinstance(entry, dict):
            raise ToolError(ExitCode.USAGE, f"{where}: not a table")
        name, kind, source = entry.get("name"), entry.get("kind"), entry.get("source")
        if not isinstance(name, str) or resolve.name_problem(name) is not None:
            raise ToolError(ExitCode.USAGE, f"{where}: name must be a valid plugin name, got {name!r}")
        if kind not in KINDS or not isinstance(source, str) or not source:
            raise ToolError(ExitCode.USAGE, f"{where} ({name}): kind must be one of {', '.join(KINDS)} and source a string")
        request = Request(kind, source, locked=True)
        if kind == "git":
            request.pin = _hex(entry.get("pin"), 40, where, "pin")
        if kind in ("file", "archive"):
            request.sha256 = _hex(entry.get("sha256"), 64, where, "sha256")
        if kind in ("git", "file"):
            files = entry.get("files")
            if not isinstance(files, dict) or not all(isinstance(v, str) for v in files.values()):
                raise ToolError(ExitCode.USAGE, f"{where} ({name}): files must be a table of sha256 hashes")
            request.files = files
        if kind == "python":
            requirements = entry.get("requirements")
            # Exactly what `plugin lock` writes: a line of a requirements file may hold options
            # (--index-url, -e, -r) that pip would obey.
            if not isinstance(requirements, list) or not requirements or not all(
                isinstance(r, str) and _REQUIREMENT.fullmatch(r) for r in requirements
            ):
                raise ToolError(ExitCode.USAGE, f"{where} ({name}): requirements must be lines 'NAME @ URL --hash=sha256:HEX', "
                                   "as 'plugin lock' writes them")
            request.requirements = requirements
        commands = entry.get("commands")
        if commands is not None:
            if not isinstance(commands, list) or not all(isinstance(c, str) and resolve.name_problem(c) is None for c in commands):
                raise ToolError(ExitCode.USAGE, f"{where} ({name}): commands must be a list of command names")
            if len(commands) == 1:
                request.command = commands[0]
        found.append((name, request))
    return found


def _hex(value: object, length: int, where: str, key: str) -> str:
    if not isinstance(value, str) or len(value) != length or any(c not in "0123456789abcdef" for c in value):
        raise ToolError(ExitCode.USAGE, f"{where}: {key} must be {length} lowercase hex digits, got {value!r}")
    return value
