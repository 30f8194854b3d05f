"""One supervised run of a plugin: its pipes, the user's terminal, and how it ends.

How a plugin runs was decided from its file before it started (dispatch/declaration.py,
dispatch/supervised/plan.py): a declared plugin must greet; a hello starts the conversation
(dispatch/supervised/conversation.py), anything else (another first line, or silence for the
handshake window) is relayed as plain for this run, bytes untouched (relay.py). A plain
plugin is relayed (`relay` mode) or only watched (`direct`).

Every phase waits in the same loop (loop.py), and signals, deadlines and exits are handled
there (supervisor.py). `run` returns the invocation's status, or -N: "die by signal N"
(outcome.py).
"""
from __future__ import annotations

import time

from dispatch.exitcodes import ExitCode
from dispatch.process import poller as events
from dispatch.process.poller import Poller, is_open
from dispatch.process.terminal import isatty
from dispatch.screen.render import Renderer
from dispatch.supervised import outcome
from dispatch.supervised.loop import Broken, Link, Loop
from dispatch.supervised.supervisor import Supervisor
from protocol.errors import ProtocolError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from dispatch.process.spawn import Child
    from dispatch.supervised.conversation import Conversation
    from dispatch.supervised.plan import Plan

_CHUNK = 1 << 20  # with a 1 MiB pipe (spawn.spawn), one read per MiB
_DRAIN_QUIET = 0.1  # after the plugin exits: stop reading once its stdout is quiet this long
_DRAIN_MAX = 2.0  # ... or after this long in all (a grandchild may hold the pipe open)


