"""The host side of a plugin run over pipes: the handshake sniff, the protocol session, the plain relay.

One selector loop serves every phase, so the host never blocks on one pipe
while the plugin waits on another: plugin stdout is always drained, writes
to the plugin's stdin never block, and the user's stdin is read only when a
protocol plugin asks (`read_input`) or once a plugin is known to be plain.
"""
from __future__ import annotations

import errno
import os
import selectors
import time

from dispatch import cache
from dispatch.exitcodes import ExitCode, from_wait_status
from dispatch.render import Renderer, decode_base64, terminal_width
from protocol import framing, messages, versions
from protocol.messages import ProtocolError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping

    from dispatch.cli import Dispatcher
    from dispatch.launch import Child

DEFAULT_WINDOW = 2.0
_CHUNK = 1 << 16
# Plain relay of the user's stdin: small chunks, so that little is in flight
# when the plugin exits (and what is, is given back to a seekable stdin).
_STDIN_CHUNK = 4096
_DRAIN_QUIET = 0.1  # after the plugin exits: stop reading once its stdout is quiet this long
_DRAIN_MAX = 2.0  # ... or after this long in all (a grandchild may hold the pipe open)
_READ_INPUT_MAX = 1 << 20

# Sniff outcomes.
_PROTOCOL, _PLAIN, _PLAIN_SILENT, _PLAIN_EXITED = "protocol", "plain", "plain-silent", "plain-exited"


