"""Plugins installed by `tool plugin install`: where they live, their manifests, the lock that
serialises writers, and the one atomic switch from a version to the next (docs/installing.md).

Under the data directory (`$XDG_DATA_HOME/<prog>`, else `~/.local/share/<prog>`):

    bin/<prog>-CMD           a link the host made: ../plugins/NAME/current/<path of CMD>
    plugins/NAME/current     a link to the version in use, `v-...`
    plugins/NAME/v-.../      one installed version; complete once its manifest.json is in it
    lock                     held (flock) by every command that writes here

A version is built in a directory of its own next to the one in use, and becomes the one in
use by renaming a new `current` link over the old one: whatever happens before that rename
(a failure, Ctrl-C, SIGKILL), the previous version is untouched and still runs. Versions
that are not `current` are leftovers, removed by the next writer and reported by `doctor`.
"""
from __future__ import annotations

import hashlib
import json
import os
import stat
import time

from dispatch.errors import ToolError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterator, Mapping
    from typing import Any

MANIFEST = "manifest.json"
MANIFEST_CAP = 16 << 20
SKIPPED_NAMES = frozenset({"__pycache__"})  # written by Python when the plugin runs: not ours to check


class Manifest:
    """What one installed version is: its source, the commands it provides (command name ->
    path inside the version directory), and the sha256 of every file installed."""

    __slots__ = ("name", "source", "commands", "files", "installed", "by", "completers")
    name: str
    source: dict[str, Any]  # kind, location, pin, resolved, sha256, requirements
    commands: dict[str, str]
    completers: dict[str, str]  # command -> its completion sidecar `<prog>_complete-NAME`
    files: dict[str, str]
    installed: str
    by: str

    def __init__(
        self, name: str, source: dict[str, Any], commands: dict[str, str], files: dict[str, str], installed: str, by: str
    ) -> None:
        self.name, self.source, self.commands, self.files, self.installed, self.by = (
            name, source, commands, files, installed, by
        )
        self.completers: dict[str, str] = {}

    def to_json(self) -> dict[str, Any]:
        return {
            "manifest": 1, "name": self.name, "source": self.source, "commands": self.commands, "files": self.files,
            "installed": self.installed, "by": self.by, "completers": self.completers,
        }

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
        if not (isinstance(commands, dict) and isinstance(files, dict)):
            return None
        if not all(isinstance(k, str) and isinstance(v, str) and _inside(v) for k, v in commands.items()):
            return None
        if not all(isinstance(k, str) and isinstance(v, str) and _inside(k) for k, v in files.items()):
            return None
        manifest = cls(name, source, commands, files, str(data.get("installed", "")), str(data.get("by", "")))
        completers = data.get("completers")
        if isinstance(completers, dict) and all(
            isinstance(k, str) and k in commands and isinstance(v, str) and _inside(v) for k, v in completers.items()
        ):
            manifest.completers = completers
        return manifest

    @property
    def version(self) -> str:
        """What identifies the installed version to a person: a commit, a package version, a hash."""
        return short_version(self.source.get("kind"), self.source.get("resolved") or self.source.get("sha256"))


def short_version(kind: object, value: object) -> str:
    """A commit or a hash cut to 12 digits, a Python package's version (`name==1.2` -> `1.2`), or `-`."""
    if not isinstance(value, str) or not value:
        return "-"
    if kind == "python":
        return value.rpartition("==")[2]
    return value[:12]


def _inside(path: str) -> bool:
    """A relative path that stays inside its directory."""
    parts = path.split("/")
    return bool(path) and not os.path.isabs(path) and ".." not in parts and "" not in parts and "\0" not in path


def sha256_file(path: str) -> str:
    digest = hashlib.sha256()
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC | getattr(os, "O_NOFOLLOW", 0))
    try:
        while True:
            chunk = os.read(fd, 1 << 20)
            if not chunk:
                return digest.hexdigest()
            digest.update(chunk)
    finally:
        os.close(fd)


def hash_tree(top: str) -> dict[str, str]:
    """relative path -> sha256 of every regular file under `top`; a link as `link:TARGET`."""
    files: dict[str, str] = {}
    for dirpath, dirnames, filenames in os.walk(top):
        links = [d for d in dirnames if os.path.islink(os.path.join(dirpath, d))]
        dirnames[:] = sorted(d for d in dirnames if d not in SKIPPED_NAMES and d not in links)
        rel_dir = os.path.relpath(dirpath, top)
        for name in sorted([*filenames, *links]):
            if name.endswith(".pyc"):
                continue
            path = os.path.join(dirpath, name)
            rel = name if rel_dir == "." else f"{rel_dir}/{name}"
            st = os.lstat(path)
            if stat.S_ISLNK(st.st_mode):
                files[rel] = "link:" + os.readlink(path)
            elif stat.S_ISREG(st.st_mode):
                files[rel] = sha256_file(path)
    return files


