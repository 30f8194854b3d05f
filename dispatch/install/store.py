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

import fcntl
import os
import shutil
import signal
import stat
import time

from dispatch import dirs, resolve
from dispatch.errors import ToolError
from dispatch.exitcodes import ExitCode
from dispatch.install.manifest import MANIFEST, Manifest, hash_tree, read_manifest, write_manifest

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterator, Mapping
    from typing import Any

class Store:
    """The installed plugins of one program. Readers use it as is; writers hold `lock()`."""
    __slots__ = ("root", "prog", "plugins", "bin", "_lock_fd", "_held")

    def __init__(self, root: str, prog: str) -> None:
        self.root = root
        self.prog = prog
        self.plugins = os.path.join(root, "plugins")
        self.bin = os.path.join(root, "bin")
        self._lock_fd: int | None = None
        self._held: dict[str, int] = {}  # version directories being made by this process -> their flock

    @classmethod
    def of(cls, env: Mapping[str, str], prog: str) -> Store:
        root = dirs.data_dir(env, prog)
        if root is None:
            raise ToolError(ExitCode.FAILURE, "no data directory: set HOME or XDG_DATA_HOME to an absolute path")
        return cls(root, prog)

    # -- reading ------------------------------------------------------------------------

    def names(self) -> list[str]:
        """Every installed plugin (that has a version in use), sorted."""
        return [name for name in _listed(self.plugins) if self.current(name) is not None]

    def current(self, name: str) -> str | None:
        """The directory of the version of `name` in use: `current` must be our link to a `v-` sibling,
        in a real directory `plugins/NAME` (a link planted there is never followed)."""

        if resolve.name_problem(name) is not None or not _real_dir(os.path.join(self.plugins, name)):
            return None
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
        manifest = None if version is None else read_manifest(version)
        return manifest if manifest is not None and manifest.name == name else None

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

    def prepare(self) -> None:
        """Make the directories (0700, whatever the umask) and check each one written into with
        the one trust rule (dispatch/dirs.py): refused, with the fix, when it fails."""
        parent = os.path.dirname(self.root)
        for path in (parent, self.root, self.plugins, self.bin):
            try:
                os.makedirs(path, 0o700, exist_ok=True)
            except OSError as e:
                raise ToolError(ExitCode.FAILURE, f"cannot create {path}: {e.strerror}") from None
        for path in (parent, self.root, self.plugins, self.bin):
            refuse_untrusted(path)
            if path != parent:
                _private(path)

    def lock(self, waiting: Any = None) -> None:
        """Take the writers' lock (blocking; `waiting()` is called once if another holds it),
        making the directories first, and clear what interrupted writers left. Released by
        `unlock` or when the process ends. Held only while the installed state changes: never
        while a source is fetched (a version is made beside the one in use, unlocked)."""

        self.prepare()
        try:
            fd = os.open(os.path.join(self.root, "lock"), os.O_RDWR | os.O_CREAT | os.O_CLOEXEC | getattr(os, "O_NOFOLLOW", 0), 0o600)
        except OSError as e:
            raise ToolError(ExitCode.FAILURE, f"cannot open {os.path.join(self.root, 'lock')}: {e.strerror}; remove it if it is not a file") from None
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
        """A fresh, empty version directory for `name`, next to the one in use, held (flock on
        it) until it is committed or discarded: a writer clearing leftovers meanwhile leaves it
        alone, so it may be filled without the writers' lock (a clone, a download, pip)."""
        self.prepare()
        directory = os.path.join(self.plugins, name)
        for _ in range(16):
            try:
                os.mkdir(directory, 0o700)
            except FileExistsError:
                pass
            refuse_untrusted(directory)
            path = os.path.join(directory, f"v-{time.strftime('%Y%m%d%H%M%S')}-{os.getpid()}-{os.urandom(3).hex()}")
            try:
                os.mkdir(path, 0o700)
            except FileNotFoundError:
                continue  # a writer removed the (empty) plugin directory meanwhile
            held = _hold(path)
            if held is not None:
                self._held[path] = held
                return path
        raise ToolError(ExitCode.FAILURE, f"cannot make a new version directory in {directory}; try again")

    def _release(self, version: str) -> None:
        fd = self._held.pop(version, None)
        if fd is not None:
            os.close(fd)

    def commit(self, manifest: Manifest, version: str) -> None:
        """Make `version` (with this manifest) the one in use, and its commands found in bin/.
        Signals wait until it is done; when it fails, the previous state is put back and
        `version` is removed (the caller must not remove it again)."""
        assert self._lock_fd is not None
        name = manifest.name
        with _signals_held():
            try:
                write_manifest(version, manifest)
            except BaseException:
                self.discard(version)
                raise
            old = self.manifest(name)
            old_version = self.current(name)
            current = os.path.join(self.plugins, name, "current")
            links = manifest.links(self.prog)
            try:
                _symlink_over(os.path.basename(version), current)  # the switch
                for file_name, path in links.items():
                    _symlink_over(f"../plugins/{name}/current/{path}", os.path.join(self.bin, file_name))
            except OSError as e:
                # Back as it was: the old version is still there, its links point through `current`.
                if old_version is not None:
                    _symlink_over(os.path.basename(old_version), current)
                else:
                    _unlink_quietly(current)
                for file_name in set(links) - set(old.links(self.prog) if old is not None else ()):
                    self._unlink(file_name, name)
                self.discard(version)
                raise ToolError(ExitCode.FAILURE, f"cannot install {name} in {self.root}: {e.strerror or e}; nothing was changed") from None
            if old is not None:
                for file_name in set(old.links(self.prog)) - set(links):
                    self._unlink(file_name, name)
            self._release(version)  # current now: no longer a version being made
            if old_version is not None and old_version != version:
                self.discard(old_version)  # only now: until the switch, it was the one that ran

    def remove(self, name: str) -> Manifest | None:
        assert self._lock_fd is not None

        with _signals_held():
            manifest = self.manifest(name)
            directory = os.path.join(self.plugins, name)
            _unlink_quietly(os.path.join(directory, "current"))  # from here on it is not installed
            if manifest is not None:
                for file_name in manifest.links(self.prog):
                    self._unlink(file_name, name)
            else:  # its manifest cannot be read: every link of ours into it
                for link in self._bin_links():
                    self._unlink(os.path.basename(link), name)
            if _real_dir(directory):
                shutil.rmtree(directory, ignore_errors=True)
        return manifest

    def discard(self, version: str) -> None:
        """Remove a version that is not (or no longer) current, and its plugin's directory when
        nothing is left in it."""

        shutil.rmtree(version, ignore_errors=True)
        self._release(version)
        try:
            os.rmdir(os.path.dirname(version))
        except OSError:
            pass

    def move(self, version: str, name: str) -> str:
        """A version being made, moved to the plugin `name` (whose one command it turned out
        to provide); still held."""
        directory = os.path.join(self.plugins, name)
        for _ in range(16):
            try:
                os.mkdir(directory, 0o700)
            except FileExistsError:
                pass
            refuse_untrusted(directory)
            target = os.path.join(directory, os.path.basename(version))
            try:
                os.rename(version, target)
            except FileNotFoundError:
                continue  # a writer removed the (empty) plugin directory meanwhile
            self._held[target] = self._held.pop(version)
            try:
                os.rmdir(os.path.dirname(version))  # the guessed name's directory, when it holds nothing else
            except OSError:
                pass
            return target
        raise ToolError(ExitCode.FAILURE, f"cannot move {version} to {directory}; try again")

    def _unlink(self, file_name: str, name: str) -> None:
        link = os.path.join(self.bin, file_name)
        try:
            if os.readlink(link).startswith(f"../plugins/{name}/"):
                os.unlink(link)
        except OSError:
            pass

    def clean(self) -> None:
        """Remove what interrupted writers left: versions not in use (and not being made by a
        writer now), plugin directories with none, links in bin/ to nothing of ours. Only names
        this module writes are removed: what someone else put there is kept (`kept`)."""
        for _name, path in self.leftovers():
            if self.kept(path):
                continue  # reported by doctor, never deleted
            if _real_dir(path) and os.path.dirname(path) == self.plugins:
                try:
                    os.rmdir(path)  # nothing in it: a first install that never finished
                except OSError:
                    pass
            elif _real_dir(path):
                held = _hold(path)
                if held is None:
                    continue  # a writer is making it now, or it is already gone
                try:
                    shutil.rmtree(path, ignore_errors=True)
                finally:
                    os.close(held)
                try:
                    os.rmdir(os.path.dirname(path))  # its plugin's directory, when nothing else is there
                except OSError:
                    pass
            else:
                _unlink_quietly(path)  # a link (never followed) or one of our temporary links

    def kept(self, path: str) -> bool:
        """Whether a leftover is something this module did not write, which no writer removes:
        a file or directory put in bin/ or plugins/ by hand."""
        try:
            st = os.lstat(path)
        except OSError:
            return False
        if stat.S_ISLNK(st.st_mode):
            return False  # a link: removed, never followed
        parent = os.path.dirname(path)
        if parent == self.bin:
            return True
        if parent == self.plugins:
            return not stat.S_ISDIR(st.st_mode) or bool(_listed(path))
        return not os.path.basename(path).startswith(("v-", TEMP_PREFIX))

    def leftovers(self) -> list[tuple[str, str]]:
        """(plugin name, path) of every version not in use (nor being made now), every link in
        bin/ to nothing of ours, and what someone else put in bin/ or plugins/ (`kept`)."""
        found: list[tuple[str, str]] = []
        for name in _listed(self.plugins):
            directory = os.path.join(self.plugins, name)
            if not _real_dir(directory):
                found.append(("", directory))  # not made by us (a link, a file): a link is removed, never followed
                continue
            current = self.current(name)
            try:
                entries = sorted(os.listdir(directory))
            except OSError:
                continue  # unreadable: not known to be a leftover
            for entry in entries:
                path = os.path.join(directory, entry)
                if entry.startswith(TEMP_PREFIX) or (entry.startswith("v-") and path != current and not _in_use(path)):
                    found.append((name, path))
            if current is None and not any(e.startswith("v-") for e in entries):
                found.append((name, directory))  # empty: removed; else not ours: kept
        # bin/ holds only links this module made into an installed plugin's `current`: anything
        # else there (a half-made link, a file or a link put there by hand) is never run.
        for entry in _listed(self.bin):
            path = os.path.join(self.bin, entry)
            try:
                target = os.readlink(path)
            except OSError:
                found.append(("", path))  # not a link
                continue
            parts = target.split("/")
            ours = len(parts) >= 5 and parts[:2] == ["..", "plugins"] and parts[3] == "current"
            if entry.startswith(TEMP_PREFIX) or not ours or self.current(parts[2]) is None:
                found.append(("", path))  # else its plugin is installed: `verify` says what is missing
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
        problems = _sandbox_problems(version, manifest)
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
            actual.pop(dirs.SANDBOX_RECORD, None)
            for path, digest in manifest.files.items():
                if path not in actual:
                    problems.append(f"{path} is missing")
                elif actual[path] != digest:
                    problems.append(f"{path} was changed")
            problems += [f"{path} was added" for path in sorted(set(actual) - set(manifest.files))]
        problems += _loose(version)
        for file_name, path in manifest.links(self.prog).items():
            link = os.path.join(self.bin, file_name)
            try:
                if os.readlink(link) != f"../plugins/{manifest.name}/current/{path}":
                    problems.append(f"{link} does not point to it")
            except OSError:
                problems.append(f"{link} is missing")
        return problems


