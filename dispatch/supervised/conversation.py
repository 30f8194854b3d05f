"""The protocol conversation of a supervised run, once the plugin has greeted: the run
request, the plugin's messages rendered for the user, and the answers to its requests
(questions on the terminal, the user's stdin through `read_input`, the terminal handed over,
commands run for it).

A question is asked on the controlling terminal (/dev/tty, as git and ssh ask: `tool x 2>log`
still shows it), else on stdin and stderr when stdin is a terminal, and read inside the run's
loop, so that Ctrl-C, SIGTERM and `--timeout` act while it waits: the pending request is
answered with `cancelled` right after the plugin gets `cancel`. The host asks only in the
foreground: a background `tool x &` that has a question stops, as a program reading the
terminal would ("Stopped (tty input)"), and asks once `fg` brings it back. A terminal the
plugin's group took by reading it (a pager of a child) is taken back first.

The conversation is given what it needs of the run, and nothing else: the run's plan, a way
to send to the plugin, the loop's poller (for the descriptors it waits on), the screen, and
whoever owns the terminal (the supervisor).
"""
from __future__ import annotations

import os

from dispatch.process import poller as events
from dispatch.process import terminal
from dispatch.process.poller import READ, read
from dispatch.screen.render import decode_base64
from dispatch.screen.text import to_utf8, visible
from dispatch.supervised import calls
from protocol import framing, messages
from protocol.errors import ProtocolError
from protocol.questions import METHODS as QUESTIONS
from protocol.questions import Question
from protocol.width import columns

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Mapping
    from typing import Any, Protocol

    from dispatch.process.poller import Poller
    from dispatch.screen.render import Renderer
    from dispatch.supervised.plan import Plan
    from protocol.client import Client

    class TerminalOwner(Protocol):
        """Who gives the terminal to the plugin's process group and takes it back."""

        def give_terminal(self, fd: int | None = None) -> bool: ...

        def take_terminal(self, *, restore_modes: bool = False) -> None: ...

        def reclaim_terminal(self) -> None: ...

        def stop_for_terminal(self) -> bool: ...

READ_INPUT_MAX = 1 << 20


def _question_terminal() -> tuple[int | None, int]:
    """(the descriptor to read answers from, the one to write questions to): the controlling
    terminal, else stdin and stderr when stdin is a terminal; (None, 2) when there is nobody to
    ask (a script, CI, a daemon)."""
    try:
        tty = os.open("/dev/tty", os.O_RDWR | os.O_NOCTTY | os.O_CLOEXEC)
    except OSError:
        return (0, 2) if terminal.isatty(0) else (None, 2)
    return tty, tty


class Asked:
    """A question waiting for its answer: the request's id, the question, what was typed so
    far (a line arrives in pieces), the terminal's settings while echo is off."""

    __slots__ = ("rid", "question", "typed", "saved", "shown")

    def __init__(self, rid: object, question: Question) -> None:
        self.rid = rid
        self.question = question
        self.typed = bytearray()
        self.saved: list[Any] | None = None
        self.shown = False  # on the screen, waiting for its answer (not while the host is in the background)


