"""The protocol conversation of a supervised run, once the plugin has greeted: the run
request, the plugin's messages rendered for the user, and the answers to its requests
(prompts on the terminal, the user's stdin through `read_input`).

A prompt is read from the terminal inside the session's poll loop, so that
Ctrl-C, SIGTERM and `--timeout` act while it waits: the pending request is
answered with `interaction_cancelled` before the plugin gets `cancel`.
"""
from __future__ import annotations

from dispatch import calls, terminal
from dispatch.poller import READ, read
from dispatch.prompt import METHODS as QUESTIONS
from dispatch.prompt import Question
from dispatch.render import decode_base64, terminal_width
from dispatch.text import to_utf8, visible
from protocol import framing, messages
from protocol.messages import ProtocolError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping
    from typing import Any

    from dispatch.session import Session
    from protocol.client import Client

READ_INPUT_MAX = 1 << 20


class Conversation:
    def __init__(self, session: Session, client: Client) -> None:
        self.session = session
        self.client = client
        self.render = session.render
        self.options = session.inv.options
        self.splitter = framing.LineSplitter()
        self.question: Question | None = None
        self.handed_over = False  # the plugin has the terminal (the `terminal` request)
        self.calls: dict[int, calls.Call] = {}  # commands run for the plugin, by their output's fd
        self.read_input_id: object = None
        self.read_input_max = 0

    # -- the start --------------------------------------------------------------------------------
    def start(self, hello_line: bytes, rest: bytes) -> int:
        """Take the hello (ProtocolError on a mismatch), send the run request, then what followed it."""
        version = self.client.greeted(hello_line)
        self.render.debug(f"{self.client.plugin} speaks protocol {version}")
        env = self.session.env
        self.session.send(
            self.client.run(
                self.session.argv,
                interactive=self.interactive,
                output="json" if self.options.json else "text",
                color=(not self.options.json) and terminal.isatty(1) and not env.get("NO_COLOR") and env.get("TERM") != "dumb",
                width=terminal_width(env),
                verbosity=self.options.verbosity,
                stdin_fd=self.session.stdin_fd,
            )
        )
        self.feed(rest)
        return version

    @property
    def interactive(self) -> bool:
        return not self.options.no_input and terminal.isatty(0)

    # -- plugin -> host -----------------------------------------------------------------------------
    def feed(self, data: bytes) -> None:
        lines = self.splitter.feed(data)
        if not lines:
            return
        session = self.session
        render = self.render
        fast = framing.plain_text_ok(lines)
        rows_fast = fast and render.records_passed_on
        i = 0
        n = len(lines)
        while i < n and not session.output_closed:
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
        if self.splitter.pending and not self.session.output_closed:
            raise ProtocolError("stdout ended in the middle of a message", line=self.splitter.pending)

    def _handle(self, line: bytes) -> None:
        msg = self.client.message(line)
        kind = msg["type"]
        if kind == "output":
            if "base64" in msg:
                try:
                    data = decode_base64(msg["base64"])
                except ValueError:
                    raise ProtocolError("'output' message has invalid base64", field="base64", line=line) from None
            else:
                data = to_utf8(msg["text"])
            self.render.output_run(data, [line])
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
            program = self.session.inv.program
            self.session.send(messages.error_response(rid, "unknown_method", f"{program.prog} {program.version} has no method {method!r}"))

    # -- read_input -------------------------------------------------------------------------------
    def _start_read_input(self, rid: object, params: Mapping[str, Any]) -> None:
        session = self.session
        if self.busy:
            session.send(messages.error_response(rid, "busy", "another request is already reading the input"))
            return
        max_bytes = params.get("max_bytes", 65536)
        if max_bytes <= 0:
            session.send(messages.error_response(rid, "invalid_params", "max_bytes must be positive"))
            return
        if not session.user_stdin_open:
            session.send(messages.response(rid, {"base64": "", "eof": True}))
            return
        if not terminal.may_read(0):
            # A terminal owned by the foreground job: reading it would stop the host (SIGTTIN).
            session.send(messages.error_response(rid, "interaction_unavailable", "stdin is a terminal of another job"))
            return
        self.read_input_id = rid
        self.read_input_max = min(max_bytes, READ_INPUT_MAX)
        session.sel.register(0, READ, "user-stdin")

    def on_stdin(self) -> None:
        """The user's stdin is readable, for the pending `read_input`."""
        session = self.session
        data = read(0, self.read_input_max)
        session.sel.unregister(0)
        if not data:
            session.user_stdin_open = False
        rid, self.read_input_id = self.read_input_id, None
        session.send_line(framing.encode_input(rid, data))

    # -- questions: prompt, confirm, choose ------------------------------------------------------
    def _ask(self, rid: object, method: str, params: Mapping[str, Any]) -> None:
        session = self.session
        if not self.interactive:
            why = "--no-input was given" if self.options.no_input else "there is no terminal to ask on"
            session.send(messages.error_response(rid, "interaction_unavailable", f"cannot prompt: {why}"))
            return
        if self.busy or not terminal.owned(0):
            session.send(messages.error_response(rid, "busy", "the terminal is busy with another request"))
            return
        question = Question(rid, method, params)
        problem = question.problem()
        if problem is not None:
            session.send(messages.error_response(rid, "invalid_params", problem))
            return
        if question.secret:
            question.saved = terminal.echo(0, False)  # before the question: the answer may be typed at once
        self.render.flush()
        self.render.stderr(question.text())
        self.question = question
        session.sel.register(0, READ, "tty")

    def on_tty(self) -> None:
        """The terminal is readable, for the pending question (canonical mode: a read returns at
        most one line, nothing past it)."""
        question = self.question
        if question is None:
            self.session.sel.unregister(0)
            return
        data = read(0, 4096)
        if data:
            question.typed += data
            if not data.endswith(b"\n"):
                return
        if question.secret or not data:
            self.render.stderr("\n")
        if not data:
            self._end_question()
            self.session.send(messages.error_response(question.rid, "interaction_cancelled", "no answer (end of input)"))
            return
        line = bytes(question.typed).rstrip(b"\n").rstrip(b"\r").decode("utf-8", "replace")
        question.typed.clear()
        done, value = question.answer(line)
        if not done:
            self.render.stderr(question.again())
            return
        self._end_question()
        self.session.send(messages.response(question.rid, {"value": value}))

    def _end_question(self) -> None:
        question, self.question = self.question, None
        if question is not None:
            self.session.sel.unregister(0)
            terminal.restore(0, question.saved)

    def resumed(self) -> None:
        """The host was stopped (Ctrl-Z) and continued: a waiting question is shown again, once
        the host is in the foreground (after `bg` it would be written over the shell's line)."""
        if self.question is not None and terminal.owned(0):
            if self.question.secret:
                terminal.echo(0, False)
            self.render.stderr(self.question.text())

    @property
    def busy(self) -> bool:
        """Something else has the terminal or the user's stdin."""
        return self.question is not None or self.read_input_id is not None or self.handed_over

    # -- the terminal, handed to the plugin -------------------------------------------------------
    def _hand_terminal_over(self, rid: object) -> None:
        session = self.session
        if not self.interactive or not terminal.owned(0):
            why = "--no-input was given" if self.options.no_input else "there is no terminal to hand over"
            session.send(messages.error_response(rid, "interaction_unavailable", why))
            return
        if self.busy:
            session.send(messages.error_response(rid, "busy", "the terminal is busy with another request"))
            return
        self.render.flush()
        self.render.clear_progress()
        if not session.sup.give_terminal(0):
            session.send(messages.error_response(rid, "interaction_unavailable", "the terminal cannot be handed over"))
            return
        self.handed_over = True
        session.send(messages.response(rid, {}))

    def _take_terminal_back(self) -> None:
        if self.handed_over:
            self.handed_over = False
            self.session.sup.take_terminal(restore_modes=True)

    # -- calls --------------------------------------------------------------------------------------
    def _start_call(self, rid: object, params: Mapping[str, Any]) -> None:
        session = self.session
        started = calls.start(session.inv, session.env, rid, list(params["argv"]))
        if isinstance(started, dict):
            session.send(started)
            return
        self.calls[started.fd] = started
        session.sel.register(started.fd, READ, f"call:{started.fd}")

    def on_call(self, fd: int) -> None:
        """Output of a command run for the plugin; at its end, the plugin gets the answer."""
        from dispatch import spawn

        running = self.calls[fd]
        data = read(fd, 1 << 16)
        if data:
            running.feed(data)
            if running.problem is None:
                return
        self.session.sel.unregister(fd)
        del self.calls[fd]
        status = spawn.stop(running.child, wait=5.0)
        self.session.send(running.response(status))

    # -- stopping ---------------------------------------------------------------------------------
    def cancel(self, reason: str, grace: float) -> None:
        """Ask the plugin to stop, then answer what is pending (nobody will): `cancel` first, so
        that a plugin reading the answers already knows why they came."""
        from dispatch import spawn

        session = self.session
        session.send(messages.cancel(reason, grace))
        why = f"the run was stopped ({reason})"
        question = self.question
        if question is not None:
            self._end_question()
            self.render.stderr("\n")
            session.send(messages.error_response(question.rid, "cancelled", why))
        if self.read_input_id is not None:
            rid, self.read_input_id = self.read_input_id, None
            session.sel.unregister(0)
            session.send(messages.error_response(rid, "cancelled", why))
        for fd, running in list(self.calls.items()):
            session.sel.unregister(fd)
            spawn.stop(running.child, term=True, wait=1.0)
            session.send(messages.error_response(running.rid, "cancelled", why))
        self.calls.clear()

    def close(self) -> None:
        from dispatch import spawn

        self._end_question()
        self._take_terminal_back()
        for running in self.calls.values():
            spawn.stop(running.child)
        self.calls.clear()
