"""The host program: host options, routing to builtins or plugins, and the
one place where failures become exit codes.

`tool foo args` for a plugin is the hot path: it imports only this module,
`resolve` and `launch`, parses options by hand, and execs. Everything else
(builtins, error reporting, the enum of exit codes) is imported when used.
"""
from __future__ import annotations

import os
import sys

from dispatch import resolve

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    from typing import NoReturn

    from dispatch.errors import ToolError

from dispatch import __version__

# name -> one-line summary; the implementation is dispatch/builtins/<name>.py.
BUILTINS = {
    "help": "show help for tool or for a command",
    "list": "list the plugins with their kind, version and summary",
    "version": "show the version",
    "completion": "print a shell completion script (bash, zsh, fish)",
    "doctor": "check the setup: search path, plugins, cache, config",
    "plugin": "plugin author tools: 'plugin check NAME' tests a plugin against the protocol",
}


class Options:
    """The host options, given before the command words."""

    __slots__ = (
        "verbosity", "json", "timeout", "chdir", "no_input", "help", "version",
        "max_output", "max_cpu", "max_memory", "given",
    )

    def __init__(self) -> None:
        self.verbosity = 0
        self.json = False
        self.timeout: float | None = None
        self.max_output: int | None = None
        self.max_cpu: float | None = None
        self.max_memory: int | None = None
        self.given: set[str] = set()  # attributes set on the command line (config defaults do not override)
        self.chdir: str | None = None
        self.no_input = False
        self.help = False
        self.version = False


def _usage_error(message: str) -> ToolError:
    from dispatch.errors import ToolError
    from dispatch.exitcodes import ExitCode

    return ToolError(ExitCode.USAGE, message)