class Session:
    def __init__(
        self,
        dispatcher: Dispatcher,
        child: Child,
        *,
        argv: list[str],
        env: Mapping[str, str],
        listening: bool,
        window: float,
        cache_dir: str | None,
        stat: os.stat_result,
    ) -> None:
        opts = dispatcher.options
        self.d = dispatcher
        self.child = child
        self.argv = argv
        self.env = env
        self.listening = listening
        self.window = window
        self.cache_dir = cache_dir
        self.stat = stat
        self.name = os.path.basename(child.path)
        label = f"{dispatcher.prog} {env.get(dispatcher.env_prefix + 'COMMAND', '')}".rstrip()
        self.render = Renderer(dispatcher.prog, opts.verbosity, opts.json, _isatty(2), label)
        # poll, not epoll: epoll refuses regular files and /dev/null as the user's stdin.
        self.sel = getattr(selectors, "PollSelector", selectors.SelectSelector)()
        self.status: int | None = None
        self.to_plugin = bytearray()
        self.stdout_open = True
        self.pidfd: int | None = None
        self.read_input_id: object = None
        self.read_input_max = 0
        self.seen_result = False
        self.seen_error = False
        self.user_stdin_open = _fd_open(0)
        try:
            self.pidfd = os.pidfd_open(child.pid)  # type: ignore[attr-defined]
        except (AttributeError, OSError):
            self.pidfd = None
        os.set_blocking(child.stdin, False)  # type: ignore[arg-type]
        self.sel.register(child.stdout, selectors.EVENT_READ, "stdout")  # type: ignore[arg-type]
        self.protocol_active = False
        self.interrupts = 0
        self._install_signals()
        if self.pidfd is not None:
            self.sel.register(self.pidfd, selectors.EVENT_READ, "exit")

    # -- the whole run ----------------------------------------------------------
    def run(self) -> int:
        try:
            try:
                code = self._run()
            except ProtocolError as e:
                self._stop_plugin()
                return self._fail(ExitCode.PROTOCOL, "protocol_error", f"protocol error from {self.name}: {e}")
            return code
        finally:
            self._close()

    def _run(self) -> int:
        if not self.listening:
            return self._plain(b"", remember=False)
        outcome, buf = self._sniff()
        if outcome == _PROTOCOL:
            first, _, rest = buf.partition(b"\n")
            return self._protocol(first.rstrip(b"\r"), rest)
        if outcome == _PLAIN_SILENT:
            return self._plain(buf, remember=True, watch_late_hello=True)
        return self._plain(buf, remember=outcome == _PLAIN)

    def _sniff(self) -> tuple[str, bytes]:
        """Decide from the first bytes on stdout whether the plugin speaks the protocol."""
        deadline = time.monotonic() + self.window
        buf = b""
        while True:
            timeout = deadline - time.monotonic()
            if timeout <= 0:
                if self._exited():
                    return _PLAIN_EXITED, buf
                return (_PLAIN_SILENT if not buf else _PLAIN), buf
            for key, _ in self.sel.select(timeout):
                if key.data == "stdout":
                    data = self._read_stdout()
                    if not data:
                        return (_PLAIN if buf else _PLAIN_EXITED), buf
                    buf += data
                    if not buf.startswith(b"{"):
                        return _PLAIN, buf
                    if b"\n" in buf:
                        line = buf.split(b"\n", 1)[0].rstrip(b"\r")
                        return (_PROTOCOL if _is_hello(line) else _PLAIN), buf
                    if len(buf) > framing.DEFAULT_MAX_LINE:
                        return _PLAIN, buf
                elif key.data == "exit":
                    self._reap()
                elif key.data == "signal":
                    self._on_signals()

    # -- plain plugins ----------------------------------------------------------------
    def _plain(self, buf: bytes, *, remember: bool, watch_late_hello: bool = False) -> int:
        """Relay bytes both ways until the plugin exits; pass its status through."""
        # After a silent window, hold the first line back until we know it is
        # not a late hello (a protocol plugin that greeted too slowly).
        held = b"" if watch_late_hello else None
        if buf:
            self.render.plain(buf)
            self.render.flush()
        relay_stdin = self.user_stdin_open and self.child.stdin is not None and _may_read_stdin()
        pending = b""
        user_eof = False
        if relay_stdin:
            self.sel.register(0, selectors.EVENT_READ, "user-stdin")
        while self.status is None:
            timeout = None if self.pidfd is not None else 0.05
            if user_eof and self.child.stdin is not None:
                timeout = 0.02  # wait for the plugin to empty the pipe, then send EOF
            for key, _ in self.sel.select(timeout):
                if key.data == "stdout":
                    data = self._read_stdout()
                    if held is not None:
                        held += data
                        if data and not _undecided(held):
                            self._check_late_hello(held)
                            data, held = held, None
                        elif not data:
                            data, held = held, None
                        else:
                            continue
                    if data:
                        self.render.plain(data)
                        self.render.flush()
                elif key.data == "exit":
                    self._reap()
                elif key.data == "signal":
                    self._on_signals()
                elif key.data == "user-stdin":
                    pending = _read(0, _STDIN_CHUNK)
                    self.sel.unregister(0)
                    if not pending:
                        user_eof = True
                        self.user_stdin_open = False
                    else:
                        self.sel.register(self.child.stdin, selectors.EVENT_WRITE, "plugin-stdin")  # type: ignore[arg-type]
                elif key.data == "plugin-stdin":
                    try:
                        n = os.write(self.child.stdin, pending)  # type: ignore[arg-type]
                    except BlockingIOError:
                        n = 0
                    except BrokenPipeError:
                        # The plugin closed its stdin: stop relaying.
                        relay_stdin = False
                        self._close_plugin_stdin()
                        continue
                    pending = pending[n:]
                    if not pending:
                        self.sel.unregister(self.child.stdin)  # type: ignore[arg-type]
                        self.sel.register(0, selectors.EVENT_READ, "user-stdin")
            if user_eof and self.child.stdin is not None and _pipe_unread(self.child.stdin) == 0:
                self._close_plugin_stdin()
            if self.pidfd is None and self.status is None:
                self._poll_exit()
        if relay_stdin and self.child.stdin is not None:
            self._give_back_stdin(len(pending) + _pipe_unread(self.child.stdin))
        if held is not None:
            # Silent window, then exit: there may still be a first line to check.
            self._drain_held(held)
        else:
            self._drain()
        if remember:
            cache.remember(self.cache_dir, self.stat, cache.PLAIN)
        self.render.exit(self.status)  # type: ignore[arg-type]
        return self.status  # type: ignore[return-value]

    def _check_late_hello(self, held: bytes) -> None:
        if _is_hello(held.split(b"\n", 1)[0].rstrip(b"\r")):
            raise ProtocolError(
                f"it greeted after the {self.window:g} s handshake window; a protocol plugin "
                f"must send hello first thing, before any slow start-up"
            )

    def _drain_held(self, held: bytes) -> None:
        end = time.monotonic() + _DRAIN_MAX
        while self.stdout_open and _undecided(held) and time.monotonic() < end:
            if not self.sel.select(_DRAIN_QUIET):
                break
            held += self._read_stdout()
        if held and not _undecided(held):
            self._check_late_hello(held)
        if held:
            self.render.plain(held)
            self.render.flush()
        self._drain()

    def _give_back_stdin(self, unread: int) -> None:
        """Return stdin bytes the plugin never read to a seekable stdin, for the next reader."""
        if unread <= 0:
            return
        try:
            os.lseek(0, -unread, os.SEEK_CUR)
        except OSError:
            pass  # not seekable (a pipe, a terminal): the documented residual case

    # -- protocol plugins -------------------------------------------------------------
    def _protocol(self, hello_line: bytes, rest: bytes) -> int:
        hello = framing.decode(hello_line)
        messages.check_plugin_message(hello)
        version = self._negotiate(hello)
        self.version = version
        self.protocol_active = True
        self.render.debug(f"{self.name} speaks protocol {version}")
        self._send(self._run_message())
        splitter = framing.LineSplitter()
        self._lines(splitter, rest)
        while self.stdout_open or self.status is None:
            if self.status is not None:
                self._drain(splitter)
                break
            for key, _ in self.sel.select(None if self.pidfd is not None else 0.05):
                if key.data == "stdout":
                    data = self._read_stdout()
                    if data:
                        self._lines(splitter, data)
                    elif splitter.pending:
                        raise ProtocolError("stdout ended in the middle of a message", line=splitter.pending)
                elif key.data == "exit":
                    self._reap()
                elif key.data == "signal":
                    self._on_signals()
                elif key.data == "plugin-stdin":
                    self._write_plugin()
                elif key.data == "user-stdin":
                    self._answer_read_input()
            if self.pidfd is None and self.status is None:
                self._poll_exit()
        cache.remember(self.cache_dir, self.stat, f"{cache.PROTOCOL}:{version}")
        status = self.status
        if self.seen_error and status == 0:
            status = ExitCode.FAILURE
        self.render.exit(status)  # type: ignore[arg-type]
        return status  # type: ignore[return-value]

    def _negotiate(self, hello: Mapping[str, object]) -> int:
        offered = list(versions.SUPPORTED)
        chosen = hello["protocol"]
        if chosen is None:
            theirs = ", ".join(str(v) for v in hello.get("supported", [])) or "none"  # type: ignore[attr-defined]
            ours = ", ".join(str(v) for v in offered)
            newer = max(hello.get("supported") or [0]) > max(offered)  # type: ignore[type-var, operator]
            fix = (
                f"upgrade {self.d.prog} to a version that speaks protocol {theirs}"
                if newer
                else f"upgrade {self.name} (or its SDK) to speak protocol {ours}"
            )
            raise ProtocolError(
                f"no protocol version in common: {self.name} speaks {theirs}, "
                f"{self.d.prog} {self.d.version} speaks {ours}; {fix}"
            )
        if chosen not in offered:
            raise ProtocolError(
                f"it chose protocol {chosen}, which {self.d.prog} did not offer "
                f"({self.d.env_prefix}PROTOCOL={versions.format_offer(offered)}); the plugin must pick one of the "
                f"offered versions: upgrade {self.name} or report this to its author"
            )
        return chosen  # type: ignore[return-value]

    def _run_message(self) -> dict[str, object]:
        opts = self.d.options
        return {
            "type": "run",
            "argv": self.argv,
            "interactive": self._interactive(),
            "output": "json" if opts.json else "text",
            "color": (not opts.json) and _isatty(1) and not self.env.get("NO_COLOR") and self.env.get("TERM") != "dumb",
            "width": terminal_width(self.env),
            "verbosity": opts.verbosity,
            "host": {"name": self.d.prog, "version": self.d.version},
        }

    def _interactive(self) -> bool:
        return not self.d.options.no_input and _isatty(0)

    def _lines(self, splitter: framing.LineSplitter, data: bytes) -> None:
        for line in splitter.feed(data):
            self._handle(line)
        self.render.flush()

    def _handle(self, line: bytes) -> None:
        try:
            msg = framing.decode(line)
        except ProtocolError as e:
            if e.message == "line is not valid JSON" and not line.startswith(b"{"):
                e.message = (
                    "a line on stdout is not a protocol message (a stray print? "
                    "plugins must write diagnostics to stderr)"
                )
            raise
        try:
            messages.check_plugin_message(msg)
        except ProtocolError as e:
            e.line = line
            raise
        mtype = msg["type"]
        if mtype == "output":
            if "base64" in msg:
                try:
                    decode_base64(msg["base64"])  # type: ignore[arg-type]
                except ValueError:
                    raise ProtocolError("'output' message has invalid base64", field="base64", line=line) from None
            self.render.output(msg, line)
        elif mtype == "log":
            self.render.log(msg["level"], msg["message"])  # type: ignore[arg-type]
        elif mtype == "progress":
            self.render.progress(msg)
        elif mtype == "request":
            self._request(msg)
        elif mtype == "result":
            if self.seen_result:
                raise ProtocolError("a second 'result' message (at most one is allowed)", line=line)
            self.seen_result = True
            self.render.result(msg, line)
        elif mtype == "error":
            self.seen_error = True
            self.render.error(msg, line)
        elif mtype == "hello":
            raise ProtocolError("a second 'hello' message", line=line)
        else:
            self.render.debug(f"ignored a message of unknown type {mtype!r} from {self.name}")

    def _request(self, msg: Mapping[str, object]) -> None:
        rid, method = msg["id"], msg["method"]
        params: Mapping[str, object] = msg.get("params") or {}  # type: ignore[assignment]
        if method == "prompt":
            self._send(self._prompt(rid, params))
        elif method == "read_input":
            if self.read_input_id is not None:
                self._send(_error_response(rid, "busy", "a read_input request is already pending"))
                return
            max_bytes = params.get("max_bytes", 65536)
            if max_bytes <= 0:  # type: ignore[operator]
                self._send(_error_response(rid, "invalid_params", "max_bytes must be positive"))
                return
            if not self.user_stdin_open:
                self._send({"type": "response", "id": rid, "result": {"base64": "", "eof": True}})
                return
            self.read_input_id = rid
            self.read_input_max = min(max_bytes, _READ_INPUT_MAX)  # type: ignore[type-var]
            self.sel.register(0, selectors.EVENT_READ, "user-stdin")
        else:
            self._send(
                _error_response(rid, "unknown_method", f"{self.d.prog} {self.d.version} has no method {method!r}")
            )

    def _prompt(self, rid: object, params: Mapping[str, object]) -> dict[str, object]:
        if not self._interactive():
            why = "--no-input was given" if self.d.options.no_input else "there is no terminal to ask on"
            return _error_response(rid, "interaction_unavailable", f"cannot prompt: {why}")
        from dispatch import prompt

        self.render.flush()
        self.render.stderr("")
        answer = prompt.ask(
            str(params["message"]),
            default=params.get("default"),  # type: ignore[arg-type]
            secret=bool(params.get("secret", False)),
        )
        if answer is None:
            return _error_response(rid, "interaction_cancelled", "no answer (end of input)")
        return {"type": "response", "id": rid, "result": {"value": answer}}

    def _answer_read_input(self) -> None:
        import binascii

        data = _read(0, self.read_input_max)
        self.sel.unregister(0)
        if not data:
            self.user_stdin_open = False
        rid, self.read_input_id = self.read_input_id, None
        encoded = binascii.b2a_base64(data, newline=False).decode("ascii")
        self._send({"type": "response", "id": rid, "result": {"base64": encoded, "eof": not data}})

    def _send(self, msg: Mapping[str, object]) -> None:
        if self.child.stdin is None:
            return
        self.to_plugin += framing.encode(msg)
        self._write_plugin()

    def _write_plugin(self) -> None:
        fd = self.child.stdin
        if fd is None:
            return
        try:
            n = os.write(fd, self.to_plugin)
        except BlockingIOError:
            n = 0
        except BrokenPipeError:
            # The plugin stopped reading; what it does not read it did not need.
            self.to_plugin.clear()
            self._unregister(fd)
            return
        del self.to_plugin[:n]
        try:
            self.sel.get_key(fd)
            registered = True
        except KeyError:
            registered = False
        if self.to_plugin and not registered:
            self.sel.register(fd, selectors.EVENT_WRITE, "plugin-stdin")
        elif not self.to_plugin and registered:
            self.sel.unregister(fd)

    # -- signals: the plugin runs in its own process group, so the host forwards them ----
    def _install_signals(self) -> None:
        import signal

        self._saved_handlers: list[tuple[int, object]] = []
        self._wake_r, self._wake_w = os.pipe()
        os.set_blocking(self._wake_w, False)
        os.set_blocking(self._wake_r, False)
        self._saved_wakeup = signal.set_wakeup_fd(self._wake_w, warn_on_full_buffer=False)
        for name in ("SIGINT", "SIGTERM", "SIGHUP"):
            signum = getattr(signal, name)
            self._saved_handlers.append((signum, signal.signal(signum, _note_signal)))
        self.sel.register(self._wake_r, selectors.EVENT_READ, "signal")

    def _restore_signals(self) -> None:
        import signal

        for signum, handler in getattr(self, "_saved_handlers", []):
            signal.signal(signum, handler)  # type: ignore[arg-type]
        self._saved_handlers = []
        if hasattr(self, "_wake_r"):
            signal.set_wakeup_fd(self._saved_wakeup)
            os.close(self._wake_r)
            os.close(self._wake_w)
            del self._wake_r

    def _on_signals(self) -> None:
        try:
            received = os.read(self._wake_r, 64)
        except BlockingIOError:
            return
        for signum in received:
            self._forward(signum)

    def _forward(self, signum: int) -> None:
        """SIGINT: `cancel` to a protocol plugin (a second one kills), the signal to a plain one.
        SIGTERM/SIGHUP: `cancel` for a protocol plugin and the signal to the group."""
        if signum == 2:
            self.interrupts += 1
            if self.interrupts > 1:
                self._signal_group(9)
            elif self.protocol_active:
                self._send({"type": "cancel", "reason": "interrupt"})
            else:
                self._signal_group(2)
            return
        if self.protocol_active:
            self._send({"type": "cancel", "reason": "terminate"})
        self._signal_group(signum)

    # -- process and pipes ----------------------------------------------------------------
    def _read_stdout(self) -> bytes:
        data = _read(self.child.stdout, _CHUNK)  # type: ignore[arg-type]
        if not data:
            self.stdout_open = False
            self._unregister(self.child.stdout)  # type: ignore[arg-type]
        return data

    def _drain(self, splitter: framing.LineSplitter | None = None) -> None:
        """After the plugin exited: read what is left, but do not wait on a grandchild holding the pipe."""
        end = time.monotonic() + _DRAIN_MAX
        while self.stdout_open and time.monotonic() < end:
            ready = self.sel.select(_DRAIN_QUIET)
            if not any(key.data == "stdout" for key, _ in ready):
                break
            data = self._read_stdout()
            if data:
                if splitter is None:
                    self.render.plain(data)
                    self.render.flush()
                else:
                    self._lines(splitter, data)
            elif splitter is not None and splitter.pending:
                raise ProtocolError("stdout ended in the middle of a message", line=splitter.pending)

    def _reap(self) -> None:
        if self.status is not None:
            return
        _, wstatus = os.waitpid(self.child.pid, 0)
        self.status = from_wait_status(os.waitstatus_to_exitcode(wstatus))
        if self.pidfd is not None:
            self._unregister(self.pidfd)

    def _poll_exit(self) -> None:
        pid, wstatus = os.waitpid(self.child.pid, os.WNOHANG)
        if pid:
            self.status = from_wait_status(os.waitstatus_to_exitcode(wstatus))

    def _exited(self) -> bool:
        if self.status is None:
            self._poll_exit()
        return self.status is not None

    def _stop_plugin(self, grace: float = 1.0) -> None:
        """Stop the plugin and everything it started: close its stdin, SIGTERM its group, then SIGKILL it."""
        self._close_plugin_stdin()
        self._signal_group(15)
        end = time.monotonic() + grace
        while time.monotonic() < end and not self._exited():
            time.sleep(0.01)
        # Whatever is left of the group (the plugin, or children that ignore SIGTERM) goes now.
        self._signal_group(9)
        end = time.monotonic() + 5.0
        while time.monotonic() < end and not self._exited():
            time.sleep(0.01)

    def _signal_group(self, sig: int) -> None:
        try:
            os.killpg(self.child.pid, sig)
        except (ProcessLookupError, PermissionError):
            pass

    def _close_plugin_stdin(self) -> None:
        fd = self.child.stdin
        if fd is not None:
            self._unregister(fd)
            os.close(fd)
            self.child.stdin = None

    def _unregister(self, fd: int) -> None:
        try:
            self.sel.unregister(fd)
        except (KeyError, ValueError):
            pass

    def _fail(self, code: int, code_name: str, message: str) -> int:
        if self.d.options.json:
            self.render.host_error(code_name, message, code)
        self.d.error(message)
        return code

    def _close(self) -> None:
        if self.status is None:
            # Never leave a zombie or an orphan behind.
            self._stop_plugin()
        self.sel.close()
        for fd in (self.child.stdin, self.child.stdout, self.pidfd):
            if fd is not None:
                try:
                    os.close(fd)
                except OSError:
                    pass
        self.child.stdin = self.child.stdout = None
        self._restore_signals()


