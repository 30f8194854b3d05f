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

import os
import sys

from protocol import context, names
from protocol.context import Context
from protocol.errors import CANCEL_STATUS, SIGNAL_BASE, Cancelled, InteractionUnavailable, PluginError, ProtocolError
from protocol.width import columns

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Mapping, Sequence
    from typing import Any, NoReturn

    from protocol.channel import Channel

    RunFunction = Callable[[Context, list[str]], Any]

__all__ = ["Cancelled", "Context", "Flag", "InteractionUnavailable", "Plugin", "PluginError"]
EXIT_PROTOCOL = 76  # no version in common, or a first request it does not know (docs/exit-codes.md)
EXIT_BROKEN_PIPE = SIGNAL_BASE + 13  # SIGPIPE: run directly, its reader went away (as `cmd | head` shows it)


def _features() -> tuple[str, ...]:
    from protocol.messages import FEATURES

    return tuple(FEATURES)


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
        metavar: str | None = None,
    ) -> None:
        self.name = name
        self.summary = summary
        self.short = short
        self.takes_value = takes_value or bool(choices) or metavar is not None
        self.choices = list(choices) if choices else None
        self.metavar = metavar  # what help calls its value (`--delay SECONDS`); VALUE when not given

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"name": self.name, "summary": self.summary, "takes_value": self.takes_value}
        if self.short:
            out["short"] = self.short
        if self.choices:
            out["choices"] = self.choices
        if self.metavar:
            out["metavar"] = self.metavar
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
        requires: Sequence[str] = (),
        host: str = "tool",
        host_env_prefix: str | None = None,
    ) -> None:
        self.name = name
        self.version = version
        self.summary = summary
        self.usage = usage
        self.description = description
        self.flags = list(flags)
        self.subcommands = dict(subcommands or {})
        self.auto_help = auto_help
        unknown = sorted(set(requires) - set(_features())) if requires else []
        if unknown:
            raise ValueError(f"unknown protocol features in requires: {', '.join(unknown)}")
        self.requires = list(requires)
        self.host = host  # the dispatcher that runs this plugin: its name and variables
        self.env_prefix = host_env_prefix if host_env_prefix is not None else names.env_prefix(host)
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
            flag = next((f for f in self.flags if previous is not None and previous in (f.name, f.short)), None)
            given, eq, _ = current.partition("=")
            joined = next((f for f in self.flags if f.name == given and f.takes_value), None) if eq else None
            if flag is not None and flag.takes_value:
                found = list(flag.choices or [])
            elif joined is not None:  # `--lang=<TAB>`: the value in the same word
                found = [f"{given}={choice}" for choice in joined.choices or []]
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
        return f"{self.host} {words}" if words else self.name

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
            sys.exit(CANCEL_STATUS["interrupt"])  # an interrupt that arrived just as the author's function returned

    # -- over the protocol -----------------------------------------------------------
    def _hello(self, version: int | None) -> dict[str, Any]:
        from protocol import messages, versions

        supported = list(versions.SUPPORTED) if version is None or len(versions.SUPPORTED) > 1 else None
        plugin = {"name": self.name, "version": self.version, "summary": self.summary}
        if version is None:  # no version in common: features would mean nothing
            return messages.hello(version, supported, plugin)
        return messages.hello(version, supported, plugin, messages.FEATURES, self.requires)

    def _main_protocol(self, offer: str) -> int:
        # The wire's modules only here: a plugin run directly (a person at a terminal) starts
        # without them (docs/performance.md).
        from protocol import messages, versions
        from protocol.channel import Channel

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
        channel = Channel(version or 0, inp, out)
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
            channel.send(messages.error("unsupported_request", f"{self.name} does not support the {first.get('type')!r} request"))
            return EXIT_PROTOCOL
        import _thread  # not `threading` (it imports collections, functools ...): every run's start

        _thread.start_new_thread(channel.listen, ())  # never joined at exit, as a daemon thread
        return self._invoke(Context(first, channel, self._program()), channel)

    def _invoke(self, ctx: Context, channel: Channel | None) -> int:
        if self._run is None:
            raise RuntimeError("no run function: decorate one with @plugin.run")
        backend = context.backend(ctx)
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
            return CANCEL_STATUS.get(reason, CANCEL_STATUS["interrupt"])
        except KeyboardInterrupt:
            return CANCEL_STATUS["interrupt"]
        except PluginError as e:
            backend.report(self.name, e)
            return e.exit_code
        except BrokenPipeError:
            return EXIT_BROKEN_PIPE if channel is None else CANCEL_STATUS["terminate"]
        except Exception as e:
            import traceback

            traceback.print_exc(file=sys.stderr)
            backend.report(self.name, PluginError(f"{type(e).__name__}: {e}", code="plugin_exception"))
            return 1
        finally:
            backend.clear_progress()
        if result is not None:
            try:
                backend.result(result)
            except (KeyboardInterrupt, OSError):
                return CANCEL_STATUS.get(channel.cancel_reason or "", 1) if channel is not None else 1
        return 0

    def _program(self) -> str:
        """The dispatcher, to run other commands with (`ctx.call`)."""
        return os.environ.get(self.env_prefix + "BIN") or self.host

    # -- as an ordinary command ------------------------------------------------------
    def _hint_declaration(self) -> None:
        """Run by the host without an offer: its file does not declare the protocol; say how, once."""
        prefix = self.env_prefix
        command = os.environ.get(prefix + "COMMAND")
        script = sys.argv[0] if sys.argv else ""
        if not command or not script:
            return
        expected = self.host + "-" + command.replace(" ", "-")
        if os.path.basename(script).replace("_", "-") != expected.replace("_", "-"):
            return  # run by another program that happens to inherit the variable
        sys.stderr.write(
            f"{self.name}: note: {self.host} runs this plugin as a plain command, because its file does "
            f"not declare the protocol; add the line '# speaks {prefix}PROTOCOL' near the top of {script}\n"
        )
        sys.stderr.flush()

    def _main_direct(self, args: list[str]) -> int:
        run = {
            "argv": args,
            "interactive": sys.stdin.isatty(),
            "output": "text",
            "color": sys.stdout.isatty() and not os.environ.get("NO_COLOR"),
            "width": columns((1, 2)),
            "verbosity": 0,
        }
        return self._invoke(Context(run, None, self._program()), None)


def _wants_help(args: Sequence[str]) -> bool:
    for arg in args:
        if arg == "--":
            return False
        if arg in ("-h", "--help"):
            return True
    return False

