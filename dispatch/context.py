"""What every part of the host is given, as frozen values built once at start-up and passed
down, never changed: the program (`Program`), what an embedding program adds of its own
(`Builtin`, `Option`), the merged host options (`Options`) and one run (`Invocation`).

On the start-up path of every command: it imports nothing beyond `os` and `sys`.
"""
from __future__ import annotations

import os
import sys

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Mapping, Sequence
    from typing import Any

    Value = bool | int | str | list[str]
    VersionText = str | Callable[["Invocation"], str] | None
    SearchDirs = Sequence[str] | Callable[[Mapping[str, str]], Sequence[str]]


class Frozen:
    """A value whose fields are set once, in `__init__`, through `_freeze`."""

    __slots__ = ()

    def _freeze(self, **fields: object) -> None:
        for name, value in fields.items():
            object.__setattr__(self, name, value)

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError(f"{type(self).__name__} is frozen")


_ALNUM = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789")


class Option(Frozen):
    """A host option, given before the command words: the library's own (dispatch/options.py)
    and a program's (docs/library.md) have this one shape.

    `flags`: its spellings (`"-c"`, `"--no-pager"`, `"-p", "--paginate"`). With `metavar` it
    takes a value (`-c NAME=VALUE`, `-cNAME=VALUE`, `--opt=VALUE`), turned into what the
    program reads by `convert(value, flag)` when given; with `repeat` it may be given again
    and its values are collected (a flag with `repeat` counts, as `-vv` does). A flag sets
    `const` (True unless said). `dest`: the name its value is kept under (default: the first
    long flag without dashes, `-` as `_`; else the short letter); a program's builtins read
    it as `inv.settings[dest]`. `env` names a variable set for plugins when the option is
    given, to `to_env(value)` (default: the value; "1" for a flag; repeated values joined by
    spaces). With `run`, the option is a command of its own, like `--version`: `run(inv)`
    runs instead of any command and returns the exit status. With `optional` (and a
    `metavar`) its value may be left out: `--opt` alone sets `const`, `--opt=VALUE` (or
    `-oVALUE`) sets VALUE (converted), and the next word is never taken as its value (it is
    a command word: `--sandbox workdir` runs the command `workdir`).
    """

    __slots__ = ("flags", "help", "metavar", "repeat", "env", "to_env", "run", "dest", "convert", "const", "optional")
    flags: tuple[str, ...]
    help: str
    metavar: str | None
    repeat: bool
    env: str | None
    to_env: Callable[[Any], str] | None
    run: Callable[[Invocation], int] | None
    dest: str
    convert: Callable[[str, str], object] | None
    const: object
    optional: bool

    def __init__(
        self,
        *flags: str,
        help: str,
        metavar: str | None = None,
        repeat: bool = False,
        env: str | None = None,
        to_env: Callable[[Any], str] | None = None,
        run: Callable[[Invocation], int] | None = None,
        dest: str | None = None,
        convert: Callable[[str, str], object] | None = None,
        const: object = True,
        optional: bool = False,
    ) -> None:
        if not flags:
            raise ValueError("an option needs at least one flag")
        if optional and (metavar is None or repeat):
            raise ValueError("an option whose value is optional needs a metavar, and cannot repeat")
        if env is not None and (not env or "=" in env or "\0" in env):
            raise ValueError(f"an option's env must be a variable name, got {env!r}")
        for flag in flags:
            short = len(flag) == 2 and flag[0] == "-" and flag[1] in _ALNUM
            long = len(flag) > 3 and flag.startswith("--") and all(c in _ALNUM or c == "-" for c in flag[2:])
            if not (short or long):
                raise ValueError(f"an option's flag is -X or --name, got {flag!r}")
        if dest is None:
            longs = [f for f in flags if f.startswith("--")]
            dest = (longs[0][2:] if longs else flags[0][1:]).replace("-", "_")
        self._freeze(flags=tuple(flags), help=help, metavar=metavar, repeat=repeat, env=env, to_env=to_env, run=run,
                     dest=dest, convert=convert, const=const, optional=optional)

    def exported(self, value: Value) -> str:
        """The value of its variable for plugins."""
        if self.to_env is not None:
            return self.to_env(value)
        if value is True:
            return "1"
        return " ".join(value) if isinstance(value, list) else str(value)


