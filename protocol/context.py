"""What the author's run function gets: one `Context` over two backends. Run by the host, the
context talks the protocol (`_Host`); run directly, it is an ordinary command on the terminal
(`_Terminal`). The author's code is the same either way."""
from __future__ import annotations

import sys

from protocol.errors import InteractionUnavailable, PluginError
from protocol.messages import LOG_LEVELS

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping
    from typing import Any

    from protocol.channel import Channel


class _Log:
    def __init__(self, ctx: Context) -> None:
        self._ctx = ctx

    def debug(self, message: str) -> None:
        self._ctx._backend.log("debug", message)

    def info(self, message: str) -> None:
        self._ctx._backend.log("info", message)

    def warning(self, message: str) -> None:
        self._ctx._backend.log("warning", message)

    def error(self, message: str) -> None:
        self._ctx._backend.log("error", message)


class Context:
    """What a run gets: its arguments, the user's settings, and the ways to talk to the user."""

    def __init__(self, run: Mapping[str, Any], channel: Channel | None = None) -> None:
        self.args: list[str] = list(run.get("argv", []))
        self.interactive: bool = bool(run.get("interactive", False))
        self.output_mode: str = str(run.get("output", "text"))
        self.color: bool = bool(run.get("color", False))
        self.width: int = int(run.get("width", 80))
        self.verbosity: int = int(run.get("verbosity", 0))
        self.host: Mapping[str, Any] = run.get("host") or {}
        self.protocol: int | None = channel.version if channel is not None else None
        self.log = _Log(self)
        self._backend: _Host | _Terminal = _Host(channel) if channel is not None else _Terminal(self.verbosity, self.width)

    @property
    def cancelled(self) -> bool:
        """True once the host asked the plugin to stop; long loops should check it."""
        return self._backend.cancelled

    def output(self, data: str | bytes) -> None:
        """Text or bytes for the user's stdout, verbatim."""
        self._backend.output(data)

    def progress(self, message: str = "", current: float | None = None, total: float | None = None) -> None:
        """A live progress line (shown by the host on a terminal only)."""
        self._backend.progress(message, current, total)

    def prompt(self, message: str, *, default: str | None = None, secret: bool = False) -> str:
        """Ask the user; raises InteractionUnavailable without a terminal or with --no-input."""
        return self._backend.prompt(message, default, secret)

    def read_input(self, max_bytes: int = 65536) -> bytes:
        """Up to max_bytes of the user's stdin; b"" at end of input."""
        return self._backend.read_input(max_bytes)


def backend(ctx: Context) -> _Host | _Terminal:
    """For the SDK's lifecycle (protocol/plugin.py): where the context's results and errors go."""
    return ctx._backend


class _Host:
    """The context run by the host: every call is a protocol message."""

    def __init__(self, channel: Channel) -> None:
        self.channel = channel
        self.wrote_output = False

    @property
    def cancelled(self) -> bool:
        return self.channel.cancel_reason is not None

    def output(self, data: str | bytes) -> None:
        self.wrote_output = True
        if isinstance(data, str):
            try:
                data.encode("utf-8")
                self.channel.send({"type": "output", "text": data})
                return
            except UnicodeEncodeError:
                data = data.encode("utf-8", "surrogateescape")
        import binascii

        self.channel.send({"type": "output", "base64": binascii.b2a_base64(data, newline=False).decode("ascii")})

    def log(self, level: str, message: str) -> None:
        self.channel.send({"type": "log", "level": level, "message": message})

    def progress(self, message: str, current: float | None, total: float | None) -> None:
        msg: dict[str, Any] = {"type": "progress", "message": message}
        if current is not None:
            msg["current"] = current
        if total is not None:
            msg["total"] = total
        self.channel.send(msg)

    def prompt(self, message: str, default: str | None, secret: bool) -> str:
        params: dict[str, Any] = {"message": message, "secret": secret}
        if default is not None:
            params["default"] = default
        return str(self.channel.request("prompt", params)["value"])

    def read_input(self, max_bytes: int) -> bytes:
        import binascii

        result = self.channel.request("read_input", {"max_bytes": max_bytes})
        return binascii.a2b_base64(result.get("base64", ""))

    def result(self, value: object) -> None:
        self.channel.send({"type": "result", "data": value})

    def report(self, name: str, e: PluginError) -> None:
        msg: dict[str, Any] = {"type": "error", "code": e.code, "message": e.message}
        if e.hint:
            msg["hint"] = e.hint
        try:
            self.channel.send(msg)
        except OSError:
            pass

    def clear_progress(self) -> None:
        pass


class _Terminal:
    """The context run directly: text on stdout, logs and progress on stderr, prompts on the terminal."""

    cancelled = False

    def __init__(self, verbosity: int, width: int) -> None:
        self.verbosity = verbosity
        self.width = width
        self.wrote_output = False
        self.progress_shown = False

    def output(self, data: str | bytes) -> None:
        self.clear_progress()
        self.wrote_output = True
        out = sys.stdout
        if isinstance(data, str):
            out.write(data)
        else:
            out.flush()
            out.buffer.write(data)
        out.flush()

    def log(self, level: str, message: str) -> None:
        if self.verbosity >= LOG_LEVELS[level]:
            self.clear_progress()
            prefix = "" if level == "info" else f"{level}: "
            sys.stderr.write(f"{prefix}{message}\n")
            sys.stderr.flush()

    def progress(self, message: str, current: float | None, total: float | None) -> None:
        if sys.stderr.isatty():
            text = message + (f" {current}/{total}" if current is not None and total else "")
            sys.stderr.write("\r\x1b[2K" + text[: self.width - 1])
            sys.stderr.flush()
            self.progress_shown = True

    def clear_progress(self) -> None:
        if self.progress_shown:
            self.progress_shown = False
            sys.stderr.write("\r\x1b[2K")
            sys.stderr.flush()

    def prompt(self, message: str, default: str | None, secret: bool) -> str:
        if not sys.stdin.isatty():
            raise InteractionUnavailable(f"cannot ask {message!r}: stdin is not a terminal")
        self.clear_progress()
        text = message.rstrip() + (f" [{default}]" if default is not None and not secret else "") + " "
        try:
            if secret:
                import getpass

                answer = getpass.getpass(text, stream=sys.stderr)
            else:
                sys.stderr.write(text)
                sys.stderr.flush()
                answer = sys.stdin.readline()
                if not answer:
                    raise EOFError
                answer = answer.rstrip("\n")
        except EOFError:
            raise PluginError("no answer (end of input)", code="interaction_cancelled") from None
        except KeyboardInterrupt:
            sys.stderr.write("\n")  # the shell's next prompt on a line of its own
            raise
        return default if not answer and default is not None else answer

    def read_input(self, max_bytes: int) -> bytes:
        stdin = sys.stdin.buffer
        return stdin.read1(max_bytes) if hasattr(stdin, "read1") else stdin.read(max_bytes)

    def result(self, value: object) -> None:
        if self.wrote_output:
            return  # a plugin that already wrote text for people returns the result for scripts (--json)
        if isinstance(value, str):
            text = value
        else:
            import json

            text = json.dumps(value, indent=2, ensure_ascii=False)
        sys.stdout.write(text if text.endswith("\n") else text + "\n")
        sys.stdout.flush()

    def report(self, name: str, e: PluginError) -> None:
        sys.stderr.write(f"{name}: error: {e.message}\n")
        if e.hint:
            sys.stderr.write(f"{name}: hint: {e.hint}\n")