class Session:
    def __init__(self, plan: Plan, child: Child) -> None:
        options = plan.inv.options
        self.plan = plan
        self.child = child
        self.render = Renderer(
            plan.inv.prog, options.verbosity, options.json, isatty(2), plan.label, options.max_output,
            dumb_terminal=plan.env.get("TERM") == "dumb", stdout_tty=isatty(1), env=plan.env,
        )
        self.poller = Poller()
        self.link = Link(child, self.poller)
        self.output_closed = False
        self.user_stdin_open = is_open(0)
        self.conversation: Conversation | None = None
        self.sup = Supervisor(child, self.poller, timeout=options.timeout, peer=self)
        self.loop = Loop(self.poller, self.sup, self.link)
        self.loop.after = self._check_output
        self.loop.handlers[events.STDERR] = self._on_stderr

    @property
    def status(self) -> int | None:
        return self.sup.status

    # -- Peer, for the supervisor ----------------------------------------------------
    def speaks_protocol(self) -> bool:
        return self.conversation is not None

    def cancel(self, reason: str, grace: float) -> bool:
        if self.conversation is None or not self.link.stdin_open:
            return False
        self.conversation.cancel(reason, grace)
        return True

    def close_plugin_stdin(self) -> None:
        self.link.close_stdin()

    def suspend(self) -> None:
        self.render.clear_progress()

    def resumed(self) -> None:
        if self.conversation is not None:
            self.conversation.resumed()
        self.render.redraw_progress()

    def resized(self) -> None:
        """The window changed: the plugin's stderr terminal takes the new size (the kernel then
        tells its foreground, if any), and progress is drawn again to fit it."""
        stderr = self.child.stderr
        if stderr is not None and isatty(stderr):
            try:
                import fcntl
                import termios

                fcntl.ioctl(stderr, termios.TIOCSWINSZ, fcntl.ioctl(2, termios.TIOCGWINSZ, b"\0" * 8))
            except OSError:
                pass
        self.render.redraw_progress()

    # -- the whole run ------------------------------------------------------------------
    def run(self) -> int:
        failure: tuple[int, str, str] | None = None
        try:
            try:
                status = self._run()
            except ProtocolError as e:
                self.sup.stop_now()
                self._note(declares=True, problem={"code": "handshake_failed", "message": f"protocol error: {e.detail}", "fix": e.fix})
                failure = (ExitCode.PROTOCOL, "protocol_error", f"protocol error from {self.plan.name}: {e}")
        finally:
            # The terminal is the user's again (its settings put back after a program killed in
            # raw mode) before the host says anything more.
            self._close()
        if self.sup.restored_modes and isatty(2):
            # The plugin left the terminal as a killed full-screen program does: where its
            # cursor is, nobody knows; the host's last words start on a line of their own.
            self.render.ask("\r\n", 2)
        if failure is not None:
            return self._fail(*failure)
        return self._conclude(status)

    def _run(self) -> int:
        # Each mode imports what it needs when it starts (the plugin is already starting
        # meanwhile): a plugin watched for --timeout pays for no conversation.
        mode = self.plan.mode
        if mode == "direct":
            self._hand_over_terminal()
            while self.status is None:
                self.loop.wait(None)
            return self.status
        from dispatch.supervised.relay import Relay

        if mode == "relay":
            self._hand_over_terminal()  # the user's stdin is the plugin's own
            return Relay(self.loop, self.render, window=self.plan.window, user_stdin_open=self.user_stdin_open).run()
        from dispatch.catalog import metadata  # noqa: F401 - now, while the plugin starts: every run of it notes something
        from dispatch.supervised import conversation  # noqa: F401 - likewise, before its hello arrives

        first, buf = self._handshake()
        if first is not None:
            return self._protocol(first, buf)
        self._note(declares=True, problem={
            "code": "did_not_greet", "message": "declares the protocol but did not greet: it was run as a plain program"})
        late = not buf and self.status is None
        return Relay(self.loop, self.render, window=self.plan.window, user_stdin_open=self.user_stdin_open,
                     buf=buf, watch_late_hello=late).run()

    def _conclude(self, status: int) -> int:
        sup = self.sup
        conversation = self.conversation
        end = outcome.settle(
            name=self.plan.name,
            status=status,
            killed_by=sup.killed_by,
            reason=sup.stop_reason,
            stop_signal=sup.stop_signal,
            escalated=sup.escalated,
            spoke_protocol=conversation is not None,
            reported_error=conversation is not None and conversation.client.seen_error,
            held_terminal=sup.held_terminal,
            options=self.plan.inv.options,
        )
        if end.failure is not None:
            return self._fail(*end.failure)
        if end.note is not None:
            self.plan.inv.error(end.note)
        self.render.exit(end.status)
        return end.code

    def _fail(self, code: int, json_code: str, message: str) -> int:
        if self.plan.inv.options.json:
            self.render.host_error(json_code, message, code)
        self.plan.inv.error(message)
        return code

    def _note(self, **fields: object) -> None:
        """What `tool list` and `tool doctor` will show of this file (never on the start-up path)."""
        from dispatch.catalog import metadata

        plan = self.plan
        metadata.note(plan.env, plan.inv.prog, plan.stat, plan.path, **fields)

    def _check_output(self) -> None:
        """After each wait: when the user's stdout went away or --max-output was reached, the
        plugin is told the way a pipe would (its stdout goes away) and stopped."""
        if self.output_closed or not (self.render.broken or self.render.limit_hit):
            return
        self.output_closed = True
        self.link.close_stdout()
        if self.render.limit_hit:
            self.sup.stop("limit")
        else:
            from dispatch import signals
            from dispatch.error_handler import silence_stdout

            silence_stdout()
            self.sup.stop("output", first_signal=signals.SIGPIPE)

    def _hand_over_terminal(self) -> None:
        """Make the plugin's group the terminal's foreground, as a shell does for a job (start.py
        asks for it before the plugin starts; this covers a host without a guard); a plugin that
        touched the terminal before that (and was stopped for it) goes on."""
        self.sup.give_terminal()
        self.sup.check_child()

    def read_stdout(self) -> bytes:
        return self.link.read(_CHUNK)

    def _on_stderr(self, fd: int) -> None:
        """The plugin's stderr, relayed (a declared plugin's: the host draws on the same terminal)."""
        data = self.link.read_stderr(_CHUNK)
        if data:
            self.render.plugin_stderr(data)

    def send_line(self, line: bytes) -> None:
        """An encoded message to the plugin, written without blocking (the loop writes the rest);
        nothing when the plugin closed its stdin (it wants no more)."""
        try:
            self.link.send(line)
        except Broken:
            pass

    # -- a declared plugin: the handshake, then the conversation ----------------------------------
    def _handshake(self) -> tuple[bytes | None, bytes]:
        """(the hello line, or None when the plugin did not greet; the bytes read after it, or all of them)."""
        from protocol import framing

        deadline = time.monotonic() + self.plan.window
        buf = b""
        while self.link.stdout_open:
            left = deadline - time.monotonic()
            if left <= 0:
                break
            if not any(tag == events.STDOUT for tag, _ in self.loop.wait(left)):
                continue
            data = self.read_stdout()
            buf += data
            if not data or not buf.startswith(b"{"):
                break
            if b"\n" in buf:
                line, _, rest = buf.partition(b"\n")
                line = line.rstrip(b"\r")
                return (line, rest) if framing.is_hello(line) else (None, buf)
            if len(buf) > framing.DEFAULT_MAX_LINE:
                break
        if not self.link.stdout_open and self.status is None:
            self.sup.poll()
        return None, buf

    def _protocol(self, hello_line: bytes, rest: bytes) -> int:
        from dispatch.supervised.conversation import Conversation
        from protocol.client import Client

        program = self.plan.inv.program
        client = Client(host={"name": program.prog, "version": program.version}, plugin=self.plan.name,
                        env_prefix=program.env_prefix)
        conversation = self.conversation = Conversation(
            self.plan, client, self.send_line, self.poller, self.render, self.sup, user_stdin_open=self.user_stdin_open,
        )
        self.loop.handlers[events.TTY] = conversation.on_tty
        self.loop.handlers[events.CALL] = conversation.on_call
        version = conversation.start(hello_line, rest)
        while self.status is None:
            ready = self.loop.wait(self.render.wake_in())
            self.render.tick()
            for tag, _ in ready:
                if tag == events.STDOUT:
                    self._feed(conversation, self.read_stdout())
                elif tag == events.USER_STDIN:
                    conversation.on_stdin()
        self.drain(conversation)
        self._note(declares=True, protocol=version, plugin=client.hello and client.hello.get("plugin"), problem=None)
        return self.status

    def _feed(self, conversation: Conversation, data: bytes) -> None:
        if self.output_closed:
            return  # nobody reads what it says any more: it is being stopped
        if data:
            conversation.feed(data)
        else:
            conversation.eof()

    def drain(self, conversation: Conversation) -> None:
        """After the plugin exited: read what is left, but do not wait on a grandchild holding the pipe."""
        end = time.monotonic() + _DRAIN_MAX
        while self.link.stdout_open and time.monotonic() < end:
            if not any(tag == events.STDOUT for tag, _ in self.loop.wait(_DRAIN_QUIET)):
                break
            self._feed(conversation, self.read_stdout())
        self.loop.drain_stderr(_DRAIN_QUIET, end)

    def _close(self) -> None:
        if self.conversation is not None:
            self.conversation.close()
        self.sup.close()
        self.poller.close()
        self.link.close()
