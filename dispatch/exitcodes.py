"""The exit codes of the host: public, documented in docs/exit-codes.md.

Kept off the start-up path (enum costs more than the whole dispatch):
code that only needs a number on the hot path uses the int directly and
imports this module where an error is being built.
"""
from __future__ import annotations

import enum


class ExitCode(enum.IntEnum):
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


def from_wait_status(returncode: int) -> int:
    """A subprocess return code (negative: killed by that signal) as a shell would show it."""
    if returncode < 0:
        return ExitCode.SIGNAL_BASE + -returncode
    return returncode
