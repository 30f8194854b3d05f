"""One supervised run of a plugin: its pipes, the user's terminal, and how it ends.

How a plugin runs was decided from its file before it started (dispatch/declaration.py):
- `protocol`: it declares the protocol, so it runs with pipes and must greet. A hello
  starts the conversation (dispatch/conversation.py); anything else (another first line,
  or silence for the handshake window) is relayed as plain for this run, bytes untouched.
- `relay`: a plain plugin whose stdout the host must see (`--json`, `--max-output`);
  its stdin, stderr and terminal are the user's.
- `direct`: a plain plugin on the user's own stdio, supervised for a timeout or limits.

One poll loop (`_wait`) serves every phase, so the host never blocks on one
pipe while the plugin waits on another: plugin stdout is always drained,
writes to the plugin's stdin never block, and signals, deadlines and exits
are handled in the same place (dispatch/supervise.py).

`run` returns the invocation's status, or -N: "die by signal N" (dispatch/outcome.py).
"""
from __future__ import annotations

import os
import time

from dispatch import metadata, outcome
from dispatch.exitcodes import ExitCode
from dispatch.poller import READ, WRITE, Poller, is_open, read
from dispatch.render import Renderer
from dispatch.supervise import Supervisor
from dispatch.terminal import isatty, may_read
from protocol import framing
from protocol.client import Client
from protocol.messages import ProtocolError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping

    from dispatch.context import Invocation
    from dispatch.conversation import Conversation
    from dispatch.spawn import Child

_CHUNK = 1 << 20  # with a 1 MiB pipe (spawn.spawn), one read per MiB
# Plain relay of the user's stdin: small chunks, so that little is in flight
# when the plugin exits (and what is, is given back to a seekable stdin).
_STDIN_CHUNK = 4096
_DRAIN_QUIET = 0.1  # after the plugin exits: stop reading once its stdout is quiet this long
_DRAIN_MAX = 2.0  # ... or after this long in all (a grandchild may hold the pipe open)


