"""The Python SDK for tool plugins.

    #!/usr/bin/env python3
    # speaks TOOL_PROTOCOL
    from protocol.plugin import Plugin

    plugin = Plugin("greet", version="1.0.0", summary="Say hello")

    @plugin.run
    def greet(ctx, args):
        name = args[0] if args else ctx.prompt("Who shall I greet?", default="world")
        ctx.log.info(f"greeting {name}")
        ctx.output(f"Hello, {name}!\\n")
        return {"greeted": name}

    plugin.main()

The comment `# speaks TOOL_PROTOCOL` declares the protocol: the host runs
only files that contain the text TOOL_PROTOCOL as protocol plugins (every
other file is exec'd as a plain program), and this SDK reads the variable
elsewhere, so the plugin's own file must name it.

Run by the host (TOOL_PROTOCOL set), the SDK greets first thing, keeps the
protocol stream on private descriptors (anything else printed to stdout, by
your code or a C library, goes to stderr), answers the host's requests,
stops on `cancel` or when the host goes away (EOF on stdin). Run directly,
the same plugin is an ordinary command: text on stdout, prompts on the
terminal, the right exit status.
"""
from __future__ import annotations

import json
import os
import sys

from protocol import framing, versions
from protocol.messages import ProtocolError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Mapping, Sequence
    from typing import Any, NoReturn

    RunFunction = Callable[["Context", list[str]], Any]

EXIT_PROTOCOL = 76
_CANCEL_STATUS = {"interrupt": 130, "timeout": 124, "terminate": 143}
# After the host has gone (EOF on stdin) the plugin gets this long to stop by itself.
_HOST_GONE_GRACE = 3.0


class PluginError(Exception):
    """A failure to report to the user: `code` is a snake_case identifier for scripts."""

    def __init__(self, message: str, *, code: str = "error", hint: str | None = None, exit_code: int = 1) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.hint = hint
        self.exit_code = exit_code if exit_code != 0 else 1


class InteractionUnavailable(PluginError):
    """A prompt could not be asked: no terminal, or the user said --no-input."""

    def __init__(self, message: str) -> None:
        super().__init__(message, code="interaction_unavailable", hint="pass the value as an argument instead")


class Cancelled(BaseException):
    """The host asked the plugin to stop (Ctrl-C, timeout, terminate) or went away."""

    def __init__(self, reason: str = "interrupt") -> None:
        super().__init__(reason)
        self.reason = reason


class _Log:
    def __init__(self, ctx: Context) -> None:
        self._ctx = ctx

    def debug(self, message: str) -> None:
        self._ctx._log("debug", message)

    def info(self, message: str) -> None:
        self._ctx._log("info", message)

    def warning(self, message: str) -> None:
        self._ctx._log("warning", message)

    def error(self, message: str) -> None:
        self._ctx._log("error", message)