def _sandbox_problems(version: str, manifest: Manifest) -> list[str]:
    """Whether the policy a run reads (dirs.installed_policy) is the manifest's, and one this version knows."""
    from dispatch.sandbox.policy import NAMES

    try:
        fd = os.open(os.path.join(version, dirs.SANDBOX_RECORD), os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except FileNotFoundError:
        recorded = None
    except OSError as e:
        return [f"its sandbox policy cannot be read: {e.strerror}"]
    else:
        try:
            recorded = os.read(fd, 65).decode("ascii", "replace").strip()
        finally:
            os.close(fd)
    if recorded != manifest.sandbox:
        return [f"its runs are confined by {recorded or 'no sandbox'}, but it was installed with "
                f"{manifest.sandbox or 'no sandbox'}"]
    if manifest.sandbox is not None and manifest.sandbox not in NAMES:
        return [f"its sandbox policy {manifest.sandbox!r} is not one this version knows, so it does not run"]
    return []


TEMP_PREFIX = ".tmp-"  # a link being made: never a plugin's name; removed by `clean` when a writer was killed


def _symlink_over(target: str, link: str) -> None:
    """Point `link` at `target` atomically: a new link renamed over the old one."""
    temp = os.path.join(os.path.dirname(link), f"{TEMP_PREFIX}{os.getpid()}")
    _unlink_quietly(temp)
    os.symlink(target, temp)
    try:
        os.replace(temp, link)
    except OSError:
        _unlink_quietly(temp)
        raise


def _listed(directory: str) -> list[str]:
    """The names in `directory`, sorted; none when it cannot be read."""
    try:
        return sorted(os.listdir(directory))
    except OSError:
        return []


def _real_dir(path: str) -> bool:
    try:
        return stat.S_ISDIR(os.lstat(path).st_mode)
    except OSError:
        return False


def _unlink_quietly(path: str) -> None:
    try:
        os.unlink(path)
    except OSError:
        pass


class _signals_held:
    """SIGINT, SIGTERM and SIGHUP wait while the installed state changes (a few system calls):
    a Ctrl-C then takes effect right after, on a consistent state."""

    def __enter__(self) -> None:
        self.held = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT, signal.SIGTERM, signal.SIGHUP})

    def __exit__(self, *exc: object) -> None:
        signal.pthread_sigmask(signal.SIG_SETMASK, self.held)