def _note_signal(signum: int, frame: object) -> None:
    # The signal number reaches the loop through the wakeup fd; nothing to do here.
    pass


def _is_hello(line: bytes) -> bool:
    if not line.startswith(b"{"):
        return False
    try:
        msg = framing.decode(line)
    except ProtocolError:
        return False
    return msg.get("type") == "hello"


def _undecided(held: bytes) -> bool:
    """Whether the output so far could still be the start of a hello line."""
    return held.startswith(b"{") and b"\n" not in held and len(held) <= framing.DEFAULT_MAX_LINE


def _error_response(rid: object, code: str, message: str) -> dict[str, object]:
    return {"type": "response", "id": rid, "error": {"code": code, "message": message}}


def _read(fd: int, n: int) -> bytes:
    while True:
        try:
            return os.read(fd, n)
        except InterruptedError:
            continue
        except BlockingIOError:
            return b"" if n == 0 else _read_blocking(fd, n)
        except OSError as e:
            if e.errno in (errno.EIO, errno.EBADF):
                return b""
            raise


def _read_blocking(fd: int, n: int) -> bytes:
    os.set_blocking(fd, True)
    return os.read(fd, n)


def _pipe_unread(fd: int | None) -> int:
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


def _isatty(fd: int) -> bool:
    try:
        return os.isatty(fd)
    except OSError:
        return False


def _may_read_stdin() -> bool:
    """False for a terminal we do not own: reading it from the background would stop the host (SIGTTIN)."""
    if not _isatty(0):
        return True
    try:
        return os.tcgetpgrp(0) == os.getpgrp()
    except OSError:
        return False


def _fd_open(fd: int) -> bool:
    try:
        os.fstat(fd)
        return True
    except OSError:
        return False
