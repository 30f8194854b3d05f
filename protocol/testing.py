"""A fake host for testing a plugin in a few lines, whatever language it is written in.

    from protocol.testing import run_plugin

    def test_greet():
        t = run_plugin(["./tool-greet"], ["Ada"])
        assert t.exit_code == 0
        assert t.output == b"Hello, Ada!\\n"
        assert t.result == {"greeted": "Ada"}

It starts the plugin with TOOL_PROTOCOL set (the rest of the environment is
the test's own, with `env` merged in), checks every message it sends against
the protocol and protocol/schema/v1.json, answers questions (prompt, confirm,
choose) from `answers`, `read_input` (or the descriptor of `stdin_fd=True`)
from `stdin` and `call` requests from `calls`, and returns everything that
happened as a Transcript. A broken message raises ProtocolError with the
offending line, the plugin's exit status and the end of its stderr.

`features` is what the fake host has (all of protocol 1's by default): pass
fewer to see how the plugin does with an older host.
"""
from __future__ import annotations

import binascii
import os
import subprocess
import threading
import time

from protocol import framing, messages, schema, versions
from protocol.client import Client
from protocol.errors import ProtocolError
from protocol.questions import METHODS, Question

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Mapping, Sequence
    from typing import Any

    Answers = Mapping[str, str | bool] | Callable[[str], str | bool | None] | None

__all__ = ["ProtocolError", "Transcript", "run_plugin"]


class Transcript:
    """What a plugin did during one run.

    - `hello`: its hello message;
    - `messages`: every message after the hello, in order (dicts, as sent);
    - `output`: the bytes of its `output` messages, joined;
    - `logs`: (level, message) of its `log` messages;
    - `records`: the `data` of its `record` messages;
    - `progress`: its `progress` messages;
    - `prompts`: the `message` of each question it asked (prompt, confirm or choose);
    - `calls`: the argv of each `call` request;
    - `result`, `has_result`: its `result` data (None and False when it sent none);
    - `error`: its `error` message, or None;
    - `exit_code`: its exit status (negative: killed by that signal);
    - `stderr`: everything it wrote to stderr.
    """

    def __init__(self) -> None:
        self.hello: dict[str, Any] | None = None
        self.messages: list[dict[str, Any]] = []
        self.output = b""
        self.logs: list[tuple[str, str]] = []
        self.records: list[Any] = []
        self.progress: list[dict[str, Any]] = []
        self.prompts: list[str] = []
        self.calls: list[list[str]] = []
        self.result: Any = None
        self.has_result = False
        self.error: dict[str, Any] | None = None
        self.exit_code: int | None = None
        self.stderr = b""


def run_plugin(
    command: Sequence[str],
    args: Sequence[str] = (),
    *,
    answers: Answers = None,
    stdin: bytes = b"",
    stdin_fd: bool = False,
    calls: Callable[[list[str]], Mapping[str, Any]] | None = None,
    features: Sequence[str] = messages.FEATURES,
    interactive: bool = True,
    output: str = "text",
    env: Mapping[str, str] | None = None,
    replace_env: bool = False,
    offer: Sequence[int] = versions.SUPPORTED,
    cancel_after: float | None = None,
    timeout: float = 30.0,
    env_prefix: str = "TOOL_",
) -> Transcript:
    """Run `command` (argv of the plugin executable) as the host would, with `args`.

    `env` is merged into the current environment (`replace_env=True`: it is the whole
    environment). `answers` maps a question's message to the answer (a string; True or
    False for a confirm) or is a function of the message; a question no key matches is an
    error naming the keys, so a typo cannot pass for "no terminal". With
    `interactive=False` every question is answered as a script would be:
    `interaction_unavailable`. `stdin_fd=True` hands `stdin` over as a descriptor named
    in `run` (as the host does when the user's stdin is not a terminal). `calls` gets the
    argv of each `call` request and returns its result ({"exit": 0, "output": "...",
    "records": [...], "result": ...}); without it, calls fail with `call_failed`. The
    `terminal` request is refused: the fake host has none to hand over.
    """
    client = Client(
        host={"name": "tool-testing", "version": "0"}, plugin=command[0], offered=offer, features=features, env_prefix=env_prefix
    )
    full_env = dict(env or {}) if replace_env else {**os.environ, **(env or {})}
    full_env[env_prefix + "PROTOCOL"] = client.offer
    host = _FakeHost(client, [*command, *args], full_env, stdin if stdin_fd else None, timeout)
    try:
        return host.run(args, _Answerer(answers, interactive, calls), stdin=stdin,
                        interactive=interactive, output=output, cancel_after=cancel_after)
    finally:
        host.close()


