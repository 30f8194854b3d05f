"""How a supervised run ends: why the host stopped the plugin, and what the caller sees.

One table names every reason the host stops a plugin, with what the plugin is
told (`cancel`'s reason on the wire) and the JSON code of the host's own
error line, when the host reports one.
"""
from __future__ import annotations

import _signal

from dispatch.exitcodes import ExitCode

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Final, Literal

    from dispatch.context import Options

    # Why the host stopped a plugin: --timeout ran out, --max-output was reached, the user's
    # Ctrl-C, the host was sent SIGTERM/SIGHUP/SIGQUIT, the host's own stdout went away.
    StopReason = Literal["timeout", "limit", "interrupt", "signal", "output"]

# stop reason -> (cancel reason on the wire, JSON code of the host's error line or None)
STOP_REASONS: Final = {
    "timeout": ("timeout", "timeout"),  # --timeout ran out
    "limit": ("terminate", "limit_exceeded"),  # --max-output reached
    "interrupt": ("interrupt", None),  # the user's Ctrl-C
    "signal": ("terminate", None),  # the host was sent SIGTERM, SIGHUP or SIGQUIT
    "output": ("terminate", None),  # the host's own stdout went away
}


class Outcome:
    """The invocation's status, the signal the host dies by (if any), and the host's own
    failure report (code, JSON code, message) when it stopped the plugin for a limit."""

    __slots__ = ("status", "dies_by", "failure", "note")

    def __init__(self, status: int, dies_by: int | None = None, failure: tuple[int, str, str] | None = None,
                 note: str | None = None) -> None:
        self.status = status
        self.dies_by = dies_by
        self.failure = failure
        self.note = note

    @property
    def code(self) -> int:
        """What the entry point returns: the status, or -N to die by signal N."""
        return -self.dies_by if self.dies_by is not None else self.status


def settle(
    *,
    name: str,
    status: int,
    killed_by: int | None,
    reason: StopReason | None,
    stop_signal: int | None,
    escalated: bool,
    spoke_protocol: bool,
    reported_error: bool,
    held_terminal: bool = False,
    options: Options,
) -> Outcome:
    """The outcome of a run whose plugin exited with `status` (killed by `killed_by`), after
    the host stopped it for `reason` (None: it ended by itself). `held_terminal`: its group had
    the terminal when it ended (a Ctrl-C then reached it, not the host)."""
    if reason == "timeout":
        message = f"{name} did not finish within {options.timeout:g} s (--timeout); it was stopped"
        return Outcome(ExitCode.TIMEOUT, failure=(ExitCode.TIMEOUT, "timeout", message))
    if reason == "limit":
        message = f"{name} wrote more than {options.max_output} byte{'s' if options.max_output != 1 else ''} to stdout (--max-output); it was stopped"
        return Outcome(ExitCode.TIMEOUT, failure=(ExitCode.TIMEOUT, "limit_exceeded", message))
    if options.max_cpu is not None and reason is None and killed_by in (_signal.SIGXCPU, _signal.SIGKILL):
        message = f"{name} used more than {options.max_cpu:g} s of CPU time (--max-cpu); it was stopped"
        return Outcome(ExitCode.TIMEOUT, failure=(ExitCode.TIMEOUT, "limit_exceeded", message))
    dies_by = killed_by
    if reason == "signal" and stop_signal is not None:
        dies_by = stop_signal  # the host was told to stop: after its last words, it does
    elif reason == "interrupt" and spoke_protocol and (status == ExitCode.INTERRUPTED or escalated):
        dies_by = _signal.SIGINT  # the protocol's answer to Ctrl-C, as a shell loop needs to see it
    elif reason is None and spoke_protocol and held_terminal and status == ExitCode.INTERRUPTED:
        dies_by = _signal.SIGINT  # the same answer to a Ctrl-C the terminal sent to the plugin's group
    elif reason == "output":
        dies_by = _signal.SIGPIPE  # our reader went away, as it would have killed an exec'd plugin
    elif reported_error and status == 0:
        status = ExitCode.FAILURE  # an `error` message, then exit 0: a failure all the same
    if dies_by is not None:
        status = ExitCode.SIGNAL_BASE + dies_by
    note = None
    if options.max_memory is not None and status != 0 and reason is None:
        note = (
            f"note: {name} failed (status {status}) while limited to {options.max_memory} bytes "
            f"of memory (--max-memory); the limit may be the cause"
        )
    return Outcome(status, dies_by, note=note)
