"""`confine`, the one entry point that applies a sandbox, and `Confinement`, one confined run.

Linux: the calling thread sets no_new_privs, restricts itself with Landlock, installs the
seccomp filter, and then execs (the plain plugin replaces the host: same pid, terminal and job
control) or spawns (a supervised plugin: from a short-lived thread of its own, so that only
that thread and the child it starts are confined, never the host). macOS: the plugin's
command line becomes `sandbox-exec -p PROFILE ...`. Fail closed: when the machine cannot
enforce the whole policy, nothing runs (126, one line saying what is missing).

Each confined run has a private TMPDIR: `run-<host pid>-<random>`, mode 0700, in
`$XDG_RUNTIME_DIR/<prog>/sandbox` (when that is a directory the trust rule accepts), else in
the cache (`<cache>/sandbox`). The only place a `read-only` plugin
may write.

A supervised run's is removed when the run ends. An exec'd plugin replaces the host, which
cannot remove anything afterwards: its directory stays while that pid lives and is removed by
the next confined run after it (each run prunes the directories of pids that are gone).
Everything is reached through the directory's descriptor; only names this module makes are
ever removed, and no link is followed.
"""
from __future__ import annotations

import errno
import os
import sys

from dispatch import dirs
from dispatch.sandbox import policy as policies
from protocol.digits import decimal

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Mapping, Sequence

    from dispatch.context import Invocation
    from dispatch.errors import ToolError
    from dispatch.sandbox.policy import Policy, Rules

    Start = Callable[[list[str]], int]


def unenforceable(platform: str = sys.platform) -> str | None:
    """What this machine lacks to enforce a policy (None: nothing; every policy can be)."""
    if platform.startswith("linux"):
        from dispatch.sandbox import linux

        if linux.filter_table() is None:
            return (f"a seccomp filter for this architecture ({os.uname().machine}; the sandbox knows "
                    f"{', '.join(linux.TABLES)})")
        abi = linux.landlock_abi()
        if abi == 0:
            return "Landlock (this kernel has none, or it is off: Linux 6.2 or later with landlock in its lsm= list)"
        if abi < linux.MIN_ABI:
            return f"Landlock ABI {linux.MIN_ABI} (this kernel has ABI {abi}: Linux 6.2 or later)"
        return None
    if platform == "darwin":
        from dispatch.sandbox.seatbelt import SANDBOX_EXEC

        return None if os.access(SANDBOX_EXEC, os.X_OK) else f"{SANDBOX_EXEC} (Seatbelt)"
    return "a sandbox for this platform (tool has one on Linux, Landlock, and macOS, Seatbelt)"


def _refusal(path: str, policy: Policy, missing: str) -> ToolError:
    from dispatch.errors import cannot_execute

    return cannot_execute(
        path, f"its sandbox ({policy.name}) cannot be enforced here: this machine lacks {missing}; run it "
        "where it can be, or, if you trust it, without the sandbox (--sandbox, TOOL_SANDBOX, the config's [sandbox])",
    )


def confine(rules: Rules, argv: list[str], *, platform: str = sys.platform) -> list[str]:
    """Apply `rules` to the calling thread (Linux; it then execs or spawns `argv`, which is
    returned as it is), or give the command line that runs `argv` under them (macOS).
    Raises ToolError (126) when they cannot all be applied."""
    if platform == "darwin":
        from dispatch.sandbox import seatbelt

        return seatbelt.wrap(rules, argv)
    from dispatch.sandbox import linux

    step = "no_new_privs"
    try:
        linux.prctl(linux.PR_SET_NO_NEW_PRIVS, 1)
        step = "Landlock"
        rights = {"read": linux.READ, "write": linux.WRITE, "device": linux.DEVICE}
        linux.restrict(linux.landlock_abi(), [(p, rights[k]) for p, k, _ in rules.paths], net=rules.policy.net)
        step = "the seccomp filter"
        linux.install_filter(linux.filter_program(rules.policy.net))
    except OSError as e:
        from dispatch.errors import cannot_execute

        raise cannot_execute(argv[0], f"its sandbox ({rules.policy.name}) cannot be applied: {step}: {e.strerror}") from None
    return argv


