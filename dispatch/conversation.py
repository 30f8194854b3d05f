"""The protocol conversation of a supervised run, once the plugin has greeted: the run
request, the plugin's messages rendered for the user, and the answers to its requests
(prompts on the terminal, the user's stdin through `read_input`).

A prompt is read from the terminal inside the session's poll loop, so that
Ctrl-C, SIGTERM and `--timeout` act while it waits: the pending request is
answered with `interaction_cancelled` before the plugin gets `cancel`.
"""
from __future__ import annotations

from dispatch import terminal
from dispatch.poller import READ, read
from dispatch.render import decode_base64, terminal_width, to_utf8, visible
from protocol import framing, messages
from protocol.messages import ProtocolError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping
    from typing import Any

    from dispatch.session import Session
    from protocol.client import Client

READ_INPUT_MAX = 1 << 20


class _Prompt:
    """A prompt request waiting for the person at the terminal."""

    __slots__ = ("rid", "text", "default", "secret", "answer", "saved")

    def __init__(self, rid: object, text: str, default: str | None, secret: bool) -> None:
        self.rid = rid
        self.text = text
        self.default = default
        self.secret = secret
        self.answer = bytearray()
        self.saved: list[Any] | None = None  # the terminal's settings while echo is off


class Conversation:
    def __init__(self, session: Session, client: Client) -> None:
        self.session = session
        self.client = client
        self.render = session.render
        self.options = session.inv.options
        self.splitter = framing.LineSplitter()
        self.prompt: _Prompt | None = None
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
        i = 0
        n = len(lines)
        while i < n and not session.output_closed:
            if fast:
                text, end = framing.output_run(lines, i)
                if text is not None:
                    render.output_run(text, lines[i:end])
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
        elif kind == "result":
            self.render.result(msg, line)
        elif kind == "error":
            self.render.error(msg, line)
        else:
            self.render.debug(f"ignored a message of unknown type {kind!r} from {self.client.plugin}")

    def _request(self, msg: Mapping[str, Any]) -> None:
        rid, method = msg["id"], msg["method"]
        params: Mapping[str, Any] = msg.get("params") or {}
        if method == "prompt":
            self._start_prompt(rid, params)
        elif method == "read_input":
            self._start_read_input(rid, params)
        else:
            program = self.session.inv.program
            self.session.send(messages.error_response(rid, "unknown_method", f"{program.prog} {program.version} has no method {method!r}"))

    # -- read_input -------------------------------------------------------------------------------
    def _start_read_input(self, rid: object, params: Mapping[str, Any]) -> None:
        session = self.session
        if self.read_input_id is not None or self.prompt is not None:
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
        import binascii

        session = self.session
        data = read(0, self.read_input_max)
        session.sel.unregister(0)
        if not data:
            session.user_stdin_open = False
        rid, self.read_input_id = self.read_input_id, None
        encoded = binascii.b2a_base64(data, newline=False).decode("ascii")
        session.send(messages.response(rid, {"base64": encoded, "eof": not data}))

    # -- prompts ----------------------------------------------------------------------------------
    def _start_prompt(self, rid: object, params: Mapping[str, Any]) -> None:
        session = self.session
        if not self.interactive:
            why = "--no-input was given" if self.options.no_input else "there is no terminal to ask on"
            session.send(messages.error_response(rid, "interaction_unavailable", f"cannot prompt: {why}"))
            return
        if self.prompt is not None or self.read_input_id is not None or not terminal.owned(0):
            session.send(messages.error_response(rid, "busy", "the terminal is busy with another request"))
            return
        default = params.get("default")
        secret = bool(params.get("secret", False))
        text = visible(str(params["message"]).rstrip())
        if default is not None and not secret:
            text += f" [{visible(str(default))}]"
        prompt = _Prompt(rid, text + " ", default if isinstance(default, str) else None, secret)
        if secret:
            prompt.saved = terminal.echo(0, False)  # before the question: the answer may be typed at once
        self.render.flush()
        self.render.stderr(prompt.text)
        self.prompt = prompt
        session.sel.register(0, READ, "tty")

    def on_tty(self) -> None:
        """The terminal is readable, for the pending prompt (canonical mode: a read returns at
        most one line, nothing past it)."""
        prompt = self.prompt
        if prompt is None:
            self.session.sel.unregister(0)
            return
        data = read(0, 4096)
        if data:
            prompt.answer += data
            if not data.endswith(b"\n"):
                return
        self._end_prompt()
        if prompt.secret or not data:
            self.render.stderr("\n")
        if not data:
            self.session.send(messages.error_response(prompt.rid, "interaction_cancelled", "no answer (end of input)"))
            return
        answer = bytes(prompt.answer).rstrip(b"\n").rstrip(b"\r").decode("utf-8", "replace")
        if not answer and prompt.default is not None:
            answer = prompt.default
        self.session.send(messages.response(prompt.rid, {"value": answer}))

    def _end_prompt(self) -> None:
        prompt, self.prompt = self.prompt, None
        if prompt is not None:
            self.session.sel.unregister(0)
            terminal.restore(0, prompt.saved)

    def resumed(self) -> None:
        """The host was stopped (Ctrl-Z) and continued: a waiting prompt is shown again, once the
        host is in the foreground (after `bg` it would be written over the shell's line)."""
        if self.prompt is not None and terminal.owned(0):
            if self.prompt.secret:
                terminal.echo(0, False)
            self.render.stderr(self.prompt.text)

    # -- stopping ---------------------------------------------------------------------------------
    def cancel(self, reason: str) -> None:
        """Ask the plugin to stop, then answer what is pending (nobody will): `cancel` first, so
        that a plugin reading the answer already knows why it came."""
        session = self.session
        session.send(messages.cancel(reason))
        why = f"the run was stopped ({reason})"
        prompt = self.prompt
        if prompt is not None:
            self._end_prompt()
            self.render.stderr("\n")
            session.send(messages.error_response(prompt.rid, "interaction_cancelled", why))
        if self.read_input_id is not None:
            rid, self.read_input_id = self.read_input_id, None
            session.sel.unregister(0)
            session.send(messages.error_response(rid, "interaction_cancelled", why))

    def close(self) -> None:
        self._end_prompt()
