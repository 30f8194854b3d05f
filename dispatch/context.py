"""What every part of the host is given: the program it is (`Program`), and one run of it
(`Invocation`). Both are frozen: built once at start-up, passed down, never changed."""
from __future__ import annotations

import os
import sys

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping

    from dispatch.config import Config
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
    environment variables (`PROG_PLUGIN_PATH`, ...)."""

    __slots__ = ("prog", "version", "env_prefix", "description", "windows", "use_exec")
    prog: str
    version: str
    env_prefix: str
    description: str | None
    windows: bool
    use_exec: bool

    def __init__(
        self, prog: str, version: str, env_prefix: str, description: str | None, windows: bool, use_exec: bool
    ) -> None:
        self._freeze(
            prog=prog, version=version, env_prefix=env_prefix, description=description, windows=windows, use_exec=use_exec
        )

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
    """One run of the program: its options (merged), its config, where the program lives, and
    the environment it was started with."""

    __slots__ = ("program", "options", "config", "bin", "environ")
    program: Program
    options: Options
    config: Config | None
    bin: str
    environ: Mapping[str, str]

    def __init__(
        self, program: Program, options: Options, config: Config | None, bin: str, environ: Mapping[str, str]
    ) -> None:
        self._freeze(program=program, options=options, config=config, bin=bin, environ=environ)

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
