"""The exceptions of the protocol: a broken stream or message (`ProtocolError`, seen by hosts
and plugins alike), and what a plugin written with the SDK raises or sees. A leaf module: the
host imports it on paths that need nothing else of the protocol."""
from __future__ import annotations


class ProtocolError(ValueError):
    """A message or stream that breaks the protocol.

    `message` says what is wrong; `field` names the offending field when
    there is one; `line` holds (a prefix of) the offending line; `fix` says
    what to do, when that is known (a version mismatch: which side to upgrade).
    """

    def __init__(self, message: str, *, field: str | None = None, line: bytes | None = None, fix: str | None = None) -> None:
        self.message = message
        self.field = field
        self.line = line
        self.fix = fix
        super().__init__(message)

    @property
    def detail(self) -> str:
        """What is wrong, with the offending line, without the fix."""
        return self.message if self.line is None else f"{self.message}: {quote(self.line)}"

    def __str__(self) -> str:
        return self.detail if self.fix is None else f"{self.detail}; {self.fix}"


def quote(line: bytes, limit: int = 80) -> str:
    """A short, printable rendering of an offending line."""
    shown = line[:limit].decode("utf-8", "replace")
    shown = "".join(c if c.isprintable() else repr(c)[1:-1] for c in shown)
    return repr(shown) + (f" ({len(line)} bytes)" if len(line) > limit else "")


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


# Statuses a plugin written with the SDK ends with (docs/exit-codes.md). The SDK does not import
# the host's ExitCode (a plugin needs none of the host); these are the same numbers, by name.
SIGNAL_BASE = 128  # + N: as if killed by signal N, as a shell shows it
TIMEOUT = 124  # a limit the user set ran out
# The exit status after a cancel, by its reason (docs/protocol.md): SIGINT 2, SIGTERM 15.
CANCEL_STATUS = {"interrupt": SIGNAL_BASE + 2, "timeout": TIMEOUT, "terminate": SIGNAL_BASE + 15, "host_gone": SIGNAL_BASE + 15}
