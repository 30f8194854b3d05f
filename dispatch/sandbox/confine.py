"""`confine`, the one entry point that applies a sandbox, and `Confinement`, one confined run.

Linux: the calling thread sets no_new_privs, restricts itself with Landlock, installs the
seccomp filter, and then execs (the plain plugin replaces the host: same pid, terminal and job
control) or spawns (a supervised plugin: from a short-lived thread of its own, so that only
that thread and the child it starts are confined, never the host). macOS: the plugin's
command line becomes `sandbox-exec -p PROFILE ...`. Fail closed: when the machine cannot
enforce the whole policy, nothing runs (126, one line saying what is missing).
"""
from __future__ import annotations

import os
import sys

from dispatch.errors import ToolError, cannot_execute
from dispatch.sandbox import policy as policies
from dispatch.sandbox import rules as ruling
from dispatch.sandbox import tmpdir

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable

    from dispatch.context import Invocation
    from dispatch.sandbox.policy import Policy
    from dispatch.sandbox.rules import Rules

    Start = Callable[[list[str]], int]


def unenforceable(platform: str = sys.platform) -> str | None:
    """What this machine lacks to enforce a policy (None: nothing; every policy can be)."""
    if platform.startswith("linux"):
        from dispatch.sandbox import landlock, seccomp

        if seccomp.table() is None:
            return (f"a seccomp filter for this architecture ({os.uname().machine}; the sandbox knows "
                    f"{', '.join(seccomp.TABLES)})")
        abi = landlock.abi()
        if abi == 0:
            return "Landlock (this kernel has none, or it is off: Linux 6.2 or later with landlock in its lsm= list)"
        if abi < landlock.MIN_ABI:
            return f"Landlock ABI {landlock.MIN_ABI} (this kernel has ABI {abi}: Linux 6.2 or later)"
        return None
    if platform == "darwin":
        from dispatch.sandbox.seatbelt import SANDBOX_EXEC

        return None if os.access(SANDBOX_EXEC, os.X_OK) else f"{SANDBOX_EXEC} (Seatbelt)"
    return "a sandbox for this platform (tool has one on Linux, Landlock, and macOS, Seatbelt)"


def _refusal(path: str, policy: Policy, missing: str) -> ToolError:
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
    from dispatch.sandbox import kernel, landlock, seccomp

    step = "no_new_privs"
    try:
        kernel.prctl(kernel.PR_SET_NO_NEW_PRIVS, 1)
        step = "Landlock"
        rights = {"read": landlock.READ, "write": landlock.WRITE, "device": landlock.DEVICE}
        landlock.restrict(landlock.abi(), [(p, rights[k]) for p, k, _ in rules.paths], net=rules.policy.net)
        step = "the seccomp filter"
        seccomp.install(seccomp.program(rules.policy.net))
    except OSError as e:
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
        self.refusal: ToolError | None = None

    def environ(self, env: dict[str, str]) -> dict[str, str]:
        """`env` for the plugin: its private TMPDIR, and no PROG_SANDBOX (what it starts is
        confined already: a `tool` it runs would confine itself again in vain)."""
        missing = unenforceable()
        try:
            if missing is not None:
                raise _refusal(self.path, self.policy, missing)
            tmp = tmpdir.make(self.inv.environ, self.inv.prog, self.path)
        except ToolError as e:
            self.refusal = e
            return env
        env.pop(self.inv.program.var("SANDBOX"), None)
        env["TMPDIR"] = tmp
        self.rules = ruling.build(self.inv, self.policy, self.path, env, tmp)
        for line in self.rules.describe():
            self.inv.trace(line)
        return env

    def _rules(self) -> Rules:
        if self.refusal is not None:
            raise self.refusal
        if self.rules is None:
            raise cannot_execute(self.path, "its sandbox was not prepared")  # environ() first: a bug
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
            tmpdir.remove(self.rules.tmpdir)


def of_plugin(inv: Invocation, path: str, installed: str | None = None) -> Confinement | None:
    """The confinement of a run of the plugin at `path` (None: it runs unconfined)."""
    found = policies.of_plugin(inv, path, installed)
    return None if found is None else Confinement(inv, path, found)


def mechanism(platform: str = sys.platform) -> str:
    """What enforces a policy on this machine, in words (for doctor)."""
    if platform.startswith("linux"):
        from dispatch.sandbox import landlock

        return f"Landlock ABI {landlock.abi()}, no_new_privs and a seccomp filter ({os.uname().machine})"
    return "Seatbelt (sandbox-exec)" if platform == "darwin" else "none"


def trial(policy: Policy) -> str | None:
    """Confine a throwaway thread with `policy` (the system readable, nothing else): None when
    this machine enforces it, else what is missing. The host's own threads stay free."""
    missing = unenforceable()
    if missing is not None:
        return f"this machine lacks {missing}"
    if sys.platform == "darwin":
        return None  # a profile is applied by sandbox-exec as the plugin starts; nothing to try here
    rules = ruling.Rules(policy, (("/usr", "read", "the system directory"),), "", ())
    try:
        in_thread(lambda: len(confine(rules, ["trial"])))
    except ToolError as e:
        return e.message
    return None


def in_use(inv: Invocation) -> list[Policy]:
    """Every policy the run and the config name (for doctor)."""
    names = [inv.options.sandbox] + [g.policy for g in (inv.config.sandbox.values() if inv.config else ())]
    return list(dict.fromkeys(policies.parse(n) for n in names if n))
