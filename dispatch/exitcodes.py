"""The exit codes of the host: public, documented in docs/exit-codes.md.

Plain ints in a namespace: the start-up and session paths cannot afford the
import of `enum`, and a script reads them as numbers anyway.
"""
from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Final


class ExitCode:
    OK: Final = 0
    FAILURE: Final = 1
    USAGE: Final = 2
    INTERNAL: Final = 70
    PROTOCOL: Final = 76
    TIMEOUT: Final = 124  # a limit the user set ran out: --timeout, --max-output, --max-cpu
    CANNOT_EXECUTE: Final = 126
    NOT_FOUND: Final = 127
    SIGNAL_BASE: Final = 128  # + N: killed by signal N
    INTERRUPTED: Final = 130


# The `code` of the JSON error line for a failure of the host itself (`--json`).
JSON_CODES: Final = {
    ExitCode.USAGE: "usage_error",
    ExitCode.INTERNAL: "internal_error",
    ExitCode.PROTOCOL: "protocol_error",
    ExitCode.TIMEOUT: "timeout",
    ExitCode.CANNOT_EXECUTE: "cannot_execute",
    ExitCode.NOT_FOUND: "not_found",
}


def from_wait_status(returncode: int) -> int:
    """A subprocess return code (negative: killed by that signal) as a shell would show it."""
    if returncode < 0:
        return ExitCode.SIGNAL_BASE - returncode
    return returncode
