"""The one public exception of the host, and the two kinds of it raised most."""
from __future__ import annotations

from dispatch.exitcodes import ExitCode


class ToolError(Exception):
    """A failure of the host the user can act on: printed as one `prog:` line, exits with `code`
    (an `ExitCode`: docs/exit-codes.md)."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def usage_error(message: str) -> ToolError:
    """A mistake on the command line, in the environment or in the config (exit 2)."""
    return ToolError(ExitCode.USAGE, message)


def cannot_execute(path: str, reason: str) -> ToolError:
    """A plugin that was found but cannot run (exit 126), in terms of the file to fix."""
    return ToolError(ExitCode.CANNOT_EXECUTE, f"cannot run {path}: {reason}")
