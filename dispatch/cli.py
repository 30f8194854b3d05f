"""The entry point: host options, the program's context, and the fast path to a plugin.

`tool foo args` for a plain plugin is the hot path of every command: it
imports only this module, `options`, `context`, `lookup`, `resolve`,
`declaration` and `launch` (tests/architecture_test.py pins the list), parses
options by hand, and execs. Everything else (builtins, aliases, the
supervised run, error reports) is imported when used.
"""
from __future__ import annotations

import os
import sys

from dispatch import __version__, lookup, resolve
from dispatch.context import Invocation, Program, host_binary
from dispatch.options import Options, parse

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Mapping, Sequence
    from typing import NoReturn

    from dispatch.embed import Builtin, Option


def _env_prefix(prog: str) -> str:
    from protocol import names

    return names.env_prefix(prog)


class Dispatcher:
    """A git-style dispatcher: `<prog> foo args` runs `<prog>-foo args` from the plugin path.

    `prog` names the program and the plugin prefix; its environment variables start with
    `env_prefix` (by default `TOOL_` for `tool`, `PROG_DISPATCH_` for any other program,
    so that `git` or `docker` never read a variable of the real program: protocol/names.py).
    On POSIX a plain plugin replaces the host process (exec) unless `use_exec=False`, in
    which case `main` waits and returns its status.

    What a program adds of its own (docs/library.md): `search_dirs`, directories searched
    before the plugin path (or a function of the environment giving them), exported to
    plugins in the variable `dirs_var` and, with `dirs_on_path`, at the front of their
    PATH; `builtins` (dispatch.embed.Builtin) and `options` (dispatch.embed.Option);
    `version_text`, what --version and `version` print (a string, or a function of the
    invocation); `no_command`, the exit status when no command is given (with the usage on
    stderr; by default the help is shown and the status is 0).
    """

    def __init__(
        self,
        prog: str = "tool",
        *,
        version: str | None = None,
        env_prefix: str | None = None,
        description: str | None = None,
        use_exec: bool | None = None,
        search_dirs: Sequence[str] | Callable[[Mapping[str, str]], Sequence[str]] = (),
        dirs_var: str | None = None,
        dirs_on_path: bool = False,
        builtins: Sequence[Builtin] = (),
        options: Sequence[Option] = (),
        version_text: str | Callable[[Invocation], str] | None = None,
        no_command: int | None = None,
    ) -> None:
        if resolve.name_problem(prog) is not None:
            raise ValueError(f"prog must be a valid command name, got {prog!r}")
        windows = os.name == "nt"
        own_builtins: dict[str, Builtin] = {}
        own_options: dict[str, Option] = {}
        if builtins or options:
            from dispatch import embed
            from dispatch.options import FLAGS

            own_builtins = embed.builtin_table(builtins)
            own_options = embed.option_table(options, FLAGS)
            prefix = env_prefix if env_prefix is not None else _env_prefix(prog)
            for option in own_options.values():
                if option.env is not None and option.env.startswith(prefix):
                    raise ValueError(f"the option's variable {option.env} is one of the dispatcher's own ({prefix}*)")
        if version is None and version_text is None and prog != "tool":
            # Not the library's version shown as the program's.
            version_text = f"{prog} (made with the dispatch library {__version__}, Python {sys.version.split()[0]})"
        self.program = Program(
            prog=prog,
            version=version or __version__,
            env_prefix=env_prefix if env_prefix is not None else _env_prefix(prog),
            description=description,
            windows=windows,
            use_exec=(not windows) if use_exec is None else use_exec,
            search_dirs=search_dirs,
            dirs_var=dirs_var,
            dirs_on_path=dirs_on_path,
            builtins=own_builtins,
            options=own_options,
            version_text=version_text,
            no_command=no_command,
        )

    def main(self, argv: Sequence[str] | None = None, environ: Mapping[str, str] | None = None) -> int:
        """Run the command line `argv` (default: sys.argv[1:]) in `environ` (default: the
        process's) and return its exit status.

        A plugin killed by signal N gives 128+N. Programs should rather call
        `run`, which leaves the way the plugin did and as fast as `tool` does.
        """
        code = invoke(self.program, sys.argv[1:] if argv is None else argv, os.environ if environ is None else environ)
        return 128 - code if code < 0 else code

    def run(self, argv: Sequence[str] | None = None) -> NoReturn:
        """Run the command line and exit the process with its outcome: the plugin's
        status, or death by the signal that killed it (so that a shell's Ctrl-C in a loop
        works and a crash is reported as one), without the interpreter's teardown."""
        exit_now(invoke(self.program, sys.argv[1:] if argv is None else argv, os.environ), self.program.prog)


