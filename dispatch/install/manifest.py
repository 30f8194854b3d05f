"""What one installed version of a plugin is (its manifest: source, commands, the sha256 of
every file), and the hashing of installed files (dispatch/installed.py keeps the versions)."""
from __future__ import annotations

import hashlib
import json
import os
import stat

from dispatch import resolve
from dispatch.catalog import cache
from dispatch.dirs import SANDBOX_RECORD
from dispatch.errors import ToolError
from dispatch.exitcodes import ExitCode

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

MANIFEST = "manifest.json"
MANIFEST_CAP = 16 << 20


class Manifest:
    """What one installed version is: its source, the commands it provides (command name ->
    path inside the version directory), and the sha256 of every file installed."""

    __slots__ = ("name", "source", "commands", "files", "installed", "by", "completers", "sandbox")
    name: str
    source: dict[str, Any]  # kind, location, pin, resolved, sha256, requirements
    commands: dict[str, str]
    completers: dict[str, str]  # command -> its completion sidecar `<prog>_complete-NAME`
    files: dict[str, str]
    installed: str
    by: str
    sandbox: str | None  # the policy every run of it is confined by (`plugin install --sandbox`), or None

    def __init__(
        self, name: str, source: dict[str, Any], commands: dict[str, str], files: dict[str, str], installed: str, by: str
    ) -> None:
        self.name, self.source, self.commands, self.files, self.installed, self.by = (
            name, source, commands, files, installed, by
        )
        self.completers: dict[str, str] = {}
        self.sandbox: str | None = None

    def to_json(self) -> dict[str, Any]:
        found = {
            "manifest": 1, "name": self.name, "source": self.source, "commands": self.commands, "files": self.files,
            "installed": self.installed, "by": self.by, "completers": self.completers,
        }
        if self.sandbox is not None:
            found["sandbox"] = self.sandbox
        return found

    def links(self, prog: str) -> dict[str, str]:
        """The links in bin/ (file name -> path inside the version directory)."""
        found = {f"{prog}-{command}": path for command, path in self.commands.items()}
        found.update((f"{prog}_complete-{command}", path) for command, path in self.completers.items())
        return found

    @classmethod
    def from_json(cls, data: object) -> Manifest | None:
        if not isinstance(data, dict) or data.get("manifest") != 1:
            return None
        name, source, commands, files = data.get("name"), data.get("source"), data.get("commands"), data.get("files")

        if not (isinstance(name, str) and isinstance(source, dict) and isinstance(source.get("kind"), str)):
            return None
        if resolve.name_problem(name) is not None:
            return None
        if not (isinstance(commands, dict) and isinstance(files, dict)):
            return None
        if not all(isinstance(k, str) and resolve.name_problem(k) is None and isinstance(v, str) and _inside(v)
                   for k, v in commands.items()):
            return None
        if not all(isinstance(k, str) and isinstance(v, str) and _inside(k) for k, v in files.items()):
            return None
        manifest = cls(name, source, commands, files, str(data.get("installed", "")), str(data.get("by", "")))
        completers = data.get("completers")
        if isinstance(completers, dict) and all(
            isinstance(k, str) and k in commands and isinstance(v, str) and _inside(v) for k, v in completers.items()
        ):
            manifest.completers = completers
        sandbox = data.get("sandbox")
        if sandbox is not None:
            # Kept as written, even a name this version does not know: a run then refuses it
            # rather than running the plugin free (dirs.installed_policy, sandbox/policy.py).
            manifest.sandbox = sandbox if isinstance(sandbox, str) else repr(sandbox)
        return manifest

    @property
    def version(self) -> str:
        """What identifies the installed version to a person: a commit, a package version, a hash."""
        return short_version(self.source.get("kind"), self.source.get("resolved") or self.source.get("sha256"))


def short_version(kind: object, value: object) -> str:
    """A commit or a hash cut to 12 digits, a Python package's version (`name==1.2` -> `1.2`), or `-`."""
    if not isinstance(value, str) or not value:
        return "-"
    if kind == "python" and "==" in value:
        return value.rpartition("==")[2]
    return value[:12]


def _inside(path: str) -> bool:
    """A relative path that stays inside its directory."""
    parts = path.split("/")
    return bool(path) and not os.path.isabs(path) and ".." not in parts and "" not in parts and "\0" not in path


def sha256_file(path: str, *, follow: bool = False) -> str:
    """The sha256 of a regular file; a link is followed only with `follow` (a source the user
    named), never inside the data directory."""
    digest = hashlib.sha256()
    fd = _open_regular(path, follow=follow)
    try:
        while True:
            chunk = os.read(fd, 1 << 20)
            if not chunk:
                return digest.hexdigest()
            digest.update(chunk)
    finally:
        os.close(fd)


