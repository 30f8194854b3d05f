"""What every part of the host is given: the program it is (`Program`), and one run of it
(`Invocation`). Both are frozen: built once at start-up, passed down, never changed."""
from __future__ import annotations

import os
import sys

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping

    from collections.abc import Callable, Sequence

    from dispatch.config import Config
    from dispatch.embed import Builtin, Option, Value
    from dispatch.options import Options


class _Frozen:
    __slots__ = ()

    def _freeze(self, **fields: object) -> None:
        for name, value in fields.items():
            object.__setattr__(self, name, value)

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError(f"{type(self).__name__} is frozen")


class Program(_Frozen):
    """A dispatcher program: `prog` names it and its plugins (`prog-NAME`), `env_prefix` its
    environment variables (`PROG_PLUGIN_PATH`, ...); what an embedding program adds of its own
    (dispatch/embed.py, docs/library.md) is here too, empty for `tool`."""

    __slots__ = (
        "prog", "version", "env_prefix", "description", "windows", "use_exec",
        "search_dirs", "dirs_var", "dirs_on_path", "builtins", "options", "version_text", "no_command",
    )
    prog: str
    version: str
    env_prefix: str
    description: str | None
    windows: bool
    use_exec: bool
    # Directories searched before the plugin path (or a function of the environment giving
    # them), the variable they are exported to plugins in, and whether PATH gets them first.
    search_dirs: Sequence[str] | Callable[[Mapping[str, str]], Sequence[str]]
    dirs_var: str | None
    dirs_on_path: bool
    builtins: Mapping[str, Builtin]  # name -> the program's own builtin
    options: Mapping[str, Option]  # flag -> the program's own host option
    version_text: str | Callable[[Invocation], str] | None  # what --version prints (None: "prog version")
    no_command: int | None  # the status for no command at all, with the usage on stderr (None: help, 0)

    def __init__(
        self, prog: str, version: str, env_prefix: str, description: str | None, windows: bool, use_exec: bool,
        *,
        search_dirs: Sequence[str] | Callable[[Mapping[str, str]], Sequence[str]] = (),
        dirs_var: str | None = None,
        dirs_on_path: bool = False,
        builtins: Mapping[str, Builtin] | None = None,
        options: Mapping[str, Option] | None = None,
        version_text: str | Callable[[Invocation], str] | None = None,
        no_command: int | None = None,
    ) -> None:
        self._freeze(
            prog=prog, version=version, env_prefix=env_prefix, description=description, windows=windows, use_exec=use_exec,
            search_dirs=search_dirs if callable(search_dirs) else tuple(search_dirs), dirs_var=dirs_var,
            dirs_on_path=dirs_on_path, builtins=dict(builtins or {}), options=dict(options or {}),
            version_text=version_text, no_command=no_command,
        )

    def dirs(self, env: Mapping[str, str]) -> tuple[str, ...]:
        """The program's own plugin directories in this environment, as given (the search skips
        relative ones, and says so with -v and in doctor)."""
        found = self.search_dirs(env) if callable(self.search_dirs) else self.search_dirs
        return tuple(d for d in found if d)

    def installed_bin(self, env: Mapping[str, str]) -> str | None:
        """Where `plugin install` puts its links: the `bin` of the data directory
        (`$XDG_DATA_HOME/<prog>`, else `~/.local/share/<prog>`; none without an absolute base)."""
        root = data_dir(env, self.prog)
        return None if root is None else os.path.join(root, "bin")

    def var(self, name: str) -> str:
        """The name of one of the program's environment variables: `var("PROTOCOL")` is `TOOL_PROTOCOL`."""
        return self.env_prefix + name

    def config_path(self, env: Mapping[str, str]) -> tuple[str, bool]:
        """The config file's path, and whether the user named it (PROG_CONFIG)."""
        named = env.get(self.var("CONFIG"))
        if named:
            return named, True
        base = env.get("XDG_CONFIG_HOME")
        if not base or not os.path.isabs(base):
            home = env.get("HOME")
            # A relative HOME would read a config from wherever the user stands (a repository could ship one).
            base = os.path.join(home if home and os.path.isabs(home) else "/", ".config")
        return os.path.join(base, self.prog, "config.toml"), False

    def load_config(self, env: Mapping[str, str]) -> Config | None:
        """The user's config, or None without one (most people: one stat, no import)."""
        path, named = self.config_path(env)
        if not named and not os.path.exists(path):
            return None
        from dispatch import config

        return config.load(path, env, named_by=self.var("CONFIG") if named else None)


class Invocation(_Frozen):
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
        if settings:
            from dispatch import embed

            exports.update(embed.exports(program.options, settings))
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

    def error(self, message: str) -> None:
        """One `prog:` line on stderr (escaped: paths and names may come from disk)."""
        say(self.program.prog, message)

    def trace(self, message: str) -> None:
        """A line for -v: how the command was found and run."""
        if self.options.verbosity > 0:
            say(self.program.prog, message)


def say(prog: str, message: str) -> None:
    if not message.isprintable():
        from dispatch.text import visible

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


def data_dir(env: Mapping[str, str], prog: str) -> str | None:
    """`$XDG_DATA_HOME/<prog>`, else `~/.local/share/<prog>`; None without an absolute base
    (a relative one would make plugins depend on where the user stands)."""
    base = env.get("XDG_DATA_HOME")
    if not base or not os.path.isabs(base):
        home = env.get("HOME")
        if not home or not os.path.isabs(home):
            return None
        base = os.path.join(home, ".local", "share")
    return os.path.join(base, prog)