class Builtin(Frozen):
    """A command of the program's own: `run(inv, args)` returns the exit status. It wins over
    plugins (and over a builtin of the library with the same name) and is listed by help and
    completion."""

    __slots__ = ("name", "summary", "run", "usage")
    name: str
    summary: str
    run: Callable[[Invocation, list[str]], int]
    usage: str

    def __init__(self, name: str, summary: str, run: Callable[[Invocation, list[str]], int], *, usage: str = "") -> None:
        from dispatch import resolve

        if resolve.name_problem(name) is not None or name.startswith("_"):
            raise ValueError(f"a builtin's name must be a valid command name, got {name!r}")
        self._freeze(name=name, summary=summary, run=run, usage=usage or name)


LIMITS = ("timeout", "max_output", "max_cpu", "max_memory")  # what the host must stay to enforce
_OPTION_DEFAULTS: dict[str, object] = {
    "verbosity": 0, "json": False, "timeout": None, "chdir": (), "no_input": False,
    "help": False, "version": False, "max_output": None, "max_cpu": None, "max_memory": None, "no_pager": False,
    "config_limits": frozenset(), "sandbox": None,
}


class Options(Frozen):
    """The library's host options of one invocation, merged (command line > environment >
    config) by dispatch/options.py. `sandbox` is the name of the run's sandbox policy, the
    narrowest of --sandbox and PROG_SANDBOX (None: neither); a plugin's own adds to it
    (dispatch/sandbox/policy.py)."""

    __slots__ = (
        "verbosity", "json", "timeout", "chdir", "no_input", "help", "version",
        "max_output", "max_cpu", "max_memory", "no_pager", "config_limits", "sandbox",
    )
    verbosity: int
    json: bool
    timeout: float | None
    chdir: tuple[str, ...]
    no_input: bool
    help: bool
    version: bool
    max_output: int | None
    max_cpu: float | None
    max_memory: int | None
    no_pager: bool
    config_limits: frozenset[str]  # the limits set by the config file alone (not given, nor in the environment)
    sandbox: str | None

    def __init__(self, values: Mapping[str, object]) -> None:
        self._freeze(**{name: values.get(name, default) for name, default in _OPTION_DEFAULTS.items()})

    @property
    def limits(self) -> frozenset[str]:
        """The limits set for this run (timeout, max_output, max_cpu, max_memory)."""
        return frozenset(name for name in LIMITS if getattr(self, name) is not None)

    @property
    def supervised(self) -> bool:
        """The host must stay to watch the plugin (it cannot simply exec it)."""
        return bool(self.limits)


class Program(Frozen):
    """A dispatcher program: `prog` names it and its plugins (`prog-NAME`), `env_prefix` its
    environment variables (`PROG_PLUGIN_PATH`, ...); what an embedding program adds of its own
    (docs/library.md) is here too, empty for `tool`. `option_table` is every host option by
    flag, the library's and the program's."""

    __slots__ = (
        "prog", "version", "env_prefix", "description", "windows", "use_exec",
        "search_dirs", "dirs_var", "dirs_on_path", "builtins", "options", "option_table", "version_text", "no_command",
    )
    prog: str
    version: str
    env_prefix: str
    description: str | None
    windows: bool
    use_exec: bool
    # Directories searched before the plugin path (or a function of the environment giving
    # them), the variable they are exported to plugins in, and whether PATH gets them first.
    search_dirs: SearchDirs
    dirs_var: str | None
    dirs_on_path: bool
    builtins: Mapping[str, Builtin]  # name -> the program's own builtin
    options: Mapping[str, Option]  # flag -> the program's own host option
    option_table: Mapping[str, Option]  # flag -> every host option
    version_text: VersionText  # what --version prints (None: "prog version")
    no_command: int | None  # the status for no command at all, with the usage on stderr (None: help, 0)

    def __init__(
        self, prog: str, version: str, env_prefix: str, description: str | None, windows: bool, use_exec: bool,
        *,
        option_table: Mapping[str, Option],
        search_dirs: SearchDirs = (),
        dirs_var: str | None = None,
        dirs_on_path: bool = False,
        builtins: Mapping[str, Builtin] | None = None,
        options: Mapping[str, Option] | None = None,
        version_text: VersionText = None,
        no_command: int | None = None,
    ) -> None:
        self._freeze(
            prog=prog, version=version, env_prefix=env_prefix, description=description, windows=windows, use_exec=use_exec,
            search_dirs=search_dirs if callable(search_dirs) else tuple(search_dirs), dirs_var=dirs_var,
            dirs_on_path=dirs_on_path, builtins=dict(builtins or {}), options=dict(options or {}),
            option_table=dict(option_table), version_text=version_text, no_command=no_command,
        )

    def dirs(self, env: Mapping[str, str]) -> tuple[str, ...]:
        """The program's own plugin directories in this environment, as given (the search skips
        relative ones, and says so with -v and in doctor)."""
        found = self.search_dirs(env) if callable(self.search_dirs) else self.search_dirs
        return tuple(d for d in found if d)

    def var(self, name: str) -> str:
        """The name of one of the program's environment variables: `var("PROTOCOL")` is `TOOL_PROTOCOL`."""
        return self.env_prefix + name


