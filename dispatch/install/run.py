"""The programs an install runs (git, pip, `python -m venv`), and the conditions every command
that writes to the store runs under.

Each program runs in a process group of its own, joined to a guard (dispatch/process/spawn.py):
when it ends, when its deadline passes, when the command is interrupted (Ctrl-C) or terminated
(SIGTERM, SIGHUP), the whole group is killed and reaped, so nothing it started goes on writing
into a version directory; when `tool` itself is killed (SIGKILL), the guard kills the group.

`command(fn)` runs a writing command: umask 077 (everything made is private, 0700 and 0600,
whatever the user's umask: design section 6, for pip's and git's files too), and SIGTERM and
SIGHUP unwind like Ctrl-C (the version being made is removed), after which `tool` dies by the
signal, as it would have.
"""
from __future__ import annotations

import os
import signal
import subprocess

from dispatch.errors import ToolError
from dispatch.exitcodes import ExitCode
from dispatch.process.spawn import Child, start_guard

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Mapping, Sequence
    from types import FrameType

GIT_DEADLINE = 600.0  # seconds for one git command (a clone of a large repository over a slow link)
PIP_DEADLINE = 3600.0  # pip may compile extensions for a long time
VENV_DEADLINE = 600.0


class Stopped(BaseException):
    """SIGTERM or SIGHUP arrived while a command was writing: it unwinds as KeyboardInterrupt does."""

    def __init__(self, signum: int) -> None:
        super().__init__(f"signal {signum}")
        self.signum = signum


def _stop(signum: int, _frame: FrameType | None) -> None:
    raise Stopped(signum)


def command(fn: Callable[[], int]) -> int:
    """Run a command that writes to the store: private files, SIGTERM/SIGHUP unwinding.
    Returns its status, or -N when signal N stopped it (the entry point then dies by N)."""
    umask = os.umask(0o077)
    saved: dict[int, object] = {}
    try:
        for signum in (int(signal.SIGTERM), int(signal.SIGHUP)):
            try:
                saved[signum] = signal.signal(signum, _stop)
            except ValueError:  # not the main thread (an embedding program): its own handling applies
                break
        return fn()
    except Stopped as e:
        return -e.signum
    finally:
        for signum, handler in saved.items():
            signal.signal(signum, handler)  # type: ignore[arg-type]
        os.umask(umask)


def run(
    argv: Sequence[str], env: Mapping[str, str], *, deadline: float, what: str, capture: bool = True,
) -> tuple[int, bytes, bytes]:
    """Run `argv` to its end: (exit status, stdout, stderr). Without `capture`, its stdout goes
    to our stderr and its stderr is ours (progress a person watches). Past `deadline` seconds
    it is stopped and `what` is named in the error."""
    guarded = start_guard()
    try:
        proc = subprocess.Popen(
            list(argv), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE if capture else 2,
            stderr=subprocess.PIPE if capture else None, env=dict(env),
            process_group=guarded[0] if guarded else 0,
        )
    except BaseException:
        if guarded:
            os.close(guarded[1])
            os.waitpid(guarded[0], 0)  # EOF: it kills its (empty) group and itself
        raise
    group = Child(proc.pid, guarded[0] if guarded else proc.pid, None, None, argv[0])
    if guarded:
        group.guard, group.guard_fd = guarded
    try:
        out, err = proc.communicate(timeout=deadline)
    except subprocess.TimeoutExpired:
        raise ToolError(ExitCode.FAILURE, f"{what} did not finish within {deadline:.0f} s; it was stopped") from None
    finally:
        # Whatever it left running in its group (a build's daemon) must not outlive it either.
        group.kill_group()
        if proc.returncode is None:
            proc.kill()
            proc.wait()
    return proc.returncode, out or b"", err or b""
