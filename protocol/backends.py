"""The two ways a Context reaches the user: through the host (`Host`: protocol messages, with
a fallback for every feature the host does not list) or directly on the terminal (`Terminal`:
the plugin run as an ordinary command)."""
from __future__ import annotations

import io
import os
import sys

from protocol.errors import InteractionUnavailable, PluginError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence
    from typing import Any, BinaryIO

    from protocol.channel import Channel


def _json_line(data: object) -> str:
    from protocol.framing import dumps

    return dumps(data) + "\n"


class _ReadInput(io.RawIOBase):
    """The user's stdin read through `read_input` requests, as a file."""

    def __init__(self, host: Host) -> None:
        self.host = host

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        data = self.host.read_input(min(len(buffer), 1 << 20))
        buffer[: len(data)] = data
        return len(data)


class Host:
    """The context run by the host: every call is a protocol message."""

    def __init__(self, channel: Channel, features: Sequence[str], stdin_fd: object) -> None:
        self.channel = channel
        self.features = set(features)
        self.wrote_output = False
        self.stdin_fd = stdin_fd if type(stdin_fd) is int and "stdin_fd" in self.features else None
        if self.stdin_fd is not None:
            try:
                os.set_inheritable(self.stdin_fd, False)  # the plugin's own children do not get it
            except OSError:
                self.stdin_fd = None
        self._stdin: BinaryIO | None = None

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

    def record(self, data: dict[str, Any]) -> None:
        if "records" in self.features:
            self.wrote_output = True
            self.channel.send({"type": "record", "data": data})
        else:
            self.output(_json_line(data))  # an older host: a JSON line is what a pipe would get

    def log(self, level: str, message: str) -> None:
        self.channel.send({"type": "log", "level": level, "message": message})

    def progress(
        self, message: str, current: float | None, total: float | None, *, key: str = "", done: bool = False
    ) -> None:
        msg: dict[str, Any] = {"type": "progress", "message": message}
        if current is not None:
            msg["current"] = current
        if total is not None:
            msg["total"] = total
        if key and "progress_ids" in self.features:
            msg["id"] = key
            if done:
                msg["done"] = True
        elif done:
            return  # an older host shows one line, cleared with the next output
        self.channel.send(msg)

    def ask(self, method: str, params: Mapping[str, Any]) -> object:
        if method == "prompt" or method in self.features:
            return self.channel.request(method, params)["value"]
        # An older host: the question as a text prompt, its answer read as a person's would be.
        from protocol.questions import Question

        question = Question(method, params)
        choices = question.choices
        hint = " (y/n)" if method == "confirm" else " (" + "/".join(choices) + ")"
        prompt: dict[str, Any] = {"message": question.message + hint}
        if question.default is not None:
            prompt["default"] = ("y" if question.default else "n") if method == "confirm" else str(question.default)
        answer = str(self.channel.request("prompt", prompt)["value"])
        done, value = question.answer(answer)
        if not done:
            raise PluginError(f"{answer.strip()!r} does not answer {question.message!r}", code="invalid_answer")
        return value

    def read_input(self, max_bytes: int) -> bytes:
        import binascii

        result = self.channel.request("read_input", {"max_bytes": max_bytes})
        return binascii.a2b_base64(result.get("base64", ""))

    def stdin(self) -> BinaryIO:
        if self._stdin is None:
            if self.stdin_fd is not None:
                self._stdin = open(self.stdin_fd, "rb", closefd=False)  # noqa: SIM115 - the run's, for its length
            else:
                self._stdin = io.BufferedReader(_ReadInput(self))
        assert self._stdin is not None
        return self._stdin

    def call(self, argv: list[str]) -> Mapping[str, Any]:
        if "call" not in self.features:
            raise PluginError("this host cannot run other commands for a plugin (`call`): upgrade it", code="unsupported")
        return self.channel.request("call", {"argv": argv})

    def terminal(self) -> _Terminal:
        if "terminal" not in self.features:
            raise InteractionUnavailable("this host cannot hand over the terminal: upgrade it")
        return _Terminal(self.channel)

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