class Grant(Frozen):
    """What the config's [sandbox] table gives sandboxed plugins (every one, or one by name): a
    policy (None: none of its own) and extra paths they may read, and write."""

    __slots__ = ("policy", "read", "write")
    policy: str | None
    read: tuple[str, ...]
    write: tuple[str, ...]

    def __init__(self, policy: str | None, read: Sequence[str] = (), write: Sequence[str] = ()) -> None:
        self._freeze(policy=policy, read=tuple(read), write=tuple(write))


class Config(Frozen):
    """What the user's config file says (dispatch/config.py reads and checks it): its aliases,
    the defaults of host options, extra plugin directories, and what its [sandbox] table grants
    (`sandbox`: "" for every plugin, else by plugin name)."""

    __slots__ = ("path", "aliases", "defaults", "plugin_dirs", "sandbox")
    path: str
    aliases: Mapping[str, list[str]]
    defaults: Mapping[str, object]
    plugin_dirs: tuple[str, ...]
    sandbox: Mapping[str, Grant]

    def __init__(
        self, path: str, aliases: Mapping[str, list[str]], defaults: Mapping[str, object], plugin_dirs: Sequence[str],
        sandbox: Mapping[str, Grant] | None = None,
    ) -> None:
        self._freeze(path=path, aliases=dict(aliases), defaults=dict(defaults), plugin_dirs=tuple(plugin_dirs),
                     sandbox=dict(sandbox or {}))


class Invocation(Frozen):
    """One run of the program: its options (merged), its config, where the program lives, the
    environment it was started with, the values of the program's own options (`settings`),
    its own plugin directories (`dirs`), and what plugins get besides the environment
    (`exports`)."""

    __slots__ = ("program", "options", "config", "bin", "environ", "settings", "dirs", "exports")
    program: Program
    options: Options
    config: Config | None
    bin: str
    environ: Mapping[str, str]
    settings: Mapping[str, Value]
    dirs: tuple[str, ...]
    exports: Mapping[str, str]

    def __init__(
        self, program: Program, options: Options, config: Config | None, bin: str, environ: Mapping[str, str],
        settings: Mapping[str, Value] | None = None,
    ) -> None:
        settings = dict(settings or {})
        dirs = program.dirs(environ) if program.search_dirs else ()
        exports: dict[str, str] = {}
        searched = [os.path.normpath(d) for d in dirs if os.path.isabs(d)]
        if searched and program.dirs_var:
            exports[program.dirs_var] = os.pathsep.join(searched)
        if searched and program.dirs_on_path:
            path = environ.get("PATH")
            exports["PATH"] = os.pathsep.join([*searched, path] if path else searched)
        for option in dict.fromkeys(program.options.values()):
            if option.env is not None and option.dest in settings:
                exports[option.env] = option.exported(settings[option.dest])
        self._freeze(
            program=program, options=options, config=config, bin=bin, environ=environ, settings=settings, dirs=dirs,
            exports=exports,
        )

    def plugin_env(self, command: str) -> dict[str, str]:
        """The environment a plugin found by the words `command` runs in: the user's, with
        PROG_BIN, PROG_COMMAND and the program's exports, never PROG_PROTOCOL (set only where
        the host listens for a hello)."""
        program = self.program
        extra = {program.var("BIN"): self.bin, program.var("COMMAND"): command, **self.exports}
        return plugin_environ(self.environ, extra, program.var("PROTOCOL"))

    @property
    def prog(self) -> str:
        return self.program.prog

    @property
    def may_sandbox(self) -> bool:
        """A sandbox policy of the run or the config may apply to a plugin of this run
        (dispatch/sandbox/ says which); a plugin's own, from its install, is `installed_policy`."""
        return self.options.sandbox is not None or (self.config is not None and bool(self.config.sandbox))

    def installed_policy(self, path: str) -> str | None:
        """The sandbox policy the plugin at `path` was installed with (None: none, or not installed)."""
        from dispatch.dirs import installed_policy

        return installed_policy(self.environ, self.program.prog, path)

    def may_confine(self, path: str) -> bool:
        """Whether any sandbox policy may apply to the plugin at `path` (without importing dispatch/sandbox/)."""
        return self.may_sandbox or self.installed_policy(path) is not None

    def error(self, message: str) -> None:
        """One `prog:` line on stderr (escaped: paths and names may come from disk)."""
        say(self.program.prog, message)

    def trace(self, message: str) -> None:
        """A line for -v: how the command was found and run."""
        if self.options.verbosity > 0:
            say(self.program.prog, message)


