"""The exit codes of the host: public, documented in docs/exit-codes.md.

`ExitCode` is an IntEnum of them, for everything that reports. It is built
on first use: importing `enum` costs more than the whole dispatch of a
command, so the start-up and session paths use the plain int constants
below, which are the same values.
"""
from __future__ import annotations

OK = 0
FAILURE = 1
USAGE = 2
INTERNAL = 70
PROTOCOL = 76
TIMEOUT = 124
CANNOT_EXECUTE = 126
NOT_FOUND = 127
SIGNAL_BASE = 128
INTERRUPTED = 130

_NAMES = ("OK", "FAILURE", "USAGE", "INTERNAL", "PROTOCOL", "TIMEOUT", "CANNOT_EXECUTE", "NOT_FOUND", "SIGNAL_BASE", "INTERRUPTED")

def __getattr__(name: str) -> object:
    if name == "ExitCode":
        import enum

        cls = enum.IntEnum("ExitCode", {n: globals()[n] for n in _NAMES}, module=__name__)  # type: ignore[misc]
        globals()["ExitCode"] = cls
        return cls
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def from_wait_status(returncode: int) -> int:
    """A subprocess return code (negative: killed by that signal) as a shell would show it."""
    if returncode < 0:
        return SIGNAL_BASE + -returncode
    return returncode