class Terminal:
    """The context run directly: text on stdout, logs and progress on stderr, questions on the terminal."""

    cancelled = False

    def __init__(self, verbosity: int, width: int, program: str) -> None:
        self.program = program  # the dispatcher to run other commands with
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

    def record(self, data: dict[str, Any]) -> None:
        self.output(_json_line(data))

    def log(self, level: str, message: str) -> None:
        from protocol.messages import LOG_LEVELS  # the first log's cost, not every start's

        if self.verbosity >= LOG_LEVELS[level]:
            self.clear_progress()
            prefix = "" if level == "info" else f"{level}: "
            sys.stderr.write(f"{prefix}{message}\n")
            sys.stderr.flush()

    def progress(
        self, message: str, current: float | None, total: float | None, *, key: str = "", done: bool = False
    ) -> None:
        if done:
            self.clear_progress()
        elif sys.stderr.isatty():
            from protocol.width import cut

            text = message + (f" {current}/{total}" if current is not None and total else "")
            sys.stderr.write("\r\x1b[2K" + cut(" ".join(text.split()), self.width - 1))
            sys.stderr.flush()
            self.progress_shown = True

    def clear_progress(self) -> None:
        if self.progress_shown:
            self.progress_shown = False
            sys.stderr.write("\r\x1b[2K")
            sys.stderr.flush()

    def ask(self, method: str, params: Mapping[str, Any]) -> object:
        from protocol.questions import Question

        if not sys.stdin.isatty():
            raise InteractionUnavailable(f"cannot ask {params['message']!r}: stdin is not a terminal")
        self.clear_progress()
        question = Question(method, params)
        problem = question.problem()
        if problem is not None:
            raise PluginError(problem, code="invalid_params")
        text = question.text()
        while True:
            done, value = question.answer(self._read_answer(text, question.secret))
            if done:
                return value
            text = question.again()

    @staticmethod
    def _read_answer(text: str, secret: bool) -> str:
        try:
            if secret:
                import getpass

                return getpass.getpass(text, stream=sys.stderr)
            sys.stderr.write(text)
            sys.stderr.flush()
            answer = sys.stdin.readline()
            if not answer:
                raise EOFError
            return answer.rstrip("\n")
        except EOFError:
            raise PluginError("no answer (end of input)", code="interaction_cancelled") from None
        except KeyboardInterrupt:
            sys.stderr.write("\n")  # the shell's next prompt on a line of its own
            raise

    def read_input(self, max_bytes: int) -> bytes:
        stdin = sys.stdin.buffer
        return stdin.read1(max_bytes) if hasattr(stdin, "read1") else stdin.read(max_bytes)

    def stdin(self) -> BinaryIO:
        return sys.stdin.buffer

    def call(self, argv: list[str]) -> Mapping[str, Any]:
        """Run directly: the program runs the command in a child, and its answer is made of its
        --json lines exactly as the host makes it (protocol/calls.py)."""
        import subprocess

        from protocol.calls import CallOutput

        program = self.program
        try:
            proc = subprocess.run([program, "--json", "--no-input", *argv], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE)
        except OSError as e:
            raise PluginError(f"cannot run {program}: {e.strerror}", code="call_failed") from None
        collected = CallOutput()
        for line in proc.stdout.split(b"\n"):
            if line.rstrip(b"\r"):
                collected.line(line.rstrip(b"\r"))
        try:
            return collected.answer(proc.returncode)
        except ValueError as e:
            raise PluginError(f"the called command failed: {e}", code="call_failed") from None

    def terminal(self) -> _OnTerminal:
        return _OnTerminal()  # run directly, the plugin is on the terminal already

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


# The two `terminal()` context managers as small classes: `contextlib` would bring `collections`
# and `functools` into every plugin's start (about 3 ms).
class _Terminal:
    """The user's terminal as fds 0 and 1 while the host has handed it over."""

    __slots__ = ("channel", "saved", "tty")

    def __init__(self, channel: Channel) -> None:
        self.channel = channel
        self.saved: tuple[int, int] | None = None
        self.tty: int | None = None

    def __enter__(self) -> None:
        self.channel.request("terminal", {})
        self.saved = (os.dup(0), os.dup(1))
        try:
            self.tty = os.open("/dev/tty", os.O_RDWR)
            os.dup2(self.tty, 0)
            os.dup2(self.tty, 1)
        except BaseException:
            self.__exit__()
            raise

    def __exit__(self, *exc: object) -> None:
        # The protocol's own descriptors were kept aside at start: fds 0 and 1 get back
        # what the SDK gave them (/dev/null and stderr).
        assert self.saved is not None
        sys.stdout.flush()
        os.dup2(self.saved[0], 0)
        os.dup2(self.saved[1], 1)
        for fd in (*self.saved, self.tty):
            if fd is not None:
                os.close(fd)
        self.saved = self.tty = None
        self.channel.send({"type": "terminal_end"})


class _OnTerminal:
    """Run directly: the plugin is on the user's terminal already."""

    __slots__ = ()

    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> None:
        return None
