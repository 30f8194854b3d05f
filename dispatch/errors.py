"""The one public exception of the host."""
from __future__ import annotations


class ToolError(Exception):
    """A failure of the host the user can act on: printed as one `prog:` line, exits with `code`."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def usage_error(message: str) -> ToolError:
    """A mistake on the command line, in the environment or in the config (exit 2)."""
    return ToolError(2, message)


def cannot_execute(path: str, reason: str) -> ToolError:
    """A plugin that was found but cannot run (exit 126), in terms of the file to fix."""
    return ToolError(126, f"cannot run {path}: {reason}")