class _FakeHost:
    """One plugin process and the host's side of its protocol stream."""

    def __init__(self, client: Client, argv: list[str], env: Mapping[str, str], fd_data: bytes | None, timeout: float) -> None:
        self.client = client
        self.timeout = timeout
        self.deadline = time.monotonic() + timeout
        self.transcript = Transcript()
        self.splitter = framing.LineSplitter()
        self.pending: list[bytes] = []
        fd_pipe = os.pipe() if fd_data is not None else None
        self.fd_number = fd_pipe[0] if fd_pipe else None
        self.proc = subprocess.Popen(
            argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env,
            pass_fds=(fd_pipe[0],) if fd_pipe else (),
        )
        if fd_pipe is not None:  # the plugin is told its number in `run` (the host's is 3; a plugin must not assume it)
            os.close(fd_pipe[0])
            threading.Thread(target=_feed, args=(fd_pipe[1], fd_data), daemon=True).start()
        self.err_chunks: list[bytes] = []
        self.err_thread = threading.Thread(target=lambda: self.err_chunks.append(self.proc.stderr.read()), daemon=True)  # type: ignore[union-attr]
        self.err_thread.start()

    def run(self, args: Sequence[str], how: _Answerer, *, stdin: bytes, interactive: bool, output: str,
            cancel_after: float | None) -> Transcript:
        t = self.transcript
        try:
            if not self._greeted():
                t.exit_code = self.proc.wait(self.timeout)
                return t
            self.send(self.client.run(args, interactive=interactive, output=output, stdin_fd=self.fd_number))
            if cancel_after is not None:
                timer = threading.Timer(cancel_after, lambda: self.send(messages.cancel("interrupt", 2.0)))
                timer.daemon = True
                timer.start()
            while (line := self.next_line()) is not None:
                msg = self.checked(line, self.client.message(line))
                t.messages.append(msg)
                stdin = _take(t, msg, self.send, how, stdin)
            t.exit_code = self.proc.wait(max(0.1, self.deadline - time.monotonic()))
            return t
        except (ProtocolError, TimeoutError) as e:
            raise self._failure(e) from None

    def _greeted(self) -> bool:
        """Take the hello; False when the plugin refused to speak (no version in common)."""
        line = self.next_line()
        if line is None:
            raise ProtocolError("no hello: the plugin wrote nothing on stdout")
        try:
            self.client.greeted(line)
        except ProtocolError:
            if self.client.hello is None or self.client.hello.get("protocol") is not None:
                raise  # not a refusal to speak: a broken hello, or a feature this host lacks
        self.transcript.hello = self.checked(line, self.client.hello)  # type: ignore[arg-type]
        return self.client.version is not None

    def _failure(self, e: ProtocolError | TimeoutError) -> Exception:
        """The error to raise, with the plugin's exit status and the end of its stderr."""
        _stop(self.proc)
        self.err_thread.join(5)
        stderr = b"".join(self.err_chunks)
        detail = f" (the plugin exited {self.proc.returncode}; its stderr ends: {stderr[-500:].decode(errors='replace')!r})"
        if isinstance(e, ProtocolError):
            e.message += detail
            return e
        return TimeoutError(str(e) + detail)

    def next_line(self) -> bytes | None:
        while not self.pending:
            if time.monotonic() > self.deadline:
                raise TimeoutError(f"the plugin did not finish within {self.timeout} s")
            data = os.read(self.proc.stdout.fileno(), 1 << 16)  # type: ignore[union-attr]
            if not data:
                if self.splitter.pending:
                    raise ProtocolError("stdout ended in the middle of a message", line=self.splitter.pending)
                return None
            self.pending.extend(self.splitter.feed(data))
        return self.pending.pop(0)

    @staticmethod
    def checked(line: bytes, msg: dict[str, Any]) -> dict[str, Any]:
        problems = schema.errors(msg, "plugin_message")
        if problems:
            raise ProtocolError("message does not match protocol/schema/v1.json: " + "; ".join(problems), line=line)
        return msg

    def send(self, msg: Mapping[str, Any]) -> None:
        messages.check_host_message(msg)
        try:
            self.proc.stdin.write(framing.encode(msg))  # type: ignore[union-attr]
            self.proc.stdin.flush()  # type: ignore[union-attr]
        except BrokenPipeError:
            pass

    def close(self) -> None:
        _stop(self.proc)
        if self.proc.stdin:
            try:
                self.proc.stdin.close()
            except BrokenPipeError:
                pass
        self.err_thread.join(5)
        self.transcript.stderr = b"".join(self.err_chunks)
        if self.proc.stdout:
            self.proc.stdout.close()


