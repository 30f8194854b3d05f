"""The entry point: host options, the program's context, and the fast path to a plugin.

`tool foo args` for a plain plugin is the hot path of every command: it imports only the
modules tests/architecture_test.py pins (FAST_PATH), parses options by hand, and execs.
Everything else (builtins, aliases, the supervised run, error reports) is imported when used.
"""
from __future__ import annotations

import os
import sys

from dispatch import commands, dirs, lookup, options, resolve, signals
from dispatch.context import Builtin, Invocation, Program, host_binary

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence
    from typing import NoReturn

    from dispatch.context import Config, Option, Options, SearchDirs, VersionText


VERSION = "0.1.0"  # the library's


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
    PATH; `builtins` (`Builtin`) and `options` (`Option`); `version_text`, what --version
    and `version` print (a string, or a function of the invocation); `no_command`, the exit
    status when no command is given (with the usage on stderr; by default the help is shown
    and the status is 0).
    """

    def __init__(
        self,
        prog: str = "tool",
        *,
        version: str | None = None,
        env_prefix: str | None = None,
        description: str | None = None,
        use_exec: bool | None = None,
        search_dirs: SearchDirs = (),
        dirs_var: str | None = None,
        dirs_on_path: bool = False,
        builtins: Sequence[Builtin] = (),
        options: Sequence[Option] = (),
        version_text: VersionText = None,
        no_command: int | None = None,
    ) -> None:
        if resolve.name_problem(prog) is not None:
            raise ValueError(f"prog must be a valid command name, got {prog!r}")
        windows = os.name == "nt"
        prefix = env_prefix if env_prefix is not None else _env_prefix(prog)
        if version is None and version_text is None and prog != "tool":
            # Not the library's version shown as the program's.
            version_text = f"{prog} (made with the dispatch library {VERSION}, Python {sys.version.split()[0]})"
        self.program = Program(
            prog=prog,
            version=version or VERSION,
            env_prefix=prefix,
            description=description,
            windows=windows,
            use_exec=(not windows) if use_exec is None else use_exec,
            option_table=_option_table(options, prefix),
            search_dirs=search_dirs,
            dirs_var=dirs_var,
            dirs_on_path=dirs_on_path,
            builtins=_builtin_table(builtins),
            options={flag: option for option in options for flag in option.flags},
            version_text=version_text,
            no_command=no_command,
        )

    def main(self, argv: Sequence[str] | None = None, environ: Mapping[str, str] | None = None) -> int:
        """Run the command line `argv` (default: sys.argv[1:]) in `environ` (default: the
        process's) and return its exit status. The working directory is the caller's again
        afterwards (`-C` changes it for the command only).

        A plugin killed by signal N gives 128+N. Programs should rather call
        `run`, which leaves the way the plugin did and as fast as `tool` does.
        """
        here = _cwd()
        try:
            code = invoke(self.program, sys.argv[1:] if argv is None else argv, os.environ if environ is None else environ)
        finally:
            _back_to(here)
        from dispatch.exitcodes import ExitCode

        return ExitCode.SIGNAL_BASE - code if code < 0 else code

    def run(self, argv: Sequence[str] | None = None) -> NoReturn:
        """Run the command line and exit the process with its outcome: the plugin's
        status, or death by the signal that killed it (so that a shell's Ctrl-C in a loop
        works and a crash is reported as one), without the interpreter's teardown."""
        exit_now(invoke(self.program, sys.argv[1:] if argv is None else argv, os.environ), self.program.prog)


def _env_prefix(prog: str) -> str:
    from protocol import names

    return names.env_prefix(prog)


def _option_table(own: Sequence[Option], prefix: str) -> dict[str, Option]:
    if not own:
        return dict(options.LIBRARY_TABLE)
    for option in own:
        if option.env is not None and option.env.startswith(prefix):
            raise ValueError(f"the option's variable {option.env} is one of the dispatcher's own ({prefix}*)")
    return options.table(own)


def _builtin_table(builtins: Sequence[Builtin]) -> dict[str, Builtin]:
    table: dict[str, Builtin] = {}
    for builtin in builtins:
        if builtin.name in table:
            raise ValueError(f"two builtins are named {builtin.name!r}")
        table[builtin.name] = builtin
    return table


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
    merged: Options | None = None
    parsed = options.Parsed()
    try:
        try:
            signals.interrupts_raise()
            options.parse(program.prog, argv, program.option_table, into=parsed)
            merged = options.merge(parsed.given, {}, program.env_prefix)  # until the config is read: for error reports
            inv = _invocation(program, parsed, environ)
            merged = inv.options
            return _dispatch(inv, parsed.rest)
        except Exception as e:
            from dispatch import error_handler

            if merged is None:  # a mistake among the host options: those before it still count (--json)
                merged = options.merge(parsed.given, {}, program.env_prefix)
            return error_handler.handle(program.prog, merged, e)
    except KeyboardInterrupt:
        # Ctrl-C before a plugin ran (or while a builtin worked): no traceback, the
        # --json envelope still ends with its exit line, and the host dies by SIGINT.
        import _signal

        _signal.signal(_signal.SIGINT, _signal.SIG_IGN)  # a second Ctrl-C must not cut this short
        from dispatch import error_handler
        from dispatch.exitcodes import ExitCode

        error_handler.json_failure(merged, ExitCode.INTERRUPTED, "interrupted")
        return -_signal.SIGINT


def _invocation(program: Program, parsed: options.Parsed, env: Mapping[str, str]) -> Invocation:
    chdirs = parsed.given.get("chdir")
    for directory in chdirs if isinstance(chdirs, list) else ():
        _chdir(directory)
    try:
        config = _config(program, env)
    except Exception:
        if parsed.rest[:1] not in (["doctor"], ["version"]) and not parsed.given.get("version"):
            raise
        config = None  # `doctor` is where to see what is wrong with it; the version is known without it
    merged = options.merge(parsed.given, env, program.env_prefix, config.defaults if config is not None else None)
    return Invocation(program, merged, config, host_binary(program.prog, program.windows, env), env, parsed.settings)


def _config(program: Program, env: Mapping[str, str]) -> Config | None:
    """The user's config, or None without one (most people: one stat, no import)."""
    found = dirs.config_file(env, program.prog, program.var("CONFIG"))
    if found is None:
        return None
    from dispatch import config

    return config.load(found[0], env, named_by=found[1])


def _chdir(directory: str) -> None:
    """One -C: relative to the one before, as git's; an empty one changes nothing, as git's."""
    if not directory:
        return
    try:
        os.chdir(directory)
    except OSError as e:
        from dispatch.errors import usage_error

        raise usage_error(f"cannot change to directory {directory!r}: {e.strerror}") from None


def _cwd() -> int | None:
    try:
        return os.open(".", os.O_RDONLY | os.O_CLOEXEC | getattr(os, "O_DIRECTORY", 0))
    except OSError:
        return None  # a directory that is gone, or unreadable: nothing to come back to


def _back_to(fd: int | None) -> None:
    if fd is None:
        return
    try:
        os.fchdir(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _dispatch(inv: Invocation, rest: list[str]) -> int:
    """Builtins first, then plugins (the fast path), then aliases, as git does."""
    opts = inv.options
    if (opts.version or opts.help or not rest or rest[0] == commands.COMPLETE
            or commands.is_builtin(rest[0], inv.program) or (inv.settings and _acts(inv))):
        from dispatch import router

        return router.route(inv, rest)
    search = lookup.Search(inv, rest, trace=True)
    if search.found is None:
        from dispatch import router

        return router.route(inv, rest, search)
    from dispatch import launch

    return launch.run_plugin(inv, search.found, search.words, rest)


def _acts(inv: Invocation) -> bool:
    """One of the program's own options given is a command of its own (`Option(run=...)`)."""
    return any(option.run is not None for option in inv.program.options.values() if option.dest in inv.settings)


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
        from dispatch import signals

        signals.die_by(-code)
    os._exit(code & 0xFF)


def _silence_stdout() -> None:
    from dispatch.error_handler import silence_stdout

    silence_stdout()


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
        setattr(sys, name, open(fd, "r" if fd == 0 else "w", closefd=False))  # noqa: SIM115 - the process's own, for good