class Session:
    def __init__(
        self,
        inv: Invocation,
        child: Child,
        *,
        argv: list[str],
        env: Mapping[str, str],
        mode: str,
        window: float,
        stat: os.stat_result,
        stdin_fd: int | None = None,
    ) -> None:
        options = inv.options
        self.stdin_fd = stdin_fd  # where the plugin has the user's stdin too, if it has
        self.inv = inv
        self.child = child
        self.argv = argv
        self.env = env
        self.mode = mode
        self.window = window  # the handshake window: how long a declared plugin has to greet
        self.stat = stat
        self.name = os.path.basename(child.path)
        label = f"{inv.prog} {env.get(inv.program.var('COMMAND'), '')}".rstrip()
        self.render = Renderer(
            inv.prog, options.verbosity, options.json, isatty(2), label, options.max_output,
            dumb_terminal=env.get("TERM") == "dumb", stdout_tty=isatty(1),
        )
        self.sel = Poller()
        self.to_plugin = bytearray()
        self.stdout_open = child.stdout is not None
        self.relaying_stdin = False
        self.output_closed = False
        self.user_stdin_open = is_open(0)
        self.conversation: Conversation | None = None
        if child.stdin is not None:
            os.set_blocking(child.stdin, False)
        if child.stdout is not None:
            self.sel.register(child.stdout, READ, "stdout")
        self.sup = Supervisor(child, self.sel, timeout=options.timeout, peer=self)

    @property
    def status(self) -> int | None:
        return self.sup.status

    # -- Peer, for the supervisor ----------------------------------------------------
    def speaks_protocol(self) -> bool:
        return self.conversation is not None

    def cancel(self, reason: str, grace: float) -> bool:
        if self.conversation is None or self.child.stdin is None:
            return False
        self.conversation.cancel(reason, grace)
        return True

    def close_plugin_stdin(self) -> None:
        fd = self.child.stdin
        if fd is not None:
            self.sel.unregister(fd)
            os.close(fd)
            self.child.stdin = None

    def resumed(self) -> None:
        if self.conversation is not None:
            self.conversation.resumed()

    # -- the whole run ------------------------------------------------------------------
    def run(self) -> int:
        try:
            try:
                status = self._run()
            except ProtocolError as e:
                self.sup.stop_now()
                self._note(declares=True, problem=f"protocol error: {e}")
                return self._fail(ExitCode.PROTOCOL, "protocol_error", f"protocol error from {self.name}: {e}")
            return self._conclude(status)
        finally:
            self._close()

    def _run(self) -> int:
        if self.mode == "direct":
            self._hand_over_terminal()
            while self.status is None:
                self._wait(None)
            return self.status
        if self.mode == "relay":
            self._hand_over_terminal()  # the user's stdin is the plugin's own
            return self._plain(b"")
        first, buf = self._handshake()
        if first is not None:
            return self._protocol(first, buf)
        self._note(declares=True, problem="declares the protocol but did not greet: it was run as a plain program")
        return self._plain(buf, watch_late_hello=not buf and self.status is None)

    def _conclude(self, status: int) -> int:
        sup = self.sup
        conversation = self.conversation
        end = outcome.settle(
            name=self.name,
            status=status,
            killed_by=sup.killed_by,
            reason=sup.stop_reason,
            stop_signal=sup.stop_signal,
            escalated=sup.escalated,
            spoke_protocol=conversation is not None,
            reported_error=conversation is not None and conversation.client.seen_error,
            options=self.inv.options,
        )
        if end.failure is not None:
            return self._fail(*end.failure)
        if end.note is not None:
            self.inv.error(end.note)
        self.render.exit(end.status)
        return end.code

    def _fail(self, code: int, json_code: str, message: str) -> int:
        if self.inv.options.json:
            self.render.host_error(json_code, message, code)
        self.inv.error(message)
        return code

    def _note(self, **fields: object) -> None:
        """What `tool list` and `tool doctor` will show of this file (never on the start-up path)."""
        metadata.note(self.env, self.inv.prog, self.stat, self.child.path, **fields)

    # -- the loop ------------------------------------------------------------------------
    def _wait(self, timeout: float | None) -> list[str]:
        """Block until something happens; handle process, signal and timer events, writes to the
        plugin and the terminal's answer to a prompt here; return the tags of the caller's own
        events ("stdout", "user-stdin")."""
        ready = []
        for tag in self.sel.select(self.sup.wait_time(timeout)):
            if self.sup.handle(tag):
                continue
            if tag == "plugin-stdin":
                self._write_plugin()
            elif tag == "tty" and self.conversation is not None:
                self.conversation.on_tty()
            elif tag.startswith("call:") and self.conversation is not None:
                self.conversation.on_call(int(tag[5:]))
            else:
                ready.append(tag)
        self.sup.tick()
        self._check_output()
        return ready

    def _check_output(self) -> None:
        if self.output_closed:
            return
        if self.render.broken or self.render.limit_hit:
            self.output_closed = True
            # Tell the plugin the way a pipe would: its stdout goes away.
            if self.child.stdout is not None:
                self.sel.unregister(self.child.stdout)
                os.close(self.child.stdout)
                self.child.stdout = None
                self.stdout_open = False
            if self.render.limit_hit:
                self.sup.stop("limit")
            else:
                from dispatch.error_handler import silence_stdout

                silence_stdout()
                self.sup.stop("output", first_signal=13)

    def _hand_over_terminal(self) -> None:
        """Make the plugin's group the terminal's foreground, as a shell does for a job (run.py
        asks for it before the plugin starts; this covers a host without a guard); a plugin that
        touched the terminal before that (and was stopped for it) goes on."""
        self.sup.give_terminal()
        self.sup.check_child()

    # -- a declared plugin: the handshake, then the conversation ----------------------------------
    def _handshake(self) -> tuple[bytes | None, bytes]:
        """(the hello line, or None when the plugin did not greet; the bytes read after it, or all of them)."""
        deadline = time.monotonic() + self.window
        buf = b""
        while self.stdout_open:
            left = deadline - time.monotonic()
            if left <= 0:
                break
            if "stdout" not in self._wait(left):
                continue
            data = self._read_stdout()
            buf += data
            if not data or not buf.startswith(b"{"):
                break
            if b"\n" in buf:
                line, _, rest = buf.partition(b"\n")
                line = line.rstrip(b"\r")
                return (line, rest) if framing.is_hello(line) else (None, buf)
            if len(buf) > framing.DEFAULT_MAX_LINE:
                break
        if not self.stdout_open and self.status is None:
            self.sup.poll()
        return None, buf

    def _protocol(self, hello_line: bytes, rest: bytes) -> int:
        from dispatch.conversation import Conversation

        program = self.inv.program
        client = Client(host={"name": program.prog, "version": program.version}, plugin=self.name,
                        env_prefix=program.env_prefix)
        conversation = self.conversation = Conversation(self, client)
        version = conversation.start(hello_line, rest)
        while self.status is None:
            ready = self._wait(self.render.wake_in())
            self.render.tick()
            for tag in ready:
                if tag == "stdout":
                    data = self._read_stdout()
                    if data:
                        conversation.feed(data)
                    else:
                        conversation.eof()
                elif tag == "user-stdin":
                    conversation.on_stdin()
        self._drain(conversation)
        self._note(declares=True, protocol=version, plugin=client.hello and client.hello.get("plugin"), problem=None)
        return self.status

    # -- plain plugins (and declared ones that did not greet) ------------------------------------
    def _plain(self, buf: bytes, *, watch_late_hello: bool = False) -> int:
        """Relay bytes both ways until the plugin exits; pass its status through."""
        # After a silent handshake window, hold the first line back until we know
        # it is not a late hello (a protocol plugin that greeted too slowly).
        held = b"" if watch_late_hello else None
        if buf:
            self._emit_plain(buf)
        self.relaying_stdin = self.user_stdin_open and self.child.stdin is not None and may_read(0)
        if self.relaying_stdin:
            self.sel.register(0, READ, "user-stdin")
        user_eof = False
        while self.status is None:
            # After the user's EOF, send EOF on once the plugin has emptied the pipe.
            waiting_to_close = user_eof and self.child.stdin is not None
            for tag in self._wait(0.02 if waiting_to_close else None):
                if tag == "stdout":
                    data = self._read_stdout()
                    if held is not None:
                        held += data
                        if data and _undecided(held):
                            continue
                        if data:
                            self._check_late_hello(held)
                        data, held = held, None
                    if data:
                        self._emit_plain(data)
                elif tag == "user-stdin":
                    chunk = read(0, _STDIN_CHUNK)
                    self.sel.unregister(0)
                    if not chunk:
                        user_eof = True
                        self.user_stdin_open = False
                    else:
                        self.to_plugin += chunk
                        self._write_plugin()
            if user_eof and self.child.stdin is not None and not self.to_plugin and _pipe_unread(self.child.stdin) == 0:
                self.close_plugin_stdin()
        if self.relaying_stdin:
            self._stop_relay()
        if held is not None:
            self._drain_held(held)
        else:
            self._drain()
        return self.status

    def _emit_plain(self, data: bytes) -> None:
        self.render.plain(data)
        self.render.flush()

    def _check_late_hello(self, held: bytes) -> None:
        if framing.is_hello(held.split(b"\n", 1)[0].rstrip(b"\r")):
            raise ProtocolError(
                f"it greeted after the {self.window:g} s handshake window; a protocol plugin "
                f"must send hello first thing, before any slow start-up"
            )

    def _drain_held(self, held: bytes) -> None:
        end = time.monotonic() + _DRAIN_MAX
        while self.stdout_open and _undecided(held) and time.monotonic() < end:
            if "stdout" not in self._wait(_DRAIN_QUIET):
                break
            held += self._read_stdout()
        if held and not _undecided(held):
            self._check_late_hello(held)
        if held:
            self._emit_plain(held)
        self._drain()

    def _stop_relay(self) -> None:
        """The plugin is done with its stdin: what it never read goes back to the user's stdin."""
        self.relaying_stdin = False
        self.sel.unregister(0)
        unread = len(self.to_plugin) + _pipe_unread(self.child.stdin)
        self.to_plugin.clear()
        self.close_plugin_stdin()
        if unread > 0:
            try:
                os.lseek(0, -unread, os.SEEK_CUR)
            except OSError:
                pass  # not seekable (a pipe, a terminal): the documented residual case

    def _drain(self, conversation: Conversation | None = None) -> None:
        """After the plugin exited: read what is left, but do not wait on a grandchild holding the pipe."""
        end = time.monotonic() + _DRAIN_MAX
        while self.stdout_open and time.monotonic() < end:
            if "stdout" not in self._wait(_DRAIN_QUIET):
                break
            data = self._read_stdout()
            if conversation is None:
                if data:
                    self._emit_plain(data)
            elif data:
                conversation.feed(data)
            else:
                conversation.eof()

    # -- pipes ---------------------------------------------------------------------------------
    def send(self, msg: Mapping[str, object]) -> None:
        """A message to the plugin (written without blocking: the loop writes the rest)."""
        self.send_line(framing.encode(msg))

    def send_line(self, line: bytes) -> None:
        """An encoded message to the plugin (see send)."""
        if self.child.stdin is None:
            return
        self.to_plugin += line
        self._write_plugin()

    def _write_plugin(self) -> None:
        """Write what is pending to the plugin's stdin without blocking; wait for room otherwise."""
        fd = self.child.stdin
        if fd is None:
            self.to_plugin.clear()
            return
        try:
            n = os.write(fd, self.to_plugin) if self.to_plugin else 0
        except BlockingIOError:
            n = 0
        except BrokenPipeError:
            # The plugin stopped reading its stdin (or exited).
            if self.relaying_stdin:
                self._stop_relay()
            else:
                self.close_plugin_stdin()
            self.to_plugin.clear()
            return
        del self.to_plugin[:n]
        registered = self.sel.registered(fd)
        if self.to_plugin and not registered:
            self.sel.register(fd, WRITE, "plugin-stdin")
        elif not self.to_plugin:
            if registered:
                self.sel.unregister(fd)
            if self.relaying_stdin and self.user_stdin_open and not self.sel.registered(0):
                self.sel.register(0, READ, "user-stdin")

    def _read_stdout(self) -> bytes:
        fd = self.child.stdout
        if fd is None:
            return b""
        data = read(fd, _CHUNK)
        if not data:
            self.stdout_open = False
            self.sel.unregister(fd)
        return data

    def _close(self) -> None:
        if self.conversation is not None:
            self.conversation.close()
        self.sup.close()
        self.sel.close()
        for fd in (self.child.stdin, self.child.stdout):
            if fd is not None:
                try:
                    os.close(fd)
                except OSError:
                    pass
        self.child.stdin = self.child.stdout = None


def _undecided(held: bytes) -> bool:
    """Whether the output so far could still be the start of a hello line."""
    return held.startswith(b"{") and b"\n" not in held and len(held) <= framing.DEFAULT_MAX_LINE


def _pipe_unread(fd: int | None) -> int:
    """Bytes written into a pipe and not yet read from it."""
    if fd is None:
        return 0
    try:
        import array
        import fcntl
        import termios

        buf = array.array("i", [0])
        fcntl.ioctl(fd, termios.FIONREAD, buf)
        return buf[0]
    except (OSError, ImportError):
        return 0