class _Answerer:
    def __init__(self, answers: Answers, interactive: bool, calls: Callable[[list[str]], Mapping[str, Any]] | None) -> None:
        self.answers = answers
        self.interactive = interactive
        self.calls = calls

    def question(self, method: str, params: Mapping[str, Any]) -> dict[str, Any]:
        """The result of a prompt, confirm or choose (ProtocolError when `answers` has none)."""
        message = str(params.get("message", ""))
        if callable(self.answers):
            answer = self.answers(message)
            if answer is None:
                raise ProtocolError(f"the plugin asked {message!r} and the answers function returned None")
        elif self.answers is None or message not in self.answers:
            known = ", ".join(repr(k) for k in (self.answers or {})) or "none"
            raise ProtocolError(f"the plugin asked {message!r}, which no key of answers matches (keys: {known})")
        else:
            answer = self.answers[message]
        if method == "confirm" and isinstance(answer, bool):
            return {"value": answer}
        # Any other answer is read as a person's typed answer is read by the host.
        done, value = Question(method, params).answer(str(answer))
        if not done:
            raise ProtocolError(f"the answer {answer!r} does not answer {message!r} ({method}"
                                + (f", choices {params.get('choices')})" if method == "choose" else ")"))
        return {"value": value}


def _take(t: Transcript, msg: dict[str, Any], send: Callable[[Mapping[str, Any]], None], how: _Answerer, stdin_left: bytes) -> bytes:
    """Record one message; answer it when it is a request. Returns the stdin not yet read."""
    kind = msg["type"]
    if kind == "output":
        t.output += msg["text"].encode("utf-8", "surrogatepass") if "text" in msg else binascii.a2b_base64(msg["base64"])
    elif kind == "record":
        t.records.append(msg["data"])
    elif kind == "log":
        t.logs.append((msg["level"], msg["message"]))
    elif kind == "progress":
        t.progress.append(msg)
    elif kind == "result":
        t.result, t.has_result = msg["data"], True
    elif kind == "error":
        t.error = msg
    elif kind == "request":
        rid, method, params = msg["id"], msg["method"], msg.get("params") or {}
        if method in METHODS:
            t.prompts.append(params["message"])
            if how.interactive:
                send(messages.response(rid, how.question(method, params)))
            else:
                send(messages.error_response(rid, "interaction_unavailable", "not interactive (interactive=False)"))
        elif method == "read_input":
            n = params.get("max_bytes", 65536)
            chunk, stdin_left = stdin_left[:n], stdin_left[n:]
            send(messages.response(rid, {"base64": binascii.b2a_base64(chunk, newline=False).decode("ascii"), "eof": not chunk}))
        elif method == "call":
            t.calls.append(list(params["argv"]))
            if how.calls is None:
                send(messages.error_response(rid, "call_failed", "no calls= function was given to run_plugin"))
            else:
                send(messages.response(rid, {"exit": 0, **how.calls(list(params["argv"]))}))
        elif method == "terminal":
            send(messages.error_response(rid, "interaction_unavailable", "the fake host has no terminal to hand over"))
        else:
            send(messages.error_response(rid, "unknown_method", method))
    return stdin_left


def _feed(fd: int, data: bytes) -> None:
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view):]
    except OSError:
        pass  # the plugin stopped reading
    finally:
        os.close(fd)


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.kill()
        proc.wait()