def copy_hashed(source: str, dest: str, mode: int) -> str:
    """Copy the regular file `source` (a link followed: the user named it) into the new file
    `dest`, reading it once: the sha256 of exactly the bytes written, so that what is checked is
    what is installed, whatever happens to `source` meanwhile."""
    digest = hashlib.sha256()
    fd = _open_regular(source, follow=True)
    try:
        out = os.open(dest, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC | getattr(os, "O_NOFOLLOW", 0), mode)
        try:
            while True:
                chunk = os.read(fd, 1 << 20)
                if not chunk:
                    break
                digest.update(chunk)
                view = memoryview(chunk)
                while view:
                    view = view[os.write(out, view) :]
            os.fchmod(out, mode)  # the umask never widens it, nor narrows what must be executable
        finally:
            os.close(out)
    finally:
        os.close(fd)
    return digest.hexdigest()


def _open_regular(path: str, *, follow: bool) -> int:
    """A descriptor of the regular file at `path`: opened without blocking (a FIFO swapped in
    never hangs), refused when it is anything else."""
    flags = os.O_RDONLY | os.O_CLOEXEC | os.O_NONBLOCK | (0 if follow else getattr(os, "O_NOFOLLOW", 0))
    fd = os.open(path, flags)
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise ToolError(ExitCode.FAILURE, f"{path} is not a regular file; nothing was installed")
    os.set_blocking(fd, True)
    return fd


def hash_tree(top: str) -> dict[str, str]:
    """relative path -> sha256 of every regular file under `top`; a link as `link:TARGET`.
    Compiled Python (`__pycache__`) is hashed too: Python runs a .pyc instead of its source."""
    files: dict[str, str] = {}
    for dirpath, dirnames, filenames in os.walk(top):
        links = [d for d in dirnames if os.path.islink(os.path.join(dirpath, d))]
        dirnames[:] = sorted(d for d in dirnames if d not in links)
        rel_dir = os.path.relpath(dirpath, top)
        for name in sorted([*filenames, *links]):
            path = os.path.join(dirpath, name)
            rel = name if rel_dir == "." else f"{rel_dir}/{name}"
            st = os.lstat(path)
            if stat.S_ISLNK(st.st_mode):
                files[rel] = "link:" + os.readlink(path)
            elif stat.S_ISREG(st.st_mode):
                files[rel] = sha256_file(path)
    return files


def escaping_links(top: str) -> list[str]:
    """The links under `top` that lead outside it, through whatever other links (their text may
    look inside: `a -> ..` then `b -> a/a/../x`)."""
    root = os.path.realpath(top)
    found = []
    for dirpath, dirnames, filenames in os.walk(top):
        for name in [*dirnames, *filenames]:
            path = os.path.join(dirpath, name)
            if os.path.islink(path):
                real = os.path.realpath(path)
                if real != root and not real.startswith(root + os.sep):
                    found.append(os.path.relpath(path, top))
    return sorted(found)


def read_manifest(version: str) -> Manifest | None:
    try:
        fd = os.open(version, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC | getattr(os, "O_NOFOLLOW", 0))
    except OSError:
        return None
    try:
        data = cache.read_file(fd, MANIFEST, MANIFEST_CAP)
    finally:
        os.close(fd)
    if data is None:
        return None
    try:
        return Manifest.from_json(json.loads(data))
    except (ValueError, RecursionError):
        return None


def write_manifest(version: str, manifest: Manifest) -> None:
    """The manifest into `version`, and the run path's copy of its sandbox policy (written first:
    a version is complete once its manifest is there)."""
    fd = os.open(version, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC | getattr(os, "O_NOFOLLOW", 0))
    try:
        if manifest.sandbox is not None:
            if not cache.write_file(fd, SANDBOX_RECORD, manifest.sandbox.encode("ascii", "replace") + b"\n"):
                raise ToolError(ExitCode.FAILURE, f"cannot write {os.path.join(version, SANDBOX_RECORD)}")
            os.chmod(SANDBOX_RECORD, 0o600, dir_fd=fd)
        data = json.dumps(manifest.to_json(), indent=1, sort_keys=True, ensure_ascii=True).encode() + b"\n"
        if not cache.write_file(fd, MANIFEST, data):
            raise ToolError(ExitCode.FAILURE, f"cannot write {os.path.join(version, MANIFEST)}")
        os.chmod(MANIFEST, 0o600, dir_fd=fd)
    finally:
        os.close(fd)
