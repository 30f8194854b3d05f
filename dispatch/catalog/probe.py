"""Asking a plugin that declares the protocol one first request (describe, complete, run),
within a time bound: for `tool help`, `tool list --refresh`, completion and `tool plugin check`.

Whatever the plugin does, the answer arrives within the bound or not at all,
and the plugin's process group is gone afterwards. The messages are checked
by the one host-side protocol client (protocol/client.py).
"""
from __future__ import annotations

import os
import time

from dispatch.process import poller as events
from dispatch.process import spawn
from dispatch.process.poller import READ, Poller, read
from protocol import framing
from protocol.client import Client
from protocol.errors import ProtocolError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Iterator, Mapping
    from typing import Any

    from dispatch.context import Invocation, Program
    from dispatch.sandbox.confine import Confinement


class Answer:
    """What a plugin said: its hello, its answer (or None), everything after the hello, its
    exit code (None: it had to be killed), what went wrong (or None), and why it cannot run
    with this host (`mismatch`: no version in common, a feature it requires; or None)."""

    __slots__ = ("hello", "answer", "problem", "status", "stream", "mismatch")

    def __init__(self) -> None:
        self.hello: dict[str, Any] | None = None
        self.answer: dict[str, Any] | None = None
        self.problem: str | None = None
        self.status: int | None = None
        self.stream: list[dict[str, Any]] = []
        self.mismatch: ProtocolError | None = None


def client(program: Program, path: str) -> Client:
    return Client(host={"name": program.prog, "version": program.version}, plugin=os.path.basename(path),
                  env_prefix=program.env_prefix)


def sandbox_of(inv: Invocation, path: str) -> Confinement | None:
    """The confinement every run of the plugin at `path` gets, a probe's too (None: none)."""
    if not inv.may_confine(path):
        return None
    from dispatch.sandbox import confine

    return confine.of_plugin(inv, path)


def ask(
    program: Program,
    path: str,
    request: Callable[[Client], dict[str, Any]] | None,
    env: Mapping[str, str],
    *,
    timeout: float = 2.0,
    offer: str | None = None,
    answer_type: str | None = None,
    close_stdin_after_hello: bool = False,
    args: tuple[str, ...] = (),
    quiet: bool = True,
    exit_wait: float = 1.0,
    sandbox: Confinement | None = None,
) -> Answer:
    """Start the plugin with the protocol offered (confined by `sandbox`: `sandbox_of`), send
    `request(client)` first (None: nothing), collect until its `answer_type` (or an `error`)
    and its exit, within `timeout`."""
    result = Answer()
    conversation = client(program, path)
    child_env = dict(env)
    child_env[program.var("PROTOCOL")] = offer if offer is not None else conversation.offer
    if sandbox is not None:
        child_env = sandbox.environ(child_env)
    try:
        child = spawn.spawn(path, list(args), child_env, quiet=quiet, confine=sandbox.spawn if sandbox else None)
    except Exception as e:
        result.problem = getattr(e, "message", str(e))
        if sandbox is not None:
            sandbox.close()
        return result
    deadline = time.monotonic() + timeout
    try:
        _converse(child, conversation, result, request, deadline, answer_type, close_stdin_after_hello)
    except ProtocolError as e:
        result.problem = str(e)
    except TimeoutError:
        result.problem = f"no answer within {timeout:g} s"
    finally:
        # After its answer the plugin has `exit_wait` to exit by itself, within the deadline.
        result.status = spawn.stop(child, wait=max(0.0, min(deadline, time.monotonic() + exit_wait) - time.monotonic()))
        if sandbox is not None:
            sandbox.close()
    return result


def _converse(
    child: spawn.Child, conversation: Client, result: Answer, request: Callable[[Client], dict[str, Any]] | None,
    deadline: float, answer_type: str | None, close_stdin_after_hello: bool,
) -> None:
    """The hello, the request, and what follows until the answer (into `result`)."""
    for line in _lines(child, deadline):
        if result.hello is None:
            try:
                conversation.greeted(line)
            except ProtocolError as e:
                if conversation.hello is None:
                    raise
                result.mismatch = e  # no version in common, or a feature this host lacks
            result.hello = conversation.hello
            if conversation.version is None:
                return  # no version in common: what it said is the answer
            if close_stdin_after_hello:
                child.close_stdin()
            if request is None:
                return  # nothing asked: all that is left is to see whether it exits
            _write(child, request(conversation))
            continue
        msg = conversation.message(line)
        result.stream.append(msg)
        if msg["type"] == "request":
            _write(child, conversation.unanswered(msg))
        if msg["type"] == answer_type or msg["type"] == "error":
            result.answer = msg
            if answer_type is not None:
                return
    if result.hello is None and result.problem is None:
        result.problem = "no hello"


def _lines(child: spawn.Child, deadline: float) -> Iterator[bytes]:
    assert child.stdout is not None
    splitter = framing.LineSplitter()
    poller = Poller()
    poller.register(child.stdout, READ, events.STDOUT)
    try:
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError
            if not poller.select(left):
                continue
            data = read(child.stdout, 1 << 16)
            if not data:
                if splitter.pending:
                    raise ProtocolError("stdout ended in the middle of a message", line=splitter.pending)
                return
            yield from splitter.feed(data)
    finally:
        poller.close()


def _write(child: spawn.Child, msg: Mapping[str, Any]) -> None:
    if child.stdin is None:
        return
    try:
        os.write(child.stdin, framing.encode(msg))
    except BrokenPipeError:
        pass