def say(prog: str, message: str) -> None:
    """One `prog: message` line on stderr, escaped."""
    if not message.isprintable():
        from dispatch.screen.text import visible

        message = visible(message)
    try:
        sys.stderr.write(f"{prog}: {message}\n")
        sys.stderr.flush()
    except (OSError, ValueError):
        pass  # nobody reads our stderr: nothing better to do


def host_binary(prog: str, windows: bool, environ: Mapping[str, str]) -> str:
    """The absolute path of this program, for plugins that call back ($TOOL_BIN)."""
    from dispatch import resolve

    argv0 = sys.argv[0] if sys.argv else ""
    if argv0 and os.path.isfile(argv0) and os.access(argv0, os.X_OK):
        return os.path.abspath(argv0)
    # `python -m dispatch`: argv[0] is a .py file; the installed script is the best callback.
    for d in environ.get("PATH", "").split(os.pathsep):
        if d and os.path.isabs(d):
            candidate = os.path.join(d, prog)
            if resolve.is_executable(candidate, windows):
                return candidate
    return os.path.abspath(argv0) if argv0 else sys.executable


# What Python's locale coercion (PEP 538) puts in LC_CTYPE when it starts under the C locale.
_COERCION_TARGETS = ("C.UTF-8", "C.utf8", "UTF-8")


def plugin_environ(env: Mapping[str, str], extra: Mapping[str, str], drop: str) -> dict[str, str]:
    """The environment a plugin gets: the user's, plus `extra`, without `drop`.

    The user's means as the user started the host: under the C locale, the
    host's interpreter adds `LC_CTYPE=C.UTF-8` to its own environment at
    start-up, which must not reach the plugin (it would change what `wc -m`
    or `sort` do). Only `os.environ` is corrected; a mapping an embedder
    passes is taken as given.
    """
    child = dict(env)
    ctype = child.get("LC_CTYPE")
    if ctype in _COERCION_TARGETS and not child.get("LC_ALL") and env is os.environ:
        original = _startup_ctype(ctype)
        if original is None:
            del child["LC_CTYPE"]
        else:
            child["LC_CTYPE"] = original
    child.pop(drop, None)
    child.update(extra)
    return child


def _startup_ctype(ctype: str) -> str | None:
    """LC_CTYPE as the process was started with it (None: unset), given that it is now `ctype`."""
    try:
        # Linux: the environment exactly as execve(2) gave it to the process.
        fd = os.open("/proc/self/environ", os.O_RDONLY | os.O_CLOEXEC)
    except OSError:
        # Elsewhere: Python coerces only when the locale it found was C or POSIX.
        return None if os.environ.get("LANG", "") in ("", "C", "POSIX") else ctype
    chunks = []
    try:
        size = 0
        while size < 1 << 24:
            chunk = os.read(fd, 1 << 16)
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
    except OSError:
        return ctype
    finally:
        os.close(fd)
    for entry in b"".join(chunks).split(b"\0"):
        if entry.startswith(b"LC_CTYPE="):
            return os.fsdecode(entry[9:])
    return None
