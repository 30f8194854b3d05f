"""The host side of a plugin run it does not exec: the handshake with a declared plugin, the
protocol session, the plain relay, and plain plugins run on the user's stdio under a limit.

How a plugin runs was decided from its file before it started (dispatch/declaration.py):
- `protocol`: it declares the protocol, so it runs with pipes and must greet. A hello
  starts the protocol session; anything else (another first line, or silence for
  the handshake window) is relayed as plain for this run, bytes untouched both ways.
- `relay`: a plain plugin whose stdout the host must see (`--json`, `--max-output`);
  its stdin, stderr and terminal are the user's.
- `direct`: a plain plugin on the user's own stdio, supervised for a timeout or limits.

One poll loop (`_wait`) serves every phase, so the host never blocks on one
pipe while the plugin waits on another: plugin stdout is always drained,
writes to the plugin's stdin never block, the user's terminal and stdin are
read only when a protocol plugin asks (a prompt, `read_input`) or to relay
them to a plugin that did not greet, and signals, deadlines and exits are
handled in the same place (dispatch/supervise.py), even while a prompt waits.

`run` returns the invocation's status; a negative value -N means "die by
signal N" (the plugin died by it, or the user's Ctrl-C interrupted the run),
which the entry point does after its last words.
"""
from __future__ import annotations

import errno
import os
import time

from dispatch import metadata, terminal
from dispatch import exitcodes as ExitCode  # plain ints: no enum on this path
from dispatch.poller import READ, WRITE, Poller
from dispatch.render import Renderer, to_utf8, decode_base64, terminal_width, visible
from dispatch.supervise import Supervisor
from protocol import framing, messages, versions
from protocol.messages import ProtocolError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping

    from dispatch.cli import Dispatcher
    from dispatch.spawn import Child

_CHUNK = 1 << 20  # with a 1 MiB pipe (spawn.spawn), one read per MiB
# Plain relay of the user's stdin: small chunks, so that little is in flight
# when the plugin exits (and what is, is given back to a seekable stdin).
_STDIN_CHUNK = 4096
_DRAIN_QUIET = 0.1  # after the plugin exits: stop reading once its stdout is quiet this long
_DRAIN_MAX = 2.0  # ... or after this long in all (a grandchild may hold the pipe open)
_READ_INPUT_MAX = 1 << 20
_SIGINT, _SIGPIPE = 2, 13

PROTOCOL, RELAY, DIRECT = "protocol", "relay", "direct"


class _Prompt:
    """A prompt request waiting for the person at the terminal."""

    __slots__ = ("rid", "text", "default", "secret", "answer", "saved")

    def __init__(self, rid: object, text: str, default: str | None, secret: bool) -> None:
        self.rid = rid
        self.text = text
        self.default = default
        self.secret = secret
        self.answer = bytearray()
        self.saved: list[object] | None = None  # the terminal's settings while echo is off