class Store:
    """The installed plugins of one program. Readers use it as is; writers hold `lock()`."""

    __slots__ = ("root", "prog", "plugins", "bin", "_lock_fd")

    def __init__(self, root: str, prog: str) -> None:
        self.root = root
        self.prog = prog
        self.plugins = os.path.join(root, "plugins")
        self.bin = os.path.join(root, "bin")
        self._lock_fd: int | None = None

    @classmethod
    def of(cls, env: Mapping[str, str], prog: str) -> Store:
        from dispatch.context import data_dir

        root = data_dir(env, prog)
        if root is None:
            raise ToolError(1, "no data directory: set HOME or XDG_DATA_HOME to an absolute path")
        return cls(root, prog)

    # -- reading ------------------------------------------------------------------------

    def names(self) -> list[str]:
        """Every installed plugin (that has a version in use), sorted."""
        try:
            entries = sorted(os.listdir(self.plugins))
        except OSError:
            return []
        return [name for name in entries if self.current(name) is not None]

    def current(self, name: str) -> str | None:
        """The directory of the version of `name` in use: `current` must be our link to a `v-` sibling."""
        try:
            target = os.readlink(os.path.join(self.plugins, name, "current"))
        except (OSError, ValueError):
            return None
        if not target.startswith("v-") or "/" in target:
            return None
        path = os.path.join(self.plugins, name, target)
        return path if os.path.isdir(path) and not os.path.islink(path) else None

    def manifest(self, name: str) -> Manifest | None:
        version = self.current(name)
        return None if version is None else read_manifest(version)

    def manifests(self) -> list[Manifest]:
        found = []
        for name in self.names():
            manifest = self.manifest(name)
            if manifest is not None:
                found.append(manifest)
        return found

    def owner(self, command: str) -> str | None:
        """The installed plugin that provides `command`, if any."""
        for manifest in self.manifests():
            if command in manifest.commands:
                return manifest.name
        return None

    # -- writing ------------------------------------------------------------------------

    def lock(self, waiting: Any = None) -> None:
        """Take the writers' lock (blocking; `waiting()` is called once if another holds it),
        and make the directories. Released by `unlock` or when the process ends."""
        import fcntl

        for path, mode in ((os.path.dirname(self.root), 0o755), (self.root, 0o755), (self.plugins, 0o755), (self.bin, 0o755)):
            try:
                os.makedirs(path, mode, exist_ok=True)
            except OSError as e:
                raise ToolError(1, f"cannot create {path}: {e.strerror}") from None
        for path in (self.root, self.plugins, self.bin):
            why = _distrust(path)
            if why is not None:
                raise ToolError(1, f"{path} is not safe to install into: {why}; fix it, or set XDG_DATA_HOME")
        fd = os.open(os.path.join(self.root, "lock"), os.O_RDWR | os.O_CREAT | os.O_CLOEXEC | getattr(os, "O_NOFOLLOW", 0), 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            if waiting is not None:
                waiting()
            fcntl.flock(fd, fcntl.LOCK_EX)
        self._lock_fd = fd
        self.clean()

    def unlock(self) -> None:
        if self._lock_fd is not None:
            os.close(self._lock_fd)
            self._lock_fd = None

    def new_version(self, name: str) -> str:
        """A fresh, empty version directory for `name`, next to the one in use."""
        assert self._lock_fd is not None
        directory = os.path.join(self.plugins, name)
        os.makedirs(directory, 0o755, exist_ok=True)
        path = os.path.join(directory, f"v-{time.strftime('%Y%m%d%H%M%S')}-{os.getpid()}-{time.monotonic_ns() % 10**6}")
        os.mkdir(path, 0o755)
        return path

    def commit(self, manifest: Manifest, version: str) -> None:
        """Make `version` (with this manifest) the one in use, and its commands found in bin/."""
        assert self._lock_fd is not None
        name = manifest.name
        write_manifest(version, manifest)
        old = self.manifest(name)
        old_version = self.current(name)
        _symlink_over(os.path.basename(version), os.path.join(self.plugins, name, "current"))  # the switch
        links = manifest.links(self.prog)
        for file_name, path in links.items():
            _symlink_over(f"../plugins/{name}/current/{path}", os.path.join(self.bin, file_name))
        if old is not None:
            for file_name in set(old.links(self.prog)) - set(links):
                self._unlink(file_name, name)
        if old_version is not None and old_version != version:
            self.discard(old_version)  # only now: until the switch, it was the one that ran

    def remove(self, name: str) -> Manifest | None:
        assert self._lock_fd is not None
        manifest = self.manifest(name)
        for file_name in manifest.links(self.prog) if manifest is not None else ():
            self._unlink(file_name, name)
        import shutil

        directory = os.path.join(self.plugins, name)
        try:
            os.unlink(os.path.join(directory, "current"))  # from here on it is not installed
        except OSError:
            pass
        shutil.rmtree(directory, ignore_errors=True)
        return manifest

    def discard(self, version: str) -> None:
        """Remove a version that is not (or no longer) current, and its plugin's directory when
        nothing is left in it."""
        import shutil

        shutil.rmtree(version, ignore_errors=True)
        try:
            os.rmdir(os.path.dirname(version))
        except OSError:
            pass

    def _unlink(self, file_name: str, name: str) -> None:
        link = os.path.join(self.bin, file_name)
        try:
            if os.readlink(link).startswith(f"../plugins/{name}/"):
                os.unlink(link)
        except OSError:
            pass

    def clean(self) -> None:
        """Remove what interrupted writers left: versions not in use, plugin directories with none."""
        import shutil

        for name, path in self.leftovers():
            if os.path.isdir(path) and not os.path.islink(path):
                shutil.rmtree(path, ignore_errors=True)
            else:
                try:
                    os.unlink(path)
                except OSError:
                    pass

    def leftovers(self) -> list[tuple[str, str]]:
        """(plugin name, path) of every version not in use and every link in bin/ to nothing of ours."""
        found: list[tuple[str, str]] = []
        try:
            names = sorted(os.listdir(self.plugins))
        except OSError:
            names = []
        for name in names:
            directory = os.path.join(self.plugins, name)
            current = self.current(name)
            try:
                entries = sorted(os.listdir(directory))
            except OSError:
                continue
            for entry in entries:
                path = os.path.join(directory, entry)
                if entry.startswith("v-") and path != current:
                    found.append((name, path))
            if current is None and not any(e.startswith("v-") for e in entries):
                found.append((name, directory))
        for link in self._bin_links():
            try:
                target = os.readlink(link)
            except OSError:
                continue
            if target.startswith("../plugins/") and not os.path.exists(link):
                owner = target.split("/")[2] if target.count("/") >= 2 else ""
                if self.current(owner) is None:  # else its plugin is installed: `verify` says what is missing
                    found.append(("", link))
        return found

    def _bin_links(self) -> Iterator[str]:
        try:
            with os.scandir(self.bin) as it:
                for entry in it:
                    if entry.is_symlink():
                        yield entry.path
        except OSError:
            return

    def verify(self, manifest: Manifest) -> list[str]:
        """What differs from the manifest in the version in use: changed, missing, added files."""
        version = self.current(manifest.name)
        if version is None:
            return ["its version in use is missing"]
        problems = []
        if manifest.source.get("kind") == "link":
            # Live files: not hashed; what it provides must still be there.
            target = os.path.join(version, "src")
            if not os.path.isdir(target):
                return [f"the linked directory {os.readlink(target) if os.path.islink(target) else target} is gone"]
            problems += [f"{path} is gone from the linked directory" for path in manifest.links(self.prog).values()
                         if not os.path.isfile(os.path.join(version, path))]
        else:
            actual = hash_tree(version)
            actual.pop(MANIFEST, None)
            for path, digest in manifest.files.items():
                if path not in actual:
                    problems.append(f"{path} is missing")
                elif actual[path] != digest:
                    problems.append(f"{path} was changed")
            problems += [f"{path} was added" for path in sorted(set(actual) - set(manifest.files))]
        for file_name, path in manifest.links(self.prog).items():
            link = os.path.join(self.bin, file_name)
            try:
                if os.readlink(link) != f"../plugins/{manifest.name}/current/{path}":
                    problems.append(f"{link} does not point to it")
            except OSError:
                problems.append(f"{link} is missing")
        return problems


def read_manifest(version: str) -> Manifest | None:
    from dispatch import cache

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
    except ValueError:
        return None


def write_manifest(version: str, manifest: Manifest) -> None:
    from dispatch import cache

    fd = os.open(version, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC | getattr(os, "O_NOFOLLOW", 0))
    try:
        data = json.dumps(manifest.to_json(), indent=1, sort_keys=True, ensure_ascii=True).encode() + b"\n"
        if not cache.write_file(fd, MANIFEST, data):
            raise ToolError(1, f"cannot write {os.path.join(version, MANIFEST)}")
        os.chmod(MANIFEST, 0o644, dir_fd=fd)
    finally:
        os.close(fd)


def _symlink_over(target: str, link: str) -> None:
    """Point `link` at `target` atomically: a new link renamed over the old one."""
    temp = os.path.join(os.path.dirname(link), f".{os.path.basename(link)}.{os.getpid()}.tmp")  # never a plugin name
    try:
        os.unlink(temp)
    except FileNotFoundError:
        pass
    os.symlink(target, temp)
    os.replace(temp, link)


def _distrust(path: str) -> str | None:
    from dispatch.cache import distrust

    try:
        return distrust(os.lstat(path))
    except OSError as e:
        return e.strerror