# The largest values the limits accept: beyond them a number no longer fits what the
# kernel takes (a poll(2) wait, an rlimit), and nobody means them anyway.
MAX_SECONDS = 365 * 24 * 3600.0
MAX_SIZE = 1 << 50
_SIZE_UNITS = {"k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40}
_DECIMAL = frozenset("0123456789.")


def parse_size(value: str, option: str) -> int:
    """Bytes, optionally with a binary unit: `1000`, `64K`, `10M`, `1G`, `2T`."""
    number = value.strip()
    scale = 1
    if number[-1:].lower() in _SIZE_UNITS:
        scale = _SIZE_UNITS[number[-1].lower()]
        number = number[:-1]
    elif number[-1:] in ("b", "B"):
        number = number[:-1]
    # isascii: str.isdigit and int() also take other scripts' digits ("١٠").
    if not (number.isascii() and number.isdigit()) or int(number) <= 0:
        raise _usage_error(f"{option} needs a positive size in bytes (e.g. 1000, 64K, 10M, 1G), got {value!r}")
    size = int(number) * scale
    if size > MAX_SIZE:
        raise _usage_error(f"{option} is at most 1024T ({MAX_SIZE} bytes), got {value!r}")
    return size


def parse_timeout(value: str, option: str = "--timeout") -> float:
    """Seconds, optionally with a unit: `30`, `1.5`, `90s`, `2m`, `1h`, `2d`."""
    scale = 1.0
    number = value.strip()
    if number[-1:] in ("s", "m", "h", "d"):
        scale = {"s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}[number[-1]]
        number = number[:-1]
    seconds = -1.0
    if number and set(number) <= _DECIMAL and number.count(".") <= 1 and number != ".":
        seconds = float(number) * scale
    if not seconds > 0:
        raise _usage_error(
            f"{option} needs a positive number of seconds (e.g. 30, 1.5, 2m), got {value!r}"
        )
    if seconds > MAX_SECONDS:
        raise _usage_error(f"{option} is at most 365d ({MAX_SECONDS:.0f} s), got {value!r}")
    return seconds


# Options that take a value: name -> (attribute, parser).
_VALUE_OPTIONS = {
    "--timeout": ("timeout", parse_timeout),
    "--max-cpu": ("max_cpu", parse_timeout),
    "--max-output": ("max_output", parse_size),
    "--max-memory": ("max_memory", parse_size),
}


_LONG_FLAGS = {
    "--help": "help",
    "--version": "version",
    "--json": "json",
    "--no-input": "no_input",
}


def parse_options(prog: str, argv: Sequence[str]) -> tuple[Options, list[str]]:
    """Split host options off the front of argv; the rest starts with the command."""
    opts = Options()
    i = 0
    n = len(argv)
    while i < n:
        arg = argv[i]
        if arg == "--":
            i += 1
            break
        if not arg.startswith("-") or arg == "-":
            break
        i += 1
        if arg.startswith("--"):
            name, eq, value = arg.partition("=")
            if name in _LONG_FLAGS and not eq:
                setattr(opts, _LONG_FLAGS[name], True)
                opts.given.add(_LONG_FLAGS[name])
            elif name == "--verbose" and not eq:
                opts.verbosity = max(opts.verbosity, 0) + 1
                opts.given.add("verbosity")
            elif name == "--quiet" and not eq:
                opts.verbosity = -1
                opts.given.add("verbosity")
            elif name in _VALUE_OPTIONS:
                attr, parse = _VALUE_OPTIONS[name]
                if not eq:
                    if i >= n:
                        raise _usage_error(f"option {name!r} needs a value")
                    value = argv[i]
                    i += 1
                setattr(opts, attr, parse(value, name))
                opts.given.add(attr)
            else:
                raise _usage_error(f"unknown option {name!r}; see '{prog} --help'")
            continue
        # A cluster of short flags: -vv, -vq, -C DIR, -CDIR.
        j = 1
        while j < len(arg):
            ch = arg[j]
            j += 1
            if ch == "h":
                opts.help = True
            elif ch == "V":
                opts.version = True
            elif ch == "v":
                opts.verbosity = max(opts.verbosity, 0) + 1
                opts.given.add("verbosity")
            elif ch == "q":
                opts.verbosity = -1
                opts.given.add("verbosity")
            elif ch == "C":
                if j < len(arg):
                    opts.chdir = arg[j:]
                elif i < n:
                    opts.chdir = argv[i]
                    i += 1
                else:
                    raise _usage_error("option '-C' needs a directory")
                break
            else:
                raise _usage_error(f"unknown option '-{ch}'; see '{prog} --help'")
    return opts, list(argv[i:])


def _env_prefix(prog: str) -> str:
    return "".join(c if c.isalnum() else "_" for c in prog).upper() + "_"


class Dispatcher:
    """A git-style dispatcher: `<prog> foo args` runs `<prog>-foo args` from the plugin path.

    `prog` names the program and the plugin prefix; environment variables
    use `env_prefix` (by default PROG_ upper-cased: `mycli` -> `MYCLI_`).
    On POSIX the plugin replaces the host process (exec) unless
    `use_exec=False`, in which case `main` waits and returns its status.
    """

    def __init__(
        self,
        prog: str = "tool",
        *,
        version: str | None = None,
        env_prefix: str | None = None,
        description: str | None = None,
        use_exec: bool | None = None,
    ) -> None:
        if resolve.name_problem(prog) is not None:
            raise ValueError(f"prog must be a valid command name, got {prog!r}")
        self.prog = prog
        self.version = version or __version__
        self.env_prefix = env_prefix if env_prefix is not None else _env_prefix(prog)
        self.description = description
        self.windows = os.name == "nt"
        self.use_exec = (not self.windows) if use_exec is None else use_exec
        self.verbosity = 0

    # -- the one place where failures become exit codes -------------------
    def main(self, argv: Sequence[str] | None = None) -> int:
        """Run the command line `argv` (default: sys.argv[1:]) and return its exit status.

        A plugin killed by signal N gives 128+N. Programs should rather call
        `run`, which leaves the way the plugin did and as fast as `tool` does.
        """
        code = self._invoke(argv)
        return 128 - code if code < 0 else code

    def run(self, argv: Sequence[str] | None = None) -> NoReturn:
        """Run the command line and exit the process with its outcome: the plugin's
        status, or death by the signal that killed it (so that a shell's Ctrl-C in a loop
        works and a crash is reported as one), without the interpreter's teardown."""
        exit_now(self._invoke(argv), self.prog)

    def _invoke(self, argv: Sequence[str] | None) -> int:
        """The outcome: an exit status, or -N to die by signal N."""
        if argv is None:
            argv = sys.argv[1:]
        if sys.stdin is None or sys.stdout is None or sys.stderr is None:
            _sanitize_std_fds()
        try:
            try:
                _interrupts_raise()
                return self._main(argv)
            except Exception as e:  # noqa: BLE001 - this is the error handler
                return self._handle(e)
        except KeyboardInterrupt:
            # Ctrl-C before a plugin ran (or while a builtin worked): no traceback, the
            # --json envelope still ends with its exit line, and the host dies by SIGINT.
            import _signal

            _signal.signal(_signal.SIGINT, _signal.SIG_IGN)  # a second Ctrl-C must not cut this short
            from dispatch import error_handler

            error_handler.json_failure(self, 130, "interrupted")
            return -2

    def _handle(self, e: BaseException) -> int:
        from dispatch import error_handler

        return error_handler.handle(self, e)

    def _json_failure(self, code: int, message: str) -> None:
        from dispatch import error_handler

        error_handler.json_failure(self, code, message)

    def error(self, message: str) -> None:
        if not message.isprintable():
            # Paths and names from disk may hold control characters: never raw to a terminal.
            from dispatch.render import visible

            message = visible(message)
        try:
            sys.stderr.write(f"{self.prog}: {message}\n")
            sys.stderr.flush()
        except (OSError, ValueError):
            pass

    def trace(self, message: str) -> None:
        if self.verbosity > 0:
            self.error(message)

    # -- routing -------------------------------------------------------------
    def _main(self, argv: Sequence[str]) -> int:
        self.bin = self._host_binary()
        opts, rest = parse_options(self.prog, argv)
        self.verbosity = opts.verbosity
        self.options = opts
        if opts.chdir is not None:
            try:
                os.chdir(opts.chdir)
            except OSError as e:
                raise _usage_error(f"cannot change to directory {opts.chdir!r}: {e.strerror}") from None
        env = os.environ
        if "timeout" not in opts.given and env.get(self.env_prefix + "TIMEOUT"):
            # The environment beats the config file, the command line beats both.
            opts.timeout = parse_timeout(env[self.env_prefix + "TIMEOUT"], self.env_prefix + "TIMEOUT")
            opts.given.add("timeout")
        self.config = self._load_config(env)
        if opts.version:
            return self.builtin("version", [])
        if opts.help:
            return self.builtin("help", rest)
        if not rest:
            if opts.json:
                # Scripts asked for JSON lines: human help would break their parser.
                raise _usage_error(f"--json needs a command, as in '{self.prog} --json list'; see '{self.prog} --help'")
            return self.builtin("help", [])
        return self.route(rest, os.environ)

    def route(self, rest: list[str], env: Mapping[str, str]) -> int:
        """Builtins first, then plugins, then aliases (as git does)."""
        if rest[0] in BUILTINS:
            return self.builtin(rest[0], rest[1:])
        if rest[0] == "__complete":
            from dispatch import complete

            return complete.run(self, rest[1:])
        if self.config is not None and rest[0] in self.config.aliases and self.find(rest, env) is None:
            from dispatch import config

            expanded = config.expand_alias(self.config, rest, BUILTINS)
            if expanded is not None:
                self.trace(f"alias {rest[0]!r} is {' '.join(expanded[: len(expanded) - len(rest) + 1])!r}")
                return self.route(expanded, env)
        return self.run_plugin(rest, env)

    def config_file(self, env: Mapping[str, str]) -> tuple[str, bool]:
        """The config file's path, and whether the user named it (TOOL_CONFIG)."""
        explicit = env.get(self.env_prefix + "CONFIG")
        if explicit:
            return explicit, True
        base = env.get("XDG_CONFIG_HOME")
        if not base or not os.path.isabs(base):
            home = env.get("HOME")
            # A relative HOME would read a config from wherever the user stands (a repository could ship one).
            base = os.path.join(home if home and os.path.isabs(home) else "/", ".config")
        return os.path.join(base, self.prog, "config.toml"), False

    def load_config(self, env: Mapping[str, str]) -> object:
        path, explicit = self.config_file(env)
        if not explicit and not os.path.exists(path):
            return None  # most people have no config file: one stat, no import
        from dispatch import config

        return config.load(path, env, named_by=self.env_prefix + "CONFIG" if explicit else None)

    def _load_config(self, env: Mapping[str, str]) -> object:
        cfg = self.load_config(env)
        if cfg is not None:
            opts = self.options
            for key, value in cfg.defaults.items():
                if key not in opts.given:
                    setattr(opts, key, value)
            self.verbosity = opts.verbosity
        return cfg

    def find(self, rest: Sequence[str], env: Mapping[str, str]) -> resolve.Found | None:
        """The plugin that would run for `rest`, without tracing or errors."""
        return self._search(rest, env, trace=False)[0]

    def _search(
        self, rest: Sequence[str], env: Mapping[str, str], *, trace: bool
    ) -> tuple[resolve.Found | None, list[str], list[str], resolve.SearchPath, list[tuple[int, list[str]]]]:
        """(the plugin found or None, the command words, the valid ones, the search path, the candidates)."""
        words = list(rest[: resolve.command_words(rest)])
        valid = resolve.lookup_words(words, self.prog)
        sp = self.search_path(env, trace=trace)
        table = resolve.candidates(self.prog, valid, windows=self.windows, pathext=self.pathext(env))
        if trace and self.verbosity > 0 and table:
            self.trace("looking for " + ", ".join(n for _, names in table for n in names))
        return resolve.find(sp.dirs, table, self.windows), words, valid, sp, table

    def builtin(self, name: str, args: list[str]) -> int:
        import importlib

        module = importlib.import_module(f"dispatch.builtins.{name}")
        result: int = module.run(self, args)
        return result

    def plugin_path_var(self) -> str:
        return self.env_prefix + "PLUGIN_PATH"

    def search_path(self, env: Mapping[str, str], *, trace: bool = True) -> resolve.SearchPath:
        cfg = getattr(self, "config", None)
        extra = cfg.plugin_dirs if cfg is not None else ()
        sp = resolve.search_path(env, self.plugin_path_var(), extra=extra)
        if trace and self.verbosity > 0:
            self.trace("search path: " + (os.pathsep.join(sp.dirs) or "(empty)"))
            for var, entry, reason in sp.skipped:
                self.trace(f"skipped {var} entry {entry!r}: {reason}")
            for d in sp.dirs:
                if not os.path.isdir(d):
                    self.trace(f"skipped {d}: not a directory")
        return sp

    def pathext(self, env: Mapping[str, str]) -> list[str]:
        return resolve.pathext_list(env) if self.windows else []

    def lookup(self, rest: Sequence[str], env: Mapping[str, str]) -> tuple[resolve.Found, list[str]]:
        """The plugin for the command words at the front of `rest`; raises 126/127 when none runs."""
        found, words, valid, sp, table = self._search(rest, env, trace=True)
        if found is None:
            from dispatch import error_handler

            raise error_handler.not_found(self, rest[0] if rest else "", words, valid, sp, table, env)
        return found, words

    def run_plugin(self, rest: Sequence[str], env: Mapping[str, str]) -> int:
        """Run the plugin for `rest`: its status, or -N when the host must die by signal N."""
        found, words = self.lookup(rest, env)
        args = list(rest[found.nwords :])
        prefix = self.env_prefix
        from dispatch import declaration, launch

        extra = {prefix + "BIN": self.bin, prefix + "COMMAND": " ".join(words[: found.nwords])}
        # TOOL_PROTOCOL is set only where this host listens for a hello: never passed on.
        child_env = launch.plugin_environ(env, extra, prefix + "PROTOCOL")
        if self.windows:
            # No protocol session on Windows yet: every plugin runs as a plain one.
            from dispatch import spawn

            return spawn.spawn_plugin(found.path, args, child_env)  # type: ignore[no-any-return]
        needle = (prefix + "PROTOCOL").encode()
        declared = declaration.declares(found.path, found.stat, needle, env, self.prog)
        opts = self.options
        supervised = (
            opts.timeout is not None
            or opts.max_output is not None
            or opts.max_cpu is not None
            or opts.max_memory is not None
        )
        self.trace(
            f"running {found.path} ({'declares the protocol' if declared else 'plain'})"
            + (f" with {len(args)} argument(s)" if args else "")
        )
        if not declared and not opts.json and not supervised and self.use_exec:
            # Plain: it replaces the host on the user's terminal, as under git, every run.
            launch.exec_plugin(found.path, args, child_env)
        from dispatch import spawn

        if declared:
            from protocol import versions

            child_env[prefix + "PROTOCOL"] = versions.format_offer(versions.SUPPORTED)
            mode = "protocol"
        else:
            mode = "relay" if opts.json or opts.max_output is not None else "direct"
        window = self._handshake_window(env)
        # Start the plugin first: its start-up overlaps the import of the session machinery.
        child = spawn.spawn(found.path, args, child_env, stdin_pipe=declared, stdout_pipe=mode != "direct")
        try:
            if opts.max_cpu is not None or opts.max_memory is not None:
                try:
                    spawn.limit(child.pid, cpu=opts.max_cpu, memory=opts.max_memory)
                except OSError as e:
                    from dispatch.explain import cannot_execute

                    raise cannot_execute(
                        found.path,
                        f"its limits (--max-cpu, --max-memory) cannot be applied: {e.strerror} "
                        f"(a set-user-ID program cannot be limited); run it without them",
                    ) from None
            from dispatch.session import Session

            session = Session(self, child, argv=args, env=child_env, mode=mode, window=window, stat=found.stat)
        except BaseException:
            spawn.abandon(child)  # never leave it running unsupervised
            raise
        return session.run()

    def _handshake_window(self, env: Mapping[str, str]) -> float:
        var = self.env_prefix + "HANDSHAKE_TIMEOUT"
        value = env.get(var)
        if not value:
            return 2.0
        try:
            seconds = float(value)
        except ValueError:
            seconds = -1.0
        if not (0 < seconds < 3600):
            raise _usage_error(f"{var} must be a number of seconds between 0 and 3600, got {value!r}")
        return seconds

    def _host_binary(self) -> str:
        """The absolute path of this program, for plugins that call back ($TOOL_BIN)."""
        argv0 = sys.argv[0] if sys.argv else ""
        if argv0 and os.path.isfile(argv0) and os.access(argv0, os.X_OK):
            return os.path.abspath(argv0)
        # `python -m dispatch`: argv[0] is a .py file; the installed script is the best callback.
        for d in os.environ.get("PATH", "").split(os.pathsep):
            if d and os.path.isabs(d):
                candidate = os.path.join(d, self.prog)
                if resolve.is_executable(candidate, self.windows):
                    return candidate
        return os.path.abspath(argv0) if argv0 else sys.executable


def _isatty(fd: int) -> bool:
    from dispatch.terminal import isatty

    return isatty(fd)


def _interrupts_raise() -> None:
    """From here on Ctrl-C raises KeyboardInterrupt, which the entry point reports; one that
    came during start-up (dispatch/__init__.py noted it) is raised now."""
    import _signal

    import dispatch

    if _signal.getsignal(_signal.SIGINT) is dispatch._note_interrupt:
        _signal.signal(_signal.SIGINT, _signal.default_int_handler)
    if dispatch.interrupted:
        dispatch.interrupted = False
        raise KeyboardInterrupt


def _silence_stdout() -> None:
    from dispatch.error_handler import silence_stdout

    silence_stdout()


def main(argv: Sequence[str] | None = None) -> int:
    """The `tool` console script."""
    dispatcher = Dispatcher("tool")
    if argv is None:
        dispatcher.run()
    return dispatcher.main(argv)


# Signals whose default action dumps core: the host dies by them without a core of its own.
_CORE_SIGNALS = ("SIGQUIT", "SIGILL", "SIGTRAP", "SIGABRT", "SIGBUS", "SIGFPE", "SIGSEGV", "SIGSYS", "SIGXCPU", "SIGXFSZ")


def exit_now(code: int, prog: str = "tool") -> NoReturn:
    """Leave without the interpreter's teardown (nothing is left to clean up, and a
    dispatcher's own exit is on the critical path of every command it runs): exit with
    `code`, or die by signal -`code` when it is negative."""
    try:
        sys.stdout.flush()
    except BrokenPipeError:
        _silence_stdout()
    except (OSError, ValueError) as e:
        # The last of a builtin's output could not be written (a full disk).
        _silence_stdout()
        sys.stderr.write(f"{prog}: cannot write the output: {getattr(e, 'strerror', None) or e}\n")
        code = code or 1
    try:
        sys.stderr.flush()
    except (OSError, ValueError):
        pass
    if code < 0:
        _die_by(-code)
    os._exit(code & 0xFF)


def _die_by(signum: int) -> NoReturn:
    """Die by `signum`, as the plugin did: the caller sees the same wait status as if it had been exec'd."""
    import _signal

    if any(getattr(_signal, name, None) == signum for name in _CORE_SIGNALS):
        try:
            import resource

            resource.setrlimit(resource.RLIMIT_CORE, (0, resource.getrlimit(resource.RLIMIT_CORE)[1]))
        except (ImportError, OSError, ValueError):
            pass
    try:
        _signal.signal(signum, _signal.SIG_DFL)
        _signal.pthread_sigmask(_signal.SIG_UNBLOCK, {signum})
    except (OSError, ValueError):
        pass  # SIGKILL cannot be caught or blocked: it needs neither
    os.kill(os.getpid(), signum)
    os._exit(128 + signum)  # a signal whose default is not to kill


def _sanitize_std_fds() -> None:
    """Open /dev/null on a closed fd 0, 1 or 2, as git does: otherwise the host's own pipes
    would get those numbers and a plugin would write its output into them."""
    for fd, name, mode in ((0, "stdin", os.O_RDONLY), (1, "stdout", os.O_WRONLY), (2, "stderr", os.O_WRONLY)):
        try:
            os.fstat(fd)
            continue
        except OSError:
            pass
        try:
            got = os.open(os.devnull, mode)
        except OSError:
            continue
        if got != fd:
            os.dup2(got, fd)
            os.close(got)
        setattr(sys, name, open(fd, "r" if fd == 0 else "w", closefd=False))