def _loose(version: str, limit: int = 3) -> list[str]:
    """What in a version someone else could change: entries owned by another user (not root)
    or writable by group or others (made under a loose umask by an older version)."""
    found: list[str] = []
    uid = os.getuid()
    for dirpath, dirnames, filenames in os.walk(version):
        for name in ["", *dirnames, *filenames]:
            path = os.path.join(dirpath, name) if name else dirpath
            try:
                st = os.lstat(path)
            except OSError:
                continue
            if stat.S_ISLNK(st.st_mode):
                continue  # a link's own mode means nothing; where it leads is checked by its own entry
            if st.st_uid not in (uid, 0) or st.st_mode & 0o022:
                rel = os.path.relpath(path, version)
                who = f"uid {st.st_uid}" if st.st_uid not in (uid, 0) else "others"
                found.append(f"{'its directory' if rel == '.' else rel} can be changed by {who} (mode {st.st_mode & 0o777:o})")
                if len(found) >= limit:
                    return found
    return found


def refuse_untrusted(path: str) -> None:
    """ToolError unless the directory `path` passes the one trust rule (dispatch/dirs.py)."""
    why = dirs.why_untrusted(path)
    if why is not None and why != "missing":
        fix = (f"chmod go-w {path}" if "write" in why else f"remove it (it is not {os.path.basename(path)!r} as tool makes it)"
               if "link" in why or "not a directory" in why else "use a data directory of your own")
        raise ToolError(ExitCode.FAILURE, f"{path} is not safe to install into: {why}; {fix}, or set XDG_DATA_HOME")


def _private(path: str) -> None:
    """A directory of ours made before everything was private (an older version, a loose umask): 0700 now."""
    try:
        st = os.lstat(path)
        if stat.S_ISDIR(st.st_mode) and st.st_uid == os.getuid() and st.st_mode & 0o077:
            os.chmod(path, 0o700)
    except OSError:
        pass


def _hold(path: str) -> int | None:
    """The directory `path` opened and flocked by us (a descriptor to close to let go), or None
    when another process holds it or it is gone (removed, even while we were opening it)."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC | getattr(os, "O_NOFOLLOW", 0))
    except OSError:
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        if os.fstat(fd).st_nlink > 0:
            return fd
    except OSError:
        pass
    os.close(fd)
    return None


def _in_use(path: str) -> bool:
    """A version directory another process holds: being made right now."""
    fd = _hold(path)
    if fd is None:
        return os.path.isdir(path)
    os.close(fd)
    return False