class Session:
    def __init__(
        self,
        dispatcher: Dispatcher,
        child: Child,
        *,
        argv: list[str],
        env: Mapping[str, str],
        mode: str,
        window: float,
        stat: os.stat_result,
    ) -> None:
        opts = dispatcher.options
        self.d = dispatcher
        self.child = child
        self.argv = argv
        self.env = env
        self.mode = mode
        self.window = window
        self.stat = stat
        self.name = os.path.basename(child.path)
        label = f"{dispatcher.prog} {env.get(dispatcher.env_prefix + 'COMMAND', '')}".rstrip()
        self.render = Renderer(dispatcher.prog, opts.verbosity, opts.json, _isatty(2), label, opts.max_output)
        self.sel = Poller()
        self.to_plugin = bytearray()
        self.stdout_open = child.stdout is not None
        self.read_input_id: object = None
        self.read_input_max = 0
        self.prompt: _Prompt | None = None
        self.relaying_stdin = False
        self.seen_result = False
        self.seen_error = False
        self.protocol_active = False
        self.output_closed = False
        self.user_stdin_open = _fd_open(0)
        if child.stdin is not None:
            os.set_blocking(child.stdin, False)
        if child.stdout is not None:
            self.sel.register(child.stdout, READ, "stdout")
        self.sup = Supervisor(child, self.sel, timeout=opts.timeout, peer=self)

    @property
    def status(self) -> int | None:
        return self.sup.status

    # -- Peer, for the supervisor ----------------------------------------------------
    def speaks_protocol(self) -> bool:
        return self.protocol_active

    def cancel(self, reason: str) -> bool:
        if not self.protocol_active or self.child.stdin is None:
            return False
        # Nobody will answer what is pending now: say so before asking the plugin to stop.
        prompt = self.prompt
        if prompt is not None:
            self._end_prompt()
            self.render.stderr("\n")
            self._send(_error_response(prompt.rid, "interaction_cancelled", f"the run was stopped ({reason})"))
        if self.read_input_id is not None:
            rid, self.read_input_id = self.read_input_id, None
            self._unregister(0)
            self._send(_error_response(rid, "interaction_cancelled", f"the run was stopped ({reason})"))
        self._send({"type": "cancel", "reason": reason})
        return True

    def close_plugin_stdin(self) -> None:
        fd = self.child.stdin
        if fd is not None:
            self._unregister(fd)
            os.close(fd)
            self.child.stdin = None

    def resumed(self) -> None:
        """The host was stopped (Ctrl-Z) and continued: a waiting prompt is shown again."""
        if self.prompt is not None:
            if self.prompt.secret:
                terminal.echo(0, False)
            self.render.stderr(self.prompt.text)

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
        if self.mode == DIRECT:
            return self._direct()
        if self.mode == RELAY:
            self._hand_over_terminal()  # the user's stdin is the plugin's own
            return self._plain(b"")
        first, buf = self._handshake()
        if first is not None:
            return self._protocol(first, buf)
        self._note(declares=True, problem="declares the protocol but did not greet: it was run as a plain program")
        return self._plain(buf, watch_late_hello=not buf and self.status is None)

    def _conclude(self, status: int) -> int:
        """The invocation's status (negative: die by that signal), and the host's word when it stopped the plugin."""
        sup = self.sup
        reason = sup.stop_reason
        opts = self.d.options
        if reason == "timeout":
            return self._fail(
                ExitCode.TIMEOUT, "timeout", f"{self.name} did not finish within {opts.timeout:g} s (--timeout); it was stopped"
            )
        if reason == "limit":
            return self._fail(
                ExitCode.TIMEOUT,
                "limit_exceeded",
                f"{self.name} wrote more than {opts.max_output} bytes to stdout (--max-output); it was stopped",
            )
        if opts.max_cpu is not None and status in (128 + 24, 128 + 9) and reason is None:
            return self._fail(
                ExitCode.TIMEOUT,
                "limit_exceeded",
                f"{self.name} used more than {opts.max_cpu:g} s of CPU time (--max-cpu); it was stopped",
            )
        dies_by = sup.killed_by
        if reason == "signal" and sup.stop_signal is not None:
            dies_by = sup.stop_signal  # the host was told to stop: after its last words, it does
        elif reason == "interrupt" and self.protocol_active and (status == ExitCode.INTERRUPTED or sup.escalated):
            dies_by = _SIGINT  # the protocol's answer to Ctrl-C, as a shell loop needs to see it
        elif reason == "output":
            dies_by = _SIGPIPE  # our reader went away, as it would have killed an exec'd plugin
        elif self.seen_error and status == 0:
            status = ExitCode.FAILURE
        if dies_by is not None:
            status = ExitCode.SIGNAL_BASE + dies_by
        if opts.max_memory is not None and status != 0 and reason is None:
            self.d.error(
                f"note: {self.name} failed (status {status}) while limited to {opts.max_memory} bytes "
                f"of memory (--max-memory); the limit may be the cause"
            )
        self.render.exit(status)
        return -dies_by if dies_by is not None else status

    def _fail(self, code: int, code_name: str, message: str) -> int:
        if self.d.options.json:
            self.render.host_error(code_name, message, code)
        self.d.error(message)
        return code

    # -- the loop ------------------------------------------------------------------------
    def _wait(self, timeout: float | None) -> list[object]:
        """Block until something happens; handle process, signal and timer events, writes to the
        plugin and the terminal's answer to a prompt here; return the tags of the caller's own
        events ("stdout", "user-stdin")."""
        ready = []
        for tag in self.sel.select(self.sup.wait_time(timeout)):
            if self.sup.handle(tag):
                continue
            if tag == "plugin-stdin":
                self._write_plugin()
            elif tag == "tty":
                self._read_prompt()
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
                self._unregister(self.child.stdout)
                os.close(self.child.stdout)
                self.child.stdout = None
                self.stdout_open = False
            if self.render.limit_hit:
                self.sup.stop("limit", "terminate")
            else:
                _silence_stdout()
                self.sup.stop("output", "terminate", first_signal=_SIGPIPE)

    # -- the handshake ----------------------------------------------------------------------
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
                return (line, rest) if _is_hello(line) else (None, buf)
            if len(buf) > framing.DEFAULT_MAX_LINE:
                break
        if not self.stdout_open and self.status is None:
            self.sup.poll()
        return None, buf

    # -- plain plugins ---------------------------------------------------------------------------
    def _direct(self) -> int:
        """A plugin on the user's own stdio (a timeout or limits prevented exec): wait and supervise."""
        self._hand_over_terminal()
        while self.status is None:
            self._wait(None)
        return self.status

    def _plain(self, buf: bytes, *, watch_late_hello: bool = False) -> int:
        """Relay bytes both ways until the plugin exits; pass its status through."""
        # After a silent handshake window, hold the first line back until we know
        # it is not a late hello (a protocol plugin that greeted too slowly).
        held = b"" if watch_late_hello else None
        if buf:
            self._emit_plain(buf)
        self.relaying_stdin = self.user_stdin_open and self.child.stdin is not None and _may_read_stdin()
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
                    chunk = _read(0, _STDIN_CHUNK)
                    self._unregister(0)
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
        return self.status  # type: ignore[return-value]

    def _hand_over_terminal(self) -> None:
        """Make the plugin's group the terminal's foreground, as a shell does for a job; a plugin
        that touched the terminal before that (and was stopped for it) goes on."""
        self.sup.give_terminal()
        self.sup.check_child()

    def _emit_plain(self, data: bytes) -> None:
        self.render.plain(data)
        self.render.flush()

    def _check_late_hello(self, held: bytes) -> None:
        if _is_hello(held.split(b"\n", 1)[0].rstrip(b"\r")):
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
        self._unregister(0)
        unread = len(self.to_plugin) + _pipe_unread(self.child.stdin)
        self.to_plugin.clear()
        self.close_plugin_stdin()
        if unread > 0:
            try:
                os.lseek(0, -unread, os.SEEK_CUR)
            except OSError:
                pass  # not seekable (a pipe, a terminal): the documented residual case

    def _drain(self, splitter: framing.LineSplitter | None = None) -> None:
        """After the plugin exited: read what is left, but do not wait on a grandchild holding the pipe."""
        end = time.monotonic() + _DRAIN_MAX
        while self.stdout_open and time.monotonic() < end:
            if "stdout" not in self._wait(_DRAIN_QUIET):
                break
            data = self._read_stdout()
            if data:
                if splitter is None:
                    self._emit_plain(data)
                else:
                    self._lines(splitter, data)
            elif splitter is not None and splitter.pending:
                raise ProtocolError("stdout ended in the middle of a message", line=splitter.pending)

    # -- protocol plugins ----------------------------------------------------------------------------
    def _protocol(self, hello_line: bytes, rest: bytes) -> int:
        hello = framing.decode(hello_line)
        messages.check_plugin_message(hello)
        version = self._negotiate(hello)
        self.protocol_active = True
        self.render.debug(f"{self.name} speaks protocol {version}")
        self._send(self._run_message())
        splitter = framing.LineSplitter()
        self._lines(splitter, rest)
        while self.status is None:
            for tag in self._wait(None):
                if tag == "stdout":
                    data = self._read_stdout()
                    if data:
                        self._lines(splitter, data)
                    elif splitter.pending and not self.output_closed:
                        raise ProtocolError("stdout ended in the middle of a message", line=splitter.pending)
                elif tag == "user-stdin":
                    self._answer_read_input()
        self._drain(splitter)
        self._note(declares=True, protocol=version, plugin=hello.get("plugin"), problem=None)
        return self.status  # type: ignore[return-value]

    def _note(self, **fields: object) -> None:
        """What `tool list` and `tool doctor` will show of this file (never on the start-up path)."""
        metadata.note(self.env, self.d.prog, self.stat, self.child.path, **fields)

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
        lines = splitter.feed(data)
        if not lines:
            return
        # The fast path for the bulk of any stream, runs of `output` messages
        # with a plain text: the chunk is checked once (UTF-8, no control
        # bytes) and a run of such lines is unescaped at once, without a JSON
        # parse. Anything else, or any doubt, takes the full path, which also
        # reports errors.
        render = self.render
        n = len(lines)
        i = 0
        fast = _fast_ok(lines)
        while i < n:
            if self.output_closed:
                return
            j = i
            payloads = []
            while fast and j < n:
                line = lines[j]
                if not (line.startswith(_OUTPUT_TEXT) and line.endswith(b'"}')):
                    break
                payload = line[_OUTPUT_TEXT_LEN:-2]
                if payload.endswith(b"\\"):
                    break  # a lone backslash: let the parser say what is wrong
                payloads.append(payload)
                j += 1
            if j > i:
                text = _unescape(b"".join(payloads))
                if text is not None:
                    render.output_run(text, lines[i:j])
                    i = j
                    continue
            else:
                j = i + 1
            for line in lines[i:j]:
                if self.output_closed:
                    return
                self._handle(line)
            i = j
        render.flush()

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
                    data = decode_base64(msg["base64"])  # type: ignore[arg-type]
                except ValueError:
                    raise ProtocolError("'output' message has invalid base64", field="base64", line=line) from None
            else:
                data = to_utf8(msg["text"])  # type: ignore[arg-type]
            self.render.output_run(data, [line])
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
            self._start_prompt(rid, params)
        elif method == "read_input":
            if self.read_input_id is not None or self.prompt is not None:
                self._send(_error_response(rid, "busy", "another request is already reading the input"))
                return
            max_bytes = params.get("max_bytes", 65536)
            if max_bytes <= 0:  # type: ignore[operator]
                self._send(_error_response(rid, "invalid_params", "max_bytes must be positive"))
                return
            if not self.user_stdin_open:
                self._send({"type": "response", "id": rid, "result": {"base64": "", "eof": True}})
                return
            if not _may_read_stdin():
                # A terminal owned by the foreground job: reading it would stop the host (SIGTTIN).
                self._send(_error_response(rid, "interaction_unavailable", "stdin is a terminal of another job"))
                return
            self.read_input_id = rid
            self.read_input_max = min(max_bytes, _READ_INPUT_MAX)  # type: ignore[type-var]
            self.sel.register(0, READ, "user-stdin")
        else:
            self._send(
                _error_response(rid, "unknown_method", f"{self.d.prog} {self.d.version} has no method {method!r}")
            )

    # -- prompts: read from the terminal inside the loop, so that signals and deadlines act meanwhile --
    def _start_prompt(self, rid: object, params: Mapping[str, object]) -> None:
        if not self._interactive():
            why = "--no-input was given" if self.d.options.no_input else "there is no terminal to ask on"
            self._send(_error_response(rid, "interaction_unavailable", f"cannot prompt: {why}"))
            return
        if self.prompt is not None or self.read_input_id is not None or not terminal.owned(0):
            self._send(_error_response(rid, "busy", "the terminal is busy with another request"))
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
        self.sel.register(0, READ, "tty")

    def _read_prompt(self) -> None:
        prompt = self.prompt
        if prompt is None:
            self._unregister(0)
            return
        # The terminal is in canonical mode: a read returns at most one line, nothing past it.
        data = _read(0, 4096)
        if data:
            prompt.answer += data
            if not data.endswith(b"\n"):
                return
        self._end_prompt()
        rid = prompt.rid
        if prompt.secret or not data:
            self.render.stderr("\n")
        if not data:
            self._send(_error_response(rid, "interaction_cancelled", "no answer (end of input)"))
            return
        answer = bytes(prompt.answer).rstrip(b"\n").rstrip(b"\r").decode("utf-8", "replace")
        if not answer and prompt.default is not None:
            answer = prompt.default
        self._send({"type": "response", "id": rid, "result": {"value": answer}})

    def _end_prompt(self) -> None:
        prompt, self.prompt = self.prompt, None
        if prompt is not None:
            self._unregister(0)
            terminal.restore(0, prompt.saved)

    def _answer_read_input(self) -> None:
        import binascii

        data = _read(0, self.read_input_max)
        self._unregister(0)
        if not data:
            self.user_stdin_open = False
        rid, self.read_input_id = self.read_input_id, None
        encoded = binascii.b2a_base64(data, newline=False).decode("ascii")
        self._send({"type": "response", "id": rid, "result": {"base64": encoded, "eof": not data}})

    # -- pipes ---------------------------------------------------------------------------------
    def _send(self, msg: Mapping[str, object]) -> None:
        if self.child.stdin is None:
            return
        self.to_plugin += framing.encode(msg)
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
        data = _read(fd, _CHUNK)
        if not data:
            self.stdout_open = False
            self._unregister(fd)
        return data

    def _unregister(self, fd: int) -> None:
        self.sel.unregister(fd)

    def _close(self) -> None:
        self._end_prompt()
        self.sup.close()
        self.sel.close()
        for fd in (self.child.stdin, self.child.stdout):
            if fd is not None:
                try:
                    os.close(fd)
                except OSError:
                    pass
        self.child.stdin = self.child.stdout = None