class Context:
    """What a run gets: its arguments, the user's settings, and the ways to talk to the user."""

    def __init__(self, channel: _Channel | None, run: Mapping[str, Any], plugin_name: str) -> None:
        self._channel = channel
        self._name = plugin_name
        self.args: list[str] = list(run.get("argv", []))
        self.interactive: bool = bool(run.get("interactive", False))
        self.output_mode: str = str(run.get("output", "text"))
        self.color: bool = bool(run.get("color", False))
        self.width: int = int(run.get("width", 80))
        self.verbosity: int = int(run.get("verbosity", 0))
        self.host: Mapping[str, Any] = run.get("host") or {}
        self.protocol: int | None = channel.version if channel else None
        self.log = _Log(self)
        self._progress_shown = False

    @property
    def cancelled(self) -> bool:
        """True once the host asked the plugin to stop; long loops should check it."""
        return self._channel is not None and self._channel.cancel_reason is not None

    def output(self, data: str | bytes) -> None:
        """Text or bytes for the user's stdout, verbatim."""
        if self._channel is None:
            self._clear_progress()
            out = sys.stdout
            if isinstance(data, str):
                out.write(data)
            else:
                out.flush()
                out.buffer.write(data)
            out.flush()
            return
        if isinstance(data, str):
            try:
                data.encode("utf-8")
                self._channel.send({"type": "output", "text": data})
                return
            except UnicodeEncodeError:
                data = data.encode("utf-8", "surrogateescape")
        import binascii

        self._channel.send({"type": "output", "base64": binascii.b2a_base64(data, newline=False).decode("ascii")})

    def _log(self, level: str, message: str) -> None:
        if self._channel is not None:
            self._channel.send({"type": "log", "level": level, "message": message})
            return
        threshold = {"debug": 1, "info": 0, "warning": 0, "error": -1}[level]
        if self.verbosity >= threshold:
            self._clear_progress()
            prefix = "" if level == "info" else f"{level}: "
            sys.stderr.write(f"{prefix}{message}\n")
            sys.stderr.flush()

    def progress(self, message: str = "", current: float | None = None, total: float | None = None) -> None:
        """A live progress line (shown by the host on a terminal only)."""
        msg: dict[str, Any] = {"type": "progress", "message": message}
        if current is not None:
            msg["current"] = current
        if total is not None:
            msg["total"] = total
        if self._channel is not None:
            self._channel.send(msg)
            return
        if sys.stderr.isatty():
            text = message + (f" {current}/{total}" if current is not None and total else "")
            sys.stderr.write("\r\x1b[2K" + text[: self.width - 1])
            sys.stderr.flush()
            self._progress_shown = True

    def _clear_progress(self) -> None:
        if self._progress_shown:
            self._progress_shown = False
            sys.stderr.write("\r\x1b[2K")
            sys.stderr.flush()

    def prompt(self, message: str, *, default: str | None = None, secret: bool = False) -> str:
        """Ask the user; raises InteractionUnavailable without a terminal or with --no-input."""
        if self._channel is None:
            return _ask_directly(message, default, secret, self)
        params: dict[str, Any] = {"message": message, "secret": secret}
        if default is not None:
            params["default"] = default
        result = self._channel.request("prompt", params)
        return str(result["value"])

    def read_input(self, max_bytes: int = 65536) -> bytes:
        """Up to max_bytes of the user's stdin; b"" at end of input."""
        if self._channel is None:
            stdin = sys.stdin.buffer
            return stdin.read1(max_bytes) if hasattr(stdin, "read1") else stdin.read(max_bytes)
        import binascii

        result = self._channel.request("read_input", {"max_bytes": max_bytes})
        return binascii.a2b_base64(result.get("base64", ""))


class _Channel:
    """The protocol stream: private duplicates of the original stdin/stdout."""

    def __init__(self, version: int, inp: int, out: int) -> None:
        import threading

        self.version = version
        self.inp = inp
        self.out = out
        self.lock = threading.Lock()
        self.responses: dict[object, Mapping[str, Any]] = {}
        self.arrived = threading.Condition(self.lock)
        self.cancel_reason: str | None = None
        # Set while the author's function runs: only then is the main thread
        # interrupted on cancel (before, the SDK checks cancel_reason itself).
        self.armed = False
        self.main_thread: int | None = None
        self.next_id = 1
        self.splitter = framing.LineSplitter()
        self.pending: list[bytes] = []

    def send(self, msg: Mapping[str, Any]) -> None:
        data = framing.encode(msg)
        with self.lock:
            view = memoryview(data)
            while view:
                n = os.write(self.out, view)
                view = view[n:]

    def read_message(self) -> dict[str, Any] | None:
        """The next message from the host (blocking); None at EOF."""
        while not self.pending:
            data = os.read(self.inp, 1 << 16)
            if not data:
                return None
            self.pending.extend(self.splitter.feed(data))
        return framing.decode(self.pending.pop(0))

    def request(self, method: str, params: Mapping[str, Any]) -> Mapping[str, Any]:
        with self.lock:
            rid = self.next_id
            self.next_id += 1
        self.send({"type": "request", "id": rid, "method": method, "params": params})
        with self.arrived:
            while rid not in self.responses:
                if self.cancel_reason is not None:
                    raise Cancelled(self.cancel_reason)
                self.arrived.wait(0.1)
            response = self.responses.pop(rid)
        if "error" in response:
            err = response["error"]
            if err.get("code") == "interaction_unavailable":
                raise InteractionUnavailable(str(err.get("message", "cannot ask")))
            raise PluginError(str(err.get("message")), code=str(err.get("code", "error")))
        return response.get("result") or {}

    def listen(self) -> None:
        """Reader thread: responses, cancel, and EOF (the host is gone)."""
        import time

        while True:
            try:
                msg = self.read_message()
            except (ProtocolError, OSError):
                msg = None
            if msg is None:
                reason = "host_gone"
            elif msg.get("type") == "response":
                with self.arrived:
                    self.responses[msg.get("id")] = msg
                    self.arrived.notify_all()
                continue
            elif msg.get("type") == "cancel":
                reason = str(msg.get("reason", "interrupt"))
            else:
                continue  # unknown message types are ignored
            with self.arrived:
                first = self.cancel_reason is None
                self.cancel_reason = reason
                self.arrived.notify_all()
            if first and self.armed:
                self._interrupt_main()
            if reason == "host_gone":
                time.sleep(_HOST_GONE_GRACE)
                os._exit(_CANCEL_STATUS["terminate"])


    def arm(self) -> object:
        """Before the author's function runs: make sure a cancel can stop it, whatever SIGINT's
        disposition (a plugin started from a script's `cmd &` inherits SIGINT ignored).
        Returns what to restore afterwards."""
        import _signal  # not `signal`, which imports enum: this is every run's start-up
        import threading

        self.main_thread = threading.get_ident()
        saved = None
        try:
            if _signal.getsignal(_signal.SIGINT) in (_signal.SIG_IGN, _signal.SIG_DFL, None):
                saved = _signal.signal(_signal.SIGINT, _signal.default_int_handler)
        except ValueError:
            pass  # not the main thread: the author's own business
        self.armed = True
        return saved

    def disarm(self, saved: object) -> None:
        import _signal

        self.armed = False
        if saved is not None:
            try:
                _signal.signal(_signal.SIGINT, saved)  # type: ignore[arg-type]
            except ValueError:
                pass

    def _interrupt_main(self) -> None:
        """Stop the author's function: a real SIGINT to the main thread (which also ends a
        blocking sleep or read), raised as Cancelled. When the plugin installed its own SIGINT
        handler, Cancelled is raised in the main thread directly as well."""
        import _signal

        if self.main_thread is None or not hasattr(_signal, "pthread_kill"):
            import _thread

            _thread.interrupt_main()
            return
        if _signal.getsignal(_signal.SIGINT) is not _signal.default_int_handler:
            import ctypes

            ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(self.main_thread), ctypes.py_object(Cancelled))
        try:
            _signal.pthread_kill(self.main_thread, _signal.SIGINT)
        except (OSError, ValueError):
            pass