def in_thread(work: Callable[[], int]) -> int:
    """`work()` in a thread of its own, waited for: what it confines is that thread alone."""
    import _thread

    done = _thread.allocate_lock()
    done.acquire()
    outcome: list[object] = []

    def body() -> None:
        try:
            outcome.append(work())
        except BaseException as e:  # re-raised in the caller's thread
            outcome.append(e)
        finally:
            done.release()

    _thread.start_new_thread(body, ())
    done.acquire()
    result = outcome[0]
    if isinstance(result, BaseException):
        raise result
    assert isinstance(result, int)
    return result


class Confinement:
    """One confined run of the plugin at `path`: its environment (a private TMPDIR, made by
    `environ`), how it starts (`exec_argv`, `spawn`), and the TMPDIR removed (`close`). A run
    the machine cannot confine fails as it starts, never runs unconfined."""

    def __init__(self, inv: Invocation, path: str, policy: Policy) -> None:
        self.inv = inv
        self.path = path
        self.policy = policy
        self.rules: Rules | None = None
        self.refusal: Exception | None = None  # a ToolError (126), raised as the plugin would start

    def environ(self, env: dict[str, str]) -> dict[str, str]:
        """`env` for the plugin: its private TMPDIR, and no PROG_SANDBOX (what it starts is
        confined already: a `tool` it runs would confine itself again in vain)."""
        missing = unenforceable()
        try:
            if missing is not None:
                raise _refusal(self.path, self.policy, missing)
            tmp = make_tmpdir(self.inv.environ, self.inv.prog, self.path)
        except Exception as e:  # a ToolError: refused as it would start, never run unconfined
            self.refusal = e
            return env
        env.pop(self.inv.program.var("SANDBOX"), None)
        env["TMPDIR"] = tmp
        self.rules = policies.build(self.inv, self.policy, self.path, env, tmp)
        for line in self.rules.describe():
            self.inv.trace(line)
        return env

    def _rules(self) -> Rules:
        if self.refusal is not None:
            raise self.refusal
        if self.rules is None:
            raise AssertionError("the sandbox was not prepared: environ() comes first")
        return self.rules

    def exec_argv(self, argv: list[str]) -> list[str]:
        """Confine this process, about to exec `argv`: the command line to exec."""
        return confine(self._rules(), argv)

    def spawn(self, start: Start, argv: list[str]) -> int:
        """`start(argv)` (a spawn, returning the pid) from a thread that confines itself first."""
        rules = self._rules()
        if sys.platform == "darwin":
            return start(confine(rules, argv))
        return in_thread(lambda: start(confine(rules, argv)))

    def close(self) -> None:
        """The run is over: its TMPDIR goes."""
        if self.rules is not None:
            remove_tmpdir(self.rules.tmpdir)


def of_plugin(inv: Invocation, path: str) -> Confinement | None:
    """The confinement of a run of the plugin at `path` (None: it runs unconfined)."""
    found = policies.of_plugin(inv, path)
    return None if found is None else Confinement(inv, path, found)


def mechanism(platform: str = sys.platform) -> str:
    """What enforces a policy on this machine, in words (for doctor)."""
    if platform.startswith("linux"):
        from dispatch.sandbox import linux

        return f"Landlock ABI {linux.landlock_abi()}, no_new_privs and a seccomp filter ({os.uname().machine})"
    return "Seatbelt (sandbox-exec)" if platform == "darwin" else "none"


def trial(policy: Policy) -> str | None:
    """Confine a throwaway thread with `policy` (the system readable, nothing else): None when
    this machine enforces it, else what is missing. The host's own threads stay free."""
    missing = unenforceable()
    if missing is not None:
        return f"this machine lacks {missing}"
    if sys.platform == "darwin":
        return None  # a profile is applied by sandbox-exec as the plugin starts; nothing to try here
    rules = policies.Rules(policy, (("/usr", "read", "the system directory"),), "", ())
    try:
        in_thread(lambda: len(confine(rules, ["trial"])))
    except Exception as e:  # the ToolError confine raised
        return getattr(e, "message", str(e))
    return None


def in_use(inv: Invocation, installed: Sequence[str] = ()) -> list[Policy]:
    """Every policy the run, the config and the installed plugins (`installed`) name (for doctor)."""
    names = [inv.options.sandbox] + [g.policy for g in (inv.config.sandbox.values() if inv.config else ())] + list(installed)
    return list(dict.fromkeys(policies.parse(n, "the sandbox policy") for n in names if n))