def _silence_stdout() -> None:
    from dispatch.error_handler import silence_stdout

    silence_stdout()


_OUTPUT_TEXT = b'{"type":"output","text":"'
_OUTPUT_TEXT_LEN = len(_OUTPUT_TEXT)
_CONTROL = bytes(range(0x20))  # never raw inside a JSON line (the newlines between lines are not in it)
_SIMPLE_ESCAPES = ((b'\\n', b"\n"), (b'\\t', b"\t"), (b'\\r', b"\r"), (b'\\"', b'"'), (b"\\/", b"/"))


def _fast_ok(lines: list[bytes]) -> bool:
    """The lines are valid UTF-8 without control bytes (so the fast path may trust them)."""
    blob = b"".join(lines)
    if len(blob.translate(None, _CONTROL)) != len(blob):
        return False
    try:
        blob.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def _unescape(payload: bytes) -> bytes | None:
    """The UTF-8 bytes of JSON string bodies (joined) with only simple escapes; None when they need a parser.

    Joining is safe because no body ends in a backslash, so no escape spans two of them.
    """
    if b"\\" not in payload:
        return None if b'"' in payload else payload
    if b"\\\\" in payload or b'"' in payload.replace(b'\\"', b""):
        return None
    for escaped, raw in _SIMPLE_ESCAPES:
        payload = payload.replace(escaped, raw)
    return None if b"\\" in payload else payload


def _undecided(held: bytes) -> bool:
    """Whether the output so far could still be the start of a hello line."""
    return held.startswith(b"{") and b"\n" not in held and len(held) <= framing.DEFAULT_MAX_LINE


def _is_hello(line: bytes) -> bool:
    if not line.startswith(b"{"):
        return False
    try:
        msg = framing.decode(line)
    except ProtocolError:
        return False
    return msg.get("type") == "hello"


def _error_response(rid: object, code: str, message: str) -> dict[str, object]:
    return {"type": "response", "id": rid, "error": {"code": code, "message": message}}


def _read(fd: int, n: int) -> bytes:
    while True:
        try:
            return os.read(fd, n)
        except InterruptedError:
            continue
        except BlockingIOError:
            import select

            select.select([fd], [], [])
        except OSError as e:
            if e.errno in (errno.EIO, errno.EBADF):
                return b""  # EIO: a terminal that went away
            raise


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


_isatty = terminal.isatty


def _may_read_stdin() -> bool:
    """False for a terminal we do not own: reading it from the background would stop the host (SIGTTIN)."""
    return not _isatty(0) or terminal.owned(0)


def _fd_open(fd: int) -> bool:
    try:
        os.fstat(fd)
        return True
    except OSError:
        return False