def _ask_directly(message: str, default: str | None, secret: bool, ctx: Context) -> str:
    if not sys.stdin.isatty():
        raise InteractionUnavailable(f"cannot ask {message!r}: stdin is not a terminal")
    ctx._clear_progress()
    text = message.rstrip() + (f" [{default}]" if default is not None and not secret else "") + " "
    try:
        if secret:
            import getpass

            answer = getpass.getpass(text, stream=sys.stderr)
        else:
            sys.stderr.write(text)
            sys.stderr.flush()
            answer = sys.stdin.readline()
            if not answer:
                raise EOFError
            answer = answer.rstrip("\n")
    except EOFError:
        raise PluginError("no answer (end of input)", code="interaction_cancelled") from None
    return default if not answer and default is not None else answer


class Flag:
    """An option the plugin accepts, for --help, `tool help` and shell completion."""

    def __init__(
        self,
        name: str,
        summary: str = "",
        *,
        short: str | None = None,
        takes_value: bool = False,
        choices: Sequence[str] | None = None,
    ) -> None:
        self.name = name
        self.summary = summary
        self.short = short
        self.takes_value = takes_value or bool(choices)
        self.choices = list(choices) if choices else None

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"name": self.name, "summary": self.summary, "takes_value": self.takes_value}
        if self.short:
            out["short"] = self.short
        if self.choices:
            out["choices"] = self.choices
        return out


