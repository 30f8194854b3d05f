"""The exceptions a plugin written with the SDK raises or sees."""
from __future__ import annotations


class PluginError(Exception):
    """A failure to report to the user: `code` is a snake_case identifier for scripts."""

    def __init__(self, message: str, *, code: str = "error", hint: str | None = None, exit_code: int = 1) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.hint = hint
        self.exit_code = exit_code if exit_code != 0 else 1


class InteractionUnavailable(PluginError):
    """A prompt could not be asked: no terminal, or the user said --no-input."""

    def __init__(self, message: str) -> None:
        super().__init__(message, code="interaction_unavailable", hint="pass the value as an argument instead")


class Cancelled(BaseException):
    """The host asked the plugin to stop (Ctrl-C, timeout, terminate) or went away.

    A BaseException, like KeyboardInterrupt: `except Exception` in the author's
    code does not swallow it; `finally` blocks run.
    """

    def __init__(self, reason: str = "interrupt") -> None:
        super().__init__(reason)
        self.reason = reason


# The exit status after a cancel, by its reason (docs/protocol.md).
CANCEL_STATUS = {"interrupt": 130, "timeout": 124, "terminate": 143, "host_gone": 143}
