"""Asking a protocol plugin a first request other than `run` (describe, complete), within a time bound.

Used by `tool help`, `tool list --refresh`, completion and `tool plugin
check`. Only plugins already known to speak the protocol are asked by the
listing and completion paths; whatever the plugin does, the answer arrives
within the bound or not at all, and the plugin's process group is gone
afterwards.
"""
from __future__ import annotations

import os
import selectors
import time

from protocol import framing, messages, versions
from protocol.messages import ProtocolError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping
    from typing import Any


class Answer:
    """What a plugin said: its hello, its answer (or None), and what went wrong (or None)."""

    __slots__ = ("hello", "answer", "problem", "status", "stream")

    def __init__(self) -> None:
        self.hello: dict[str, Any] | None = None
        self.answer: dict[str, Any] | None = None
        self.problem: str | None = None
        self.status: int | None = None
        self.stream: list[dict[str, Any]] = []  # every message after the hello


def ask(
    path: str,
    request: Mapping[str, Any] | None,
    env: Mapping[str, str],
    *,
    env_prefix: str = "TOOL_",
    timeout: float = 2.0,
    offer: str | None = None,
    answer_type: str | None = None,
    close_stdin_after_hello: bool = False,
    args: tuple[str, ...] = (),
    quiet: bool = True,
    exit_wait: float = 1.0,
) -> Answer:
    """Start the plugin listening for a hello, send `request` first, collect until its answer and exit."""
    from dispatch import spawn

    result = Answer()
    child_env = dict(env)
    child_env[env_prefix + "PROTOCOL"] = offer if offer is not None else versions.format_offer(versions.SUPPORTED)
    try:
        child = spawn.spawn(path, list(args), child_env, quiet=quiet)
    except Exception as e:  # noqa: BLE001 - reported as the plugin's problem
        result.problem = getattr(e, "message", str(e))
        return result
    deadline = time.monotonic() + timeout
    sel = selectors.DefaultSelector()
    sel.register(child.stdout, selectors.EVENT_READ)  # type: ignore[arg-type]
    splitter = framing.LineSplitter()
    try:
        for line in _lines(sel, child.stdout, splitter, deadline):  # type: ignore[arg-type]
            msg = framing.decode(line)
            messages.check_plugin_message(msg)
            if result.hello is None:
                if msg.get("type") != "hello":
                    raise ProtocolError(f"the first message is {msg.get('type')!r}, not 'hello'")
                result.hello = msg
                if msg.get("protocol") is None:
                    break
                if close_stdin_after_hello:
                    os.close(child.stdin)  # type: ignore[arg-type]
                    child.stdin = None
                if request is None:
                    break  # nothing asked: all that is left is to see whether it exits
                _write(child.stdin, framing.encode(request))  # type: ignore[arg-type]
                continue
            result.stream.append(msg)
            if msg.get("type") == "request" and child.stdin is not None:
                # Nobody to ask and no input: the answers a script would get.
                rid = msg.get("id")
                if msg.get("method") == "read_input":
                    reply = {"type": "response", "id": rid, "result": {"base64": "", "eof": True}}
                else:
                    code = "interaction_unavailable" if msg.get("method") == "prompt" else "unknown_method"
                    reply = {"type": "response", "id": rid, "error": {"code": code, "message": "not available here"}}
                _write(child.stdin, framing.encode(reply))
            if answer_type is not None and msg.get("type") == answer_type:
                result.answer = msg
            elif msg.get("type") == "error":
                result.answer = msg
            if result.answer is not None and answer_type is not None:
                break
        else:
            if result.hello is None and result.problem is None:
                result.problem = "no hello"
    except ProtocolError as e:
        result.problem = str(e)
    except TimeoutError:
        result.problem = f"no answer within {timeout:g} s"
    finally:
        result.status = _finish(child, sel, min(deadline, time.monotonic() + exit_wait))
    return result


def _lines(sel: selectors.BaseSelector, fd: int, splitter: framing.LineSplitter, deadline: float):  # type: ignore[no-untyped-def]
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError
        if not sel.select(left):
            continue
        data = os.read(fd, 1 << 16)
        if not data:
            if splitter.pending:
                raise ProtocolError("stdout ended in the middle of a message", line=splitter.pending)
            return
        yield from splitter.feed(data)


def _write(fd: int, data: bytes) -> None:
    try:
        os.write(fd, data)
    except BrokenPipeError:
        pass


def _finish(child: Any, sel: selectors.BaseSelector, deadline: float) -> int | None:
    """Give the plugin until `deadline` (at least 0.5 s) to exit by itself, then stop its group."""
    sel.close()
    for fd in (child.stdin, child.stdout):
        if fd is not None:
            os.close(fd)
    end = max(deadline, time.monotonic() + 0.5)
    status = None
    while time.monotonic() < end:
        pid, wstatus = os.waitpid(child.pid, os.WNOHANG)
        if pid:
            status = os.waitstatus_to_exitcode(wstatus)
            break
        time.sleep(0.01)
    child.kill_group()
    if status is None:
        os.waitpid(child.pid, 0)  # reap it; killed, it has no status of its own
    return status
