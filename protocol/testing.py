"""A fake host for testing a plugin in a few lines, whatever language it is written in.

    from protocol.testing import run_plugin

    def test_greet():
        t = run_plugin(["./tool-greet"], ["Ada"])
        assert t.exit_code == 0
        assert t.output == b"Hello, Ada!\\n"
        assert t.result == {"greeted": "Ada"}

It starts the plugin with TOOL_PROTOCOL set, checks every message it sends
against the protocol, answers prompts from `answers` and `read_input` from
`stdin`, and returns everything that happened as a Transcript. A broken
message raises ProtocolError with the offending line.
"""
from __future__ import annotations

import binascii
import os
import subprocess
import threading
import time

from protocol import framing, messages, schema, versions
from protocol.messages import ProtocolError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Mapping, Sequence
    from typing import Any


class Transcript:
    """What a plugin did during one run."""

    def __init__(self) -> None:
        self.hello: dict[str, Any] | None = None
        self.messages: list[dict[str, Any]] = []  # everything after the hello, in order
        self.output = b""
        self.logs: list[tuple[str, str]] = []
        self.progress: list[dict[str, Any]] = []
        self.prompts: list[str] = []
        self.result: Any = None
        self.has_result = False
        self.error: dict[str, Any] | None = None
        self.exit_code: int | None = None
        self.stderr = b""


def run_plugin(
    command: Sequence[str],
    args: Sequence[str] = (),
    *,
    answers: Mapping[str, str] | Callable[[str], str | None] | None = None,
    stdin: bytes = b"",
    interactive: bool = True,
    output: str = "text",
    env: Mapping[str, str] | None = None,
    offer: Sequence[int] = versions.SUPPORTED,
    cancel_after: float | None = None,
    timeout: float = 30.0,
    env_prefix: str = "TOOL_",
) -> Transcript:
    """Run `command` (argv of the plugin executable) as the host would, with `args`."""
    t = Transcript()
    full_env = dict(os.environ if env is None else env)
    full_env[env_prefix + "PROTOCOL"] = versions.format_offer(offer)
    proc = subprocess.Popen(
        [*command, *args], stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=full_env
    )
    err_chunks: list[bytes] = []
    err_thread = threading.Thread(target=lambda: err_chunks.append(proc.stderr.read()), daemon=True)  # type: ignore[union-attr]
    err_thread.start()
    deadline = time.monotonic() + timeout
    stdin_left = stdin
    try:
        splitter = framing.LineSplitter()
        pending: list[bytes] = []

        def next_message() -> dict[str, Any] | None:
            while not pending:
                if time.monotonic() > deadline:
                    raise TimeoutError(f"the plugin did not finish within {timeout} s")
                data = os.read(proc.stdout.fileno(), 1 << 16)  # type: ignore[union-attr]
                if not data:
                    if splitter.pending:
                        raise ProtocolError("stdout ended in the middle of a message", line=splitter.pending)
                    return None
                pending.extend(splitter.feed(data))
            line = pending.pop(0)
            msg = framing.decode(line)
            try:
                messages.check_plugin_message(msg)
            except ProtocolError as e:
                e.line = line
                raise
            problems = schema.errors(msg, "plugin_message")
            if problems:
                raise ProtocolError("message does not match protocol/schema/v1.json: " + "; ".join(problems), line=line)
            return msg

        def send(msg: Mapping[str, Any]) -> None:
            messages.check_host_message(msg)
            try:
                proc.stdin.write(framing.encode(msg))  # type: ignore[union-attr]
                proc.stdin.flush()  # type: ignore[union-attr]
            except BrokenPipeError:
                pass

        hello = next_message()
        if hello is None or hello.get("type") != "hello":
            raise ProtocolError(f"expected a hello first, got {hello!r}")
        t.hello = hello
        if hello["protocol"] is None:
            t.exit_code = proc.wait(timeout)
            return t
        send(
            {
                "type": "run",
                "argv": list(args),
                "interactive": interactive,
                "output": output,
                "color": False,
                "width": 80,
                "verbosity": 0,
                "host": {"name": "tool-testing", "version": "0"},
            }
        )
        if cancel_after is not None:
            timer = threading.Timer(cancel_after, lambda: send({"type": "cancel", "reason": "interrupt"}))
            timer.daemon = True
            timer.start()
        while True:
            msg = next_message()
            if msg is None:
                break
            t.messages.append(msg)
            kind = msg["type"]
            if kind == "output":
                t.output += msg["text"].encode("utf-8") if "text" in msg else binascii.a2b_base64(msg["base64"])
            elif kind == "log":
                t.logs.append((msg["level"], msg["message"]))
            elif kind == "progress":
                t.progress.append(msg)
            elif kind == "result":
                t.result, t.has_result = msg["data"], True
            elif kind == "error":
                t.error = msg
            elif kind == "request":
                rid, params = msg["id"], msg.get("params") or {}
                if msg["method"] == "prompt":
                    t.prompts.append(params["message"])
                    answer = _answer(answers, params["message"]) if interactive else None
                    if answer is None:
                        send({"type": "response", "id": rid, "error": {"code": "interaction_unavailable", "message": "no answer"}})
                    else:
                        send({"type": "response", "id": rid, "result": {"value": answer}})
                elif msg["method"] == "read_input":
                    n = params.get("max_bytes", 65536)
                    chunk, stdin_left = stdin_left[:n], stdin_left[n:]
                    encoded = binascii.b2a_base64(chunk, newline=False).decode("ascii")
                    send({"type": "response", "id": rid, "result": {"base64": encoded, "eof": not chunk}})
                else:
                    send({"type": "response", "id": rid, "error": {"code": "unknown_method", "message": msg["method"]}})
        t.exit_code = proc.wait(max(0.1, deadline - time.monotonic()))
        return t
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        if proc.stdin:
            try:
                proc.stdin.close()
            except BrokenPipeError:
                pass
        err_thread.join(5)
        t.stderr = b"".join(err_chunks)
        if proc.stdout:
            proc.stdout.close()


def _answer(answers: Mapping[str, str] | Callable[[str], str | None] | None, message: str) -> str | None:
    if answers is None:
        return None
    if callable(answers):
        return answers(message)
    return answers.get(message)