# -- the private TMPDIR ------------------------------------------------------------------------

PREFIX = "run-"
SANDBOX = "sandbox"


def _base(env: Mapping[str, str], prog: str) -> tuple[str, int] | None:
    """(the path, a descriptor) of the directory the private TMPDIRs are made in, or None."""
    runtime = env.get("XDG_RUNTIME_DIR", "")
    if os.path.isabs(runtime) and dirs.why_untrusted(runtime) is None:
        root = dirs.open_dir(os.path.join(runtime, prog), create=True)
        path = os.path.join(runtime, prog, SANDBOX)
    else:
        root = dirs.open_cache(env, prog, create=True)
        path = os.path.join(dirs.cache_dir(env, prog) or "", SANDBOX)
    if root is None:
        return None
    try:
        fd = dirs.open_dir(None, SANDBOX, dir_fd=root, create=True)
    finally:
        os.close(root)
    return None if fd is None else (path, fd)


def make_tmpdir(env: Mapping[str, str], prog: str, path: str) -> str:
    """A new private TMPDIR for running the plugin at `path` (after pruning those left by runs
    that are over); raises ToolError (126) when there is nowhere to make one."""
    found = _base(env, prog)
    if found is None:
        from dispatch.errors import cannot_execute

        raise cannot_execute(
            path, "the sandbox has nowhere to make its private TMPDIR: set XDG_RUNTIME_DIR or HOME to a "
            f"directory of yours that only you can write to ({prog} doctor says what is wrong with the cache)",
        )
    base, fd = found
    try:
        prune_tmpdirs(fd)
        for _ in range(16):
            name = f"{PREFIX}{os.getpid()}-{os.urandom(6).hex()}"
            try:
                os.mkdir(name, 0o700, dir_fd=fd)
            except FileExistsError:
                continue
            os.chmod(name, 0o700, dir_fd=fd)  # whatever the umask; ours alone in a directory only we can write
            return os.path.join(base, name)
        raise OSError(errno.EEXIST, "no free name")
    except OSError as e:
        from dispatch.errors import cannot_execute

        raise cannot_execute(path, f"cannot make a private TMPDIR in {base}: {e.strerror}") from None
    finally:
        os.close(fd)


def _pid(name: str) -> int | None:
    digits = name[len(PREFIX):].partition("-")[0]
    return decimal(digits, 10) if name.startswith(PREFIX) else None


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True  # someone's, not ours to judge: kept
    return True


def prune_tmpdirs(fd: int) -> None:
    """Remove the TMPDIRs of runs whose host is gone."""
    try:
        names = os.listdir(fd)
    except OSError:
        return
    for name in names:
        pid = _pid(name)
        if pid is not None and pid != os.getpid() and not _alive(pid):
            _remove(fd, name)


def _remove(fd: int, name: str) -> None:
    """Remove the tree `name` in `fd`, never following a link (shutil costs 7 ms to import:
    more than the whole command). What cannot be removed is left for the next prune."""
    try:
        os.rmdir(name, dir_fd=fd)  # most are empty: the tree walk below costs more than the rest of the run
        return
    except OSError:
        pass
    try:
        top = os.open(name, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=fd)
    except OSError:
        return
    try:
        for _root, subdirs, files, root_fd in os.fwalk(top=".", dir_fd=top, topdown=False, follow_symlinks=False):
            for file_name in files:
                os.unlink(file_name, dir_fd=root_fd)
            for subdir in subdirs:
                # os.fwalk lists links to directories among the directories: a link is unlinked.
                try:
                    os.rmdir(subdir, dir_fd=root_fd)
                except NotADirectoryError:
                    os.unlink(subdir, dir_fd=root_fd)
        os.rmdir(name, dir_fd=fd)
    except (OSError, RecursionError):
        pass
    finally:
        os.close(top)


def remove_tmpdir(path: str) -> None:
    """Remove a run's TMPDIR and what the plugin left in it (no link followed)."""
    parent, name = os.path.split(path)
    if _pid(name) is None:
        return
    try:
        fd = os.open(parent, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC | os.O_NOFOLLOW)
    except OSError:
        return
    try:
        _remove(fd, name)
    finally:
        os.close(fd)