def main(argv: Sequence[str] | None = None) -> int:
    """The `tool` console script."""
    dispatcher = Dispatcher("tool", env_prefix="TOOL_")  # names.env_prefix("tool"), without its import
    if argv is None:
        dispatcher.run()
    return dispatcher.main(argv)


def invoke(program: Program, argv: Sequence[str], environ: Mapping[str, str]) -> int:
    """The outcome of one command line: an exit status, or -N to die by signal N. The one
    place where failures become exit codes (dispatch/error_handler.py)."""
    if sys.stdin is None or sys.stdout is None or sys.stderr is None:
        _sanitize_std_fds()
    options: Options | None = None
    try:
        try:
            _interrupts_raise()
            given, rest = parse(program.prog, argv, program.options)
            options = Options(given)  # until the config is read: for error reports
            inv = _invocation(program, given, environ, doctor=rest[:1] == ["doctor"])
            options = inv.options
            return _dispatch(inv, rest)
        except Exception as e:  # noqa: BLE001 - this is the error handler
            from dispatch import error_handler

            return error_handler.handle(program.prog, options, e)
    except KeyboardInterrupt:
        # Ctrl-C before a plugin ran (or while a builtin worked): no traceback, the
        # --json envelope still ends with its exit line, and the host dies by SIGINT.
        import _signal

        _signal.signal(_signal.SIGINT, _signal.SIG_IGN)  # a second Ctrl-C must not cut this short
        from dispatch import error_handler

        error_handler.json_failure(options, 130, "interrupted")
        return -2


def _invocation(program: Program, given: Mapping[str, object], env: Mapping[str, str], *, doctor: bool = False) -> Invocation:
    chdir = given.get("chdir")
    if isinstance(chdir, str):
        try:
            os.chdir(chdir)
        except OSError as e:
            from dispatch.errors import usage_error

            raise usage_error(f"cannot change to directory {chdir!r}: {e.strerror}") from None
    try:
        config = program.load_config(env)
    except Exception:
        if not doctor:
            raise
        config = None  # `doctor` is where to see what is wrong with it
    options = Options.merged(given, env, program.env_prefix, config.defaults if config is not None else None)
    settings = given.get("settings")
    return Invocation(program, options, config, host_binary(program.prog, program.windows, env), env, settings)  # type: ignore[arg-type]


def _dispatch(inv: Invocation, rest: list[str]) -> int:
    """Builtins first, then plugins (the fast path), then aliases, as git does."""
    options = inv.options
    if options.version or options.help or not rest or rest[0] == "__complete" or _is_builtin(rest[0], inv.program) or (inv.settings and _acts(inv)):
        from dispatch import router

        return router.route(inv, rest)
    search = lookup.Search(inv, rest, trace=True)
    if search.found is None:
        from dispatch import router

        return router.route(inv, rest, search)
    from dispatch import launch

    return launch.run_plugin(inv, search.found, search.words, rest)


def _is_builtin(word: str, program: Program) -> bool:
    from dispatch.builtins import BUILTINS

    return word in BUILTINS or word in program.builtins


def _acts(inv: Invocation) -> bool:
    """One of the program's own options given is a command of its own (`Option(run=...)`)."""
    return any(option.run is not None for option in inv.program.options.values() if option.dest in inv.settings)


def _interrupts_raise() -> None:
    """From here on Ctrl-C raises KeyboardInterrupt, which the entry point reports; one that
    came during start-up (dispatch/__init__.py noted it) is raised now."""
    import _signal

    import dispatch

    if _signal.getsignal(_signal.SIGINT) is dispatch.note_interrupt:
        _signal.signal(_signal.SIGINT, _signal.default_int_handler)
    if dispatch.interrupted:
        dispatch.interrupted = False
        raise KeyboardInterrupt


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


def _silence_stdout() -> None:
    from dispatch.error_handler import silence_stdout

    silence_stdout()


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