class Plugin:
    """A plugin: what it is (name, version, summary, usage, flags, subcommands) and the function that runs it."""

    def __init__(
        self,
        name: str,
        *,
        version: str = "0.0.0",
        summary: str = "",
        usage: str | None = None,
        description: str | None = None,
        flags: Sequence[Flag] = (),
        subcommands: Mapping[str, str] | None = None,
        auto_help: bool = True,
        host_env_prefix: str = "TOOL_",
    ) -> None:
        self.name = name
        self.version = version
        self.summary = summary
        self.usage = usage
        self.description = description
        self.flags = list(flags)
        self.subcommands = dict(subcommands or {})
        self.auto_help = auto_help
        self.env_prefix = host_env_prefix
        self._run: RunFunction | None = None
        self._complete: Callable[[list[str], str], Any] | None = None

    def run(self, fn: RunFunction) -> RunFunction:
        """Decorator: the function called with (ctx, args) for each run."""
        self._run = fn
        return fn

    def completer(self, fn: Callable[[list[str], str], Any]) -> Callable[[list[str], str], Any]:
        """Decorator: fn(words, current) -> candidates (strings, or (value, description) pairs).

        Called by the host for shell completion: `words` are the arguments
        before the one being typed, `current` is what is typed so far. Return
        None to fall back to the default (flags, their choices, subcommands).
        It must be quick and must not prompt or print.
        """
        self._complete = fn
        return fn

    def describe(self) -> dict[str, Any]:
        """The `description` message: what --help, `tool help` and completion show."""
        msg: dict[str, Any] = {"type": "description", "summary": self.summary}
        if self.usage:
            msg["usage"] = self.usage
        if self.description:
            msg["description"] = self.description
        if self.subcommands:
            msg["subcommands"] = [{"name": k, "summary": v} for k, v in self.subcommands.items()]
        if self.flags:
            msg["flags"] = [f.to_json() for f in self.flags]
        return msg

    def complete(self, words: list[str], current: str) -> list[dict[str, str]]:
        """Candidates for `current`: the author's completer, else flags, flag choices and subcommands."""
        found = self._complete(list(words), current) if self._complete is not None else None
        if found is None:  # no completer, or it left this case to the defaults
            found = []
            previous = words[-1] if words else None
            flag = next((f for f in self.flags if previous in (f.name, f.short)), None)
            if flag is not None and flag.takes_value:
                found = list(flag.choices or [])
            elif current.startswith("-"):
                found = [(f.name, f.summary) for f in self.flags]
            elif not [w for w in words if not w.startswith("-")]:
                found = list(self.subcommands.items())
        out = []
        for item in found:
            value, desc = (item, "") if isinstance(item, str) else (str(item[0]), str(item[1]))
            if value.startswith(current):
                out.append({"value": value, "description": desc} if desc else {"value": value})
        return out

    def help_text(self) -> str:
        from protocol import help

        return help.render(self.describe(), self._command())

    def _command(self) -> str:
        words = os.environ.get(self.env_prefix + "COMMAND")
        return f"{self.env_prefix[:-1].lower()} {words}" if words else self.name

    def main(self, argv: Sequence[str] | None = None) -> NoReturn:
        """Run the plugin: over the protocol when the host listens, as a plain CLI otherwise."""
        offer = os.environ.get(self.env_prefix + "PROTOCOL")
        args = list(sys.argv[1:] if argv is None else argv)
        try:
            if offer is None:
                self._hint_declaration()
                sys.exit(self._main_direct(args))
            sys.exit(self._main_protocol(offer))
        except KeyboardInterrupt:
            sys.exit(130)  # an interrupt that arrived just as the author's function returned

    # -- over the protocol -----------------------------------------------------------
    def _hello(self, version: int | None) -> dict[str, Any]:
        msg: dict[str, Any] = {
            "type": "hello",
            "protocol": version,
            "plugin": {"name": self.name, "version": self.version, "summary": self.summary},
        }
        if version is None or len(versions.SUPPORTED) > 1:
            msg["supported"] = list(versions.SUPPORTED)
        return msg

    def _main_protocol(self, offer: str) -> int:
        # Keep the protocol on private descriptors first thing, then point fd 1
        # at stderr (stray prints cannot corrupt the stream) and fd 0 at
        # /dev/null (the user's stdin comes through read_input).
        out = os.dup(1)
        inp = os.dup(0)
        os.dup2(2, 1)
        devnull = os.open(os.devnull, os.O_RDONLY)
        os.dup2(devnull, 0)
        os.close(devnull)
        version = versions.choose(versions.parse_offer(offer))
        # The offer was for this process: children it starts are not talking to the host.
        os.environ.pop(self.env_prefix + "PROTOCOL", None)
        channel = _Channel(version or 0, inp, out)
        channel.send(self._hello(version))
        if version is None:
            sys.stderr.write(
                f"{self.name}: the host offers protocol {offer}, this plugin speaks "
                f"{versions.format_offer(versions.SUPPORTED)}; upgrade the older of the two\n"
            )
            return EXIT_PROTOCOL
        try:
            first = channel.read_message()
        except ProtocolError as e:
            sys.stderr.write(f"{self.name}: bad first message from the host: {e}\n")
            return EXIT_PROTOCOL
        if first is None:
            return 0  # the host went away before asking anything
        if first.get("type") == "describe":
            channel.send(self.describe())
            return 0
        if first.get("type") == "complete":
            words = [str(w) for w in first.get("words", [])]
            channel.send({"type": "completions", "candidates": self.complete(words, str(first.get("current", "")))})
            return 0
        if first.get("type") != "run":
            channel.send(
                {
                    "type": "error",
                    "code": "unsupported_request",
                    "message": f"{self.name} does not support the {first.get('type')!r} request",
                }
            )
            return EXIT_PROTOCOL
        import threading

        threading.Thread(target=channel.listen, name="tool-protocol-reader", daemon=True).start()
        ctx = Context(channel, first, self.name)
        return self._invoke(ctx, channel)

    def _invoke(self, ctx: Context, channel: _Channel | None) -> int:
        if self._run is None:
            raise RuntimeError("no run function: decorate one with @plugin.run")
        if self.auto_help and _wants_help(ctx.args):
            ctx.output(self.help_text())
            return 0
        try:
            saved = None
            try:
                if channel is not None:
                    saved = channel.arm()
                    if channel.cancel_reason is not None:
                        raise Cancelled(channel.cancel_reason)
                result = self._run(ctx, list(ctx.args))
            except KeyboardInterrupt:
                if channel is not None and channel.cancel_reason is not None:
                    raise Cancelled(channel.cancel_reason) from None
                raise
            finally:
                if channel is not None:
                    channel.disarm(saved)
        except Cancelled as c:
            reason = channel.cancel_reason if channel is not None and channel.cancel_reason else c.reason
            return _CANCEL_STATUS.get(reason, 130)
        except KeyboardInterrupt:
            return 130
        except PluginError as e:
            self._report(ctx, channel, e)
            return e.exit_code
        except BrokenPipeError:
            return 141 if channel is None else _CANCEL_STATUS["terminate"]
        except Exception as e:  # noqa: BLE001 - the plugin's own bug, reported as such
            import traceback

            traceback.print_exc(file=sys.stderr)
            self._report(ctx, channel, PluginError(f"{type(e).__name__}: {e}", code="plugin_exception"))
            return 1
        finally:
            ctx._clear_progress()
        if result is not None:
            if channel is not None:
                try:
                    channel.send({"type": "result", "data": result})
                except (KeyboardInterrupt, OSError):
                    return _CANCEL_STATUS.get(channel.cancel_reason or "", 1)
            else:
                text = result if isinstance(result, str) else json.dumps(result, indent=2, ensure_ascii=False)
                sys.stdout.write(text if text.endswith("\n") else text + "\n")
                sys.stdout.flush()
        return 0

    def _report(self, ctx: Context, channel: _Channel | None, e: PluginError) -> None:
        if channel is not None:
            msg: dict[str, Any] = {"type": "error", "code": e.code, "message": e.message}
            if e.hint:
                msg["hint"] = e.hint
            try:
                channel.send(msg)
            except OSError:
                pass
            return
        sys.stderr.write(f"{self.name}: error: {e.message}\n")
        if e.hint:
            sys.stderr.write(f"{self.name}: hint: {e.hint}\n")

    # -- as an ordinary command ------------------------------------------------------
    def _hint_declaration(self) -> None:
        """Run by the host without an offer: its file does not declare the protocol; say how, once."""
        prefix = self.env_prefix
        command = os.environ.get(prefix + "COMMAND")
        script = sys.argv[0] if sys.argv else ""
        if not command or not script:
            return
        expected = prefix[:-1].lower() + "-" + command.replace(" ", "-")
        if os.path.basename(script).replace("_", "-") != expected.replace("_", "-"):
            return  # run by another program that happens to inherit the variable
        sys.stderr.write(
            f"{self.name}: note: {prefix[:-1].lower()} runs this plugin as a plain command, because its file does "
            f"not declare the protocol; add the line '# speaks {prefix}PROTOCOL' near the top of {script}\n"
        )
        sys.stderr.flush()

    def _main_direct(self, args: list[str]) -> int:
        run = {
            "argv": args,
            "interactive": sys.stdin.isatty(),
            "output": "text",
            "color": sys.stdout.isatty() and not os.environ.get("NO_COLOR"),
            "width": _terminal_width(),
            "verbosity": 0,
        }
        return self._invoke(Context(None, run, self.name), None)


def _wants_help(args: Sequence[str]) -> bool:
    for arg in args:
        if arg == "--":
            return False
        if arg in ("-h", "--help"):
            return True
    return False


def _terminal_width() -> int:
    try:
        return os.get_terminal_size(sys.stdout.fileno()).columns
    except (OSError, ValueError):
        return 80