class Conversation:
    def __init__(
        self, plan: Plan, client: Client, send_line: Callable[[bytes], None], poller: Poller, render: Renderer,
        owner: TerminalOwner, *, user_stdin_open: bool,
    ) -> None:
        self.plan = plan
        self.client = client
        self.send_line = send_line
        self.poller = poller
        self.render = render
        self.owner = owner
        self.options = plan.inv.options
        self.user_stdin_open = user_stdin_open
        self.tty, self.tty_out = (None, 2) if self.options.no_input else _question_terminal()
        self.splitter = framing.LineSplitter()
        self.asked: Asked | None = None
        self.handed_over = False  # the plugin has the terminal (the `terminal` request)
        self.calls: dict[int, calls.Call] = {}  # commands run for the plugin, by their output's fd
        self.read_input_id: object = None
        self.read_input_max = 0

    def send(self, msg: Mapping[str, object]) -> None:
        self.send_line(framing.encode(msg))

    # -- the start --------------------------------------------------------------------------------
    def start(self, hello_line: bytes, rest: bytes) -> int:
        """Take the hello (ProtocolError on a mismatch), send the run request, then what followed it."""
        version = self.client.greeted(hello_line)
        self.render.debug(f"{self.client.plugin} speaks protocol {version}")
        env = self.plan.env
        self.send(
            self.client.run(
                self.plan.args,
                interactive=self.interactive,
                output="json" if self.options.json else "text",
                color=(not self.options.json) and terminal.isatty(1) and not env.get("NO_COLOR") and env.get("TERM") != "dumb",
                width=columns((1, 2), env),
                verbosity=self.options.verbosity,
                stdin_fd=self.plan.stdin_fd,
            )
        )
        self.feed(rest)
        return version

    @property
    def interactive(self) -> bool:
        return self.tty is not None

    # -- plugin -> host -----------------------------------------------------------------------------
    def feed(self, data: bytes) -> None:
        lines = self.splitter.feed(data)
        if not lines:
            return
        render = self.render
        fast = framing.plain_text_ok(lines)
        rows_fast = fast and render.records_passed_on
        i = 0
        n = len(lines)
        while i < n and not render.stopped:
            if fast:
                text, end = framing.output_run(lines, i)
                if text is not None:
                    render.output_run(text, lines[i:end])
                    i = end
                    continue
                if rows_fast:
                    rows, end = framing.record_run(lines, i)
                    if rows is not None:
                        render.record_run(rows, lines[i:end])
                        i = end
                        continue
            self._handle(lines[i])
            i += 1
        render.flush()

    def eof(self) -> None:
        """The plugin's stdout ended: a line cut short is a protocol error."""
        if self.splitter.pending and not self.render.stopped:
            raise ProtocolError("stdout ended in the middle of a message", line=self.splitter.pending)

    def _handle(self, line: bytes) -> None:
        msg = self.client.message(line)
        kind = msg["type"]
        if kind == "output":
            self.render.output_run(self._output_bytes(msg, line), [line])
        elif kind == "log":
            self.render.log(msg["level"], msg["message"])
        elif kind == "progress":
            self.render.progress(msg)
        elif kind == "request":
            self._request(msg)
        elif kind == "record":
            self.render.record(msg["data"], line)
        elif kind == "result":
            self.render.result(msg, line)
        elif kind == "error":
            self.render.error(msg, line)
        elif kind == "terminal_end":
            self._take_terminal_back()
        else:
            self.render.debug(f"ignored a message of unknown type {kind!r} from {self.client.plugin}")

    @staticmethod
    def _output_bytes(msg: Mapping[str, Any], line: bytes) -> bytes:
        if "base64" not in msg:
            return to_utf8(msg["text"])
        try:
            return decode_base64(msg["base64"])
        except ValueError:
            raise ProtocolError("'output' message has invalid base64", field="base64", line=line) from None

    def _request(self, msg: Mapping[str, Any]) -> None:
        rid, method = msg["id"], msg["method"]
        params: Mapping[str, Any] = msg.get("params") or {}
        if method in QUESTIONS:
            self._ask(rid, method, params)
        elif method == "read_input":
            self._start_read_input(rid, params)
        elif method == "terminal":
            self._hand_terminal_over(rid)
        elif method == "call":
            self._start_call(rid, params)
        else:
            program = self.plan.inv.program
            self.send(messages.error_response(rid, "unknown_method", f"{program.prog} {program.version} has no method {method!r}"))

    # -- read_input -------------------------------------------------------------------------------
    def _start_read_input(self, rid: object, params: Mapping[str, Any]) -> None:
        if self.busy:
            self.send(messages.error_response(rid, "busy", "another request is already reading the input"))
            return
        max_bytes = params.get("max_bytes", 65536)
        if max_bytes <= 0:
            self.send(messages.error_response(rid, "invalid_params", "max_bytes must be positive"))
            return
        if not self.user_stdin_open:
            self.send(messages.response(rid, {"base64": "", "eof": True}))
            return
        if not terminal.may_read(0):
            # A terminal owned by the foreground job: reading it would stop the host (SIGTTIN).
            self.send(messages.error_response(rid, "interaction_unavailable", "stdin is a terminal of another job"))
            return
        self.read_input_id = rid
        self.read_input_max = min(max_bytes, READ_INPUT_MAX)
        self.poller.register(0, READ, events.USER_STDIN)

    def on_stdin(self) -> None:
        """The user's stdin is readable, for the pending `read_input`."""
        data = read(0, self.read_input_max)
        self.poller.unregister(0)
        if not data:
            self.user_stdin_open = False
        rid, self.read_input_id = self.read_input_id, None
        self.send_line(framing.encode_input(rid, data))

    # -- questions: prompt, confirm, choose ------------------------------------------------------
    def _ask(self, rid: object, method: str, params: Mapping[str, Any]) -> None:
        if self.tty is None:
            why = "--no-input was given" if self.options.no_input else "there is no terminal to ask on"
            self.send(messages.error_response(rid, "interaction_unavailable", f"cannot prompt: {why}"))
            return
        self.owner.reclaim_terminal()
        if self.busy:
            self.send(messages.error_response(rid, "busy", "the terminal is busy with another request"))
            return
        question = Question(method, params)
        problem = question.problem()
        if problem is not None:
            self.send(messages.error_response(rid, "invalid_params", problem))
            return
        self.asked = Asked(rid, question)
        self._show_or_stop()

    def _show_or_stop(self) -> None:
        """Ask the pending question now when the host is in the terminal's foreground; else stop
        the host until it is (`resumed` comes back here)."""
        asked = self.asked
        assert asked is not None and self.tty is not None
        if terminal.owned(self.tty):
            if asked.question.secret:
                asked.saved = terminal.echo(self.tty, False)  # before the question: the answer may be typed at once
            self.render.ask(asked.question.text(visible), self.tty_out)
            asked.shown = True
            if not self.poller.registered(self.tty):
                self.poller.register(self.tty, READ, events.TTY)
        elif not self.owner.stop_for_terminal():
            self.asked = None
            self.send(messages.error_response(
                asked.rid, "interaction_unavailable", "cannot prompt: the terminal belongs to another job"))

    def on_tty(self, fd: int = 0) -> None:
        """The terminal is readable, for the pending question (canonical mode: a read returns at
        most one line, nothing past it)."""
        asked = self.asked
        if asked is None or self.tty is None or not asked.shown:
            self.poller.unregister(fd)
            return
        data = read(self.tty, 4096)
        if data:
            asked.typed += data
            if not data.endswith(b"\n"):
                return
        if asked.question.secret or not data:
            self.render.ask("\n", self.tty_out)
        if not data:
            self._end_question()
            self.send(messages.error_response(asked.rid, "interaction_cancelled", "no answer (end of input)"))
            return
        line = bytes(asked.typed).rstrip(b"\n").rstrip(b"\r").decode("utf-8", "replace")
        asked.typed.clear()
        done, value = asked.question.answer(line)
        if not done:
            self.render.ask(asked.question.again(), self.tty_out)
            return
        self._end_question()
        self.send(messages.response(asked.rid, {"value": value}))

    def _end_question(self) -> None:
        asked, self.asked = self.asked, None
        if asked is not None and self.tty is not None:
            self.poller.unregister(self.tty)
            terminal.restore(self.tty, asked.saved)
            self.render.redraw_progress()

    def resumed(self) -> None:
        """The host was stopped (Ctrl-Z, or for a question in the background) and continued: a
        waiting question is shown (again), once the host is in the foreground; after `bg` the
        host stops again, as a program reading the terminal would."""
        asked = self.asked
        if asked is None or self.tty is None:
            return
        if asked.shown and asked.question.secret and terminal.owned(self.tty):
            terminal.echo(self.tty, False)
        self._show_or_stop()

    @property
    def busy(self) -> bool:
        """Something else has the terminal or the user's stdin."""
        return self.asked is not None or self.read_input_id is not None or self.handed_over

    # -- the terminal, handed to the plugin -------------------------------------------------------
    def _hand_terminal_over(self, rid: object) -> None:
        self.owner.reclaim_terminal()
        if self.tty is None or not terminal.owned(self.tty):
            why = "--no-input was given" if self.options.no_input else "there is no terminal to hand over"
            self.send(messages.error_response(rid, "interaction_unavailable", why))
            return
        if self.busy:
            self.send(messages.error_response(rid, "busy", "the terminal is busy with another request"))
            return
        self.render.flush()
        self.render.clear_progress()
        if not self.owner.give_terminal(self.tty):
            self.send(messages.error_response(rid, "interaction_unavailable", "the terminal cannot be handed over"))
            return
        self.handed_over = True
        self.send(messages.response(rid, {}))

    def _take_terminal_back(self) -> None:
        if self.handed_over:
            self.handed_over = False
            self.owner.take_terminal(restore_modes=True)

    # -- calls --------------------------------------------------------------------------------------
    def _start_call(self, rid: object, params: Mapping[str, Any]) -> None:
        started = calls.start(self.plan.inv, self.plan.env, rid, list(params["argv"]), self.poller, caller=self.plan.path)
        if isinstance(started, dict):
            self.send(started)
            return
        assert started.link.stdout is not None  # registered in the loop's poller by its Link
        self.calls[started.link.stdout] = started

    def on_call(self, fd: int) -> None:
        """Output of a command run for the plugin; at its end, the plugin gets the answer."""
        running = self.calls[fd]
        data = running.link.read(1 << 16)
        if data and running.feed(data):
            return
        del self.calls[fd]
        self.send(running.finish(wait=5.0))

    # -- stopping ---------------------------------------------------------------------------------
    def cancel(self, reason: str, grace: float) -> None:
        """Ask the plugin to stop, then answer what is pending (nobody will): `cancel` first, so
        that a plugin reading the answers already knows why they came."""
        self.send(messages.cancel(reason, grace))
        why = f"the run was stopped ({reason})"
        asked = self.asked
        if asked is not None:
            self._end_question()
            if asked.shown:
                self.render.ask("\n", self.tty_out)
            self.send(messages.error_response(asked.rid, "cancelled", why))
        if self.read_input_id is not None:
            rid, self.read_input_id = self.read_input_id, None
            self.poller.unregister(0)
            self.send(messages.error_response(rid, "cancelled", why))
        for running in list(self.calls.values()):
            self.send(running.cancel(why))
        self.calls.clear()

    def close(self) -> None:
        self._end_question()
        self._take_terminal_back()
        if self.tty is not None and self.tty != 0:
            os.close(self.tty)
            self.tty = None
        for running in self.calls.values():
            running.link.close()
            running.finish(wait=0.0)
        self.calls.clear()
