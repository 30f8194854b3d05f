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
import os
import re
import stat

from dispatch import resolve, tomlread
from dispatch.errors import ToolError
from dispatch.exitcodes import ExitCode
from dispatch.install.sources import KINDS, Request, refuse_secret, without_secret

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Sequence
    from typing import Any

    from dispatch.install.manifest import Manifest
    from dispatch.install.sources import Request

VERSION = 1
_MAX_SIZE = 16 << 20
_REQUIREMENT = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]* @ (https?|file)://[^\s]+ --hash=sha256:[0-9a-f]{64}")


def _string(value: str, what: str) -> str:
    """A TOML basic string: JSON's escapes are TOML's (json.dumps never writes `\\/`). Text
    that is not UTF-8 (a file name's undecodable bytes) has no TOML form: refused."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ToolError(ExitCode.FAILURE, f"{what} cannot be locked: {value.encode('utf-8', 'surrogateescape')!r} is not UTF-8 "
                        "text, which a lock file (TOML) cannot hold; install it from a path or name that is") from None
    return json.dumps(value, ensure_ascii=True)


def dumps(manifests: Sequence[Manifest], *, header: str) -> str:
    """The lock file for these installed plugins."""
    lines = [f"# {line}" for line in header.splitlines()] + ["", f"lock = {VERSION}"]
    for manifest in manifests:
        lines += ["", *_entry(manifest)]
    return "\n".join(lines) + "\n"


def _entry(manifest: Manifest) -> list[str]:
    source = manifest.source
    kind = source["kind"]
    name = manifest.name

    def q(value: str) -> str:
        return _string(value, name)

    lines = ["[[plugin]]", f"name = {q(name)}", f"kind = {q(kind)}", f"source = {q(without_secret(str(source.get('location', ''))))}"]
    if kind == "git":
        lines.append(f"pin = {q(str(source.get('resolved', '')))}")
    if kind in ("file", "archive"):
        lines.append(f"sha256 = {q(str(source.get('sha256', '')))}")
    if kind == "python":
        requirements = source.get("requirements")
        if not requirements:
            raise ToolError(ExitCode.FAILURE, f"{name} cannot be locked: it was installed from {without_secret(str(source.get('location')))}, "
                               "which pip gave no hash for (a directory or a VCS URL); install it from a wheel, "
                               "or from an index that has wheels")
        built = [r for r in requirements if not is_wheel(r)]
        if built:
            raise ToolError(ExitCode.FAILURE, f"{name} cannot be locked: {built[0].split(' --hash', 1)[0]} is a source "
                            f"distribution, and {_NO_BUILD}; build a wheel of it (pip wheel --no-deps) and install "
                            f"{name} from that, or from an index that has wheels")
        lines.append("requirements = [" + ", ".join(q(_without_secret(r)) for r in requirements) + "]")
    lines.append("commands = [" + ", ".join(q(c) for c in sorted(manifest.commands)) + "]")
    if manifest.sandbox is not None:
        lines.append(f"sandbox = {q(manifest.sandbox)}")
    if kind in ("git", "file"):
        lines.append("files = { " + ", ".join(f"{q(k)} = {q(v)}" for k, v in sorted(manifest.files.items())) + " }")
    return lines


def load(path: str) -> list[tuple[str, Request]]:
    """(name, what to fetch) for every plugin of a lock file; ToolError (2) when it is not one."""
    data = _read(path)
    if data.get("lock") != VERSION:
        raise ToolError(ExitCode.USAGE, f"{path} is not a lock file of version {VERSION} (lock = {data.get('lock')!r})")
    entries: Any = data.get("plugin", [])
    if not isinstance(entries, list):
        raise ToolError(ExitCode.USAGE, f"{path}: [[plugin]] must be a list of tables")
    found: list[tuple[str, Request]] = []
    for i, entry in enumerate(entries, 1):
        name, request = _request(entry, f"{path}, plugin {i}", path)
        if any(name == other for other, _ in found):
            raise ToolError(ExitCode.USAGE, f"{path}, plugin {i}: the plugin {name} is listed twice; keep one entry")
        found.append((name, request))
    return found


def as_locked(manifest: Manifest, request: Request, path: str) -> bool:
    """Whether the installed `manifest` is what the lock entry `request` (of the lock file at
    `path`) installs: the same source, pins, hashes, commands and sandbox. (Its files being
    as hashed is the store's to check: Store.verify.)"""
    try:
        entry = tomlread.loads("\n".join(_entry(manifest)))["plugin"][0]
        _, mine = _request(entry, "", path)
    except (ToolError, tomlread.TomlError):
        return False  # what cannot be locked is not as any lock
    same = ("kind", "location", "pin", "sha256", "requirements", "files", "sandbox")
    return all(getattr(mine, key) == getattr(request, key) for key in same) and (
        request.commands is None or sorted(request.commands) == sorted(mine.commands or ())
    )


def _request(entry: object, where: str, path: str) -> tuple[str, Request]:
    """One [[plugin]] entry of the lock file at `path`: its name and what to fetch."""
    if not isinstance(entry, dict):
        raise ToolError(ExitCode.USAGE, f"{where}: not a table")
    name, kind, source = entry.get("name"), entry.get("kind"), entry.get("source")
    if not isinstance(name, str) or resolve.name_problem(name) is not None:
        raise ToolError(ExitCode.USAGE, f"{where}: name must be a valid plugin name, got {name!r}")
    if kind not in KINDS or not isinstance(source, str) or not source:
        raise ToolError(ExitCode.USAGE, f"{where} ({name}): kind must be one of {', '.join(KINDS)} and source a string")
    try:
        refuse_secret(source)
    except ToolError as e:
        raise ToolError(ExitCode.USAGE, f"{where} ({name}): {e.message}") from None
    request = Request(kind, _anchored(path, kind, source), locked=True)
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
        request.requirements = _requirements(entry.get("requirements"), where, name)
    commands = entry.get("commands")
    if commands is not None:
        if not isinstance(commands, list) or not all(isinstance(c, str) and resolve.name_problem(c) is None for c in commands):
            raise ToolError(ExitCode.USAGE, f"{where} ({name}): commands must be a list of command names")
        request.commands = commands
        if len(commands) == 1:
            request.command = commands[0]
    sandbox = entry.get("sandbox")
    if sandbox is not None:
        from dispatch.sandbox.policy import parse as parse_policy

        request.sandbox = parse_policy(str(sandbox) if isinstance(sandbox, str) else repr(sandbox), f"{where} ({name}): sandbox").name
    return name, request


def _requirements(requirements: object, where: str, name: str) -> list[str]:
    # Exactly what `plugin lock` writes: a line of a requirements file may hold options
    # (--index-url, -e, -r) that pip would obey.
    if not isinstance(requirements, list) or not requirements or not all(
        isinstance(r, str) and _REQUIREMENT.fullmatch(r) for r in requirements
    ):
        raise ToolError(ExitCode.USAGE, f"{where} ({name}): requirements must be lines 'NAME @ URL --hash=sha256:HEX', "
                           "as 'plugin lock' writes them")
    built = [r for r in requirements if not is_wheel(r)]
    if built:
        raise ToolError(ExitCode.USAGE, f"{where} ({name}): {built[0].split(' --hash', 1)[0]} is a source distribution: "
                        f"{_NO_BUILD}; lock a wheel of it instead (pip wheel --no-deps), nothing was installed")
    return requirements


# Why a locked install takes wheels only (docs/installing.md, "What runs when you install").
_NO_BUILD = ("a locked install builds nothing, since a build runs the package's code with build dependencies "
             "(setuptools ...) fetched unpinned from the index")


def _without_secret(requirement: str) -> str:
    name, at, rest = requirement.partition(" @ ")
    url, space, tail = rest.partition(" ")
    return name + at + without_secret(url) + space + tail if at else requirement


def is_wheel(requirement: str) -> bool:
    """Whether a locked requirement line `NAME @ URL --hash=...` names a wheel (installed as it is, no build)."""
    url = requirement.split(" @ ", 1)[-1].split(" ", 1)[0]
    return url.split("#", 1)[0].split("?", 1)[0].lower().endswith(".whl")


def _read(path: str) -> dict[str, Any]:
    """The lock file's TOML: a regular file (a FIFO or a device is refused, never waited on), at
    most 16 MiB, nested at most tomlread.MAX_DEPTH levels."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError as e:
        raise ToolError(ExitCode.USAGE, f"cannot read the lock file {path}: {e.strerror}") from None
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise ToolError(ExitCode.USAGE, f"{path} is not a lock file: not a regular file")
        chunks: list[bytes] = []
        size = 0
        while size <= _MAX_SIZE and (chunk := os.read(fd, 1 << 20)):
            chunks.append(chunk)
            size += len(chunk)
    except OSError as e:
        raise ToolError(ExitCode.USAGE, f"cannot read the lock file {path}: {e.strerror}") from None
    finally:
        os.close(fd)
    if size > _MAX_SIZE:
        raise ToolError(ExitCode.USAGE, f"{path} is not a lock file: larger than {_MAX_SIZE >> 20} MiB")
    try:
        return tomlread.loads(b"".join(chunks).decode("utf-8"))
    except (UnicodeDecodeError, tomlread.TomlError) as e:
        raise ToolError(ExitCode.USAGE, f"{path} is not a lock file: {e}") from None


def _anchored(path: str, kind: str, source: str) -> str:
    """A local source of a lock file, relative to the lock file's directory (where it was
    checked in), never to the current directory or a version directory."""
    local = kind in ("file", "link") or (kind in ("git", "archive") and "://" not in source
                                         and not (":" in source.split("/", 1)[0] and kind == "git"))
    if not local or os.path.isabs(source):
        return source
    return os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(path)), source))


def _hex(value: object, length: int, where: str, key: str) -> str:
    if not isinstance(value, str) or len(value) != length or any(c not in "0123456789abcdef" for c in value):
        raise ToolError(ExitCode.USAGE, f"{where}: {key} must be {length} lowercase hex digits, got {value!r}")
    return value
