"""What a program that embeds the dispatcher adds of its own (docs/library.md): builtin
commands (`Builtin`) and host options (`Option`). Both are frozen values given to
`Dispatcher(...)` once; nothing here runs at start-up unless the command line names it."""
from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Mapping, Sequence
    from typing import Any, Union

    from dispatch.context import Invocation

    Value = Union[bool, str, list[str]]


class _Value:
    __slots__ = ()

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError(f"{type(self).__name__} is frozen")

    def _set(self, **fields: object) -> None:
        for name, value in fields.items():
            object.__setattr__(self, name, value)


class Builtin(_Value):
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
        self._set(name=name, summary=summary, run=run, usage=usage or name)


class Option(_Value):
    """A host option of the program's own, given before the command words.

    `flags`: its spellings (`"-c"`, `"--no-pager"`, `"-p", "--paginate"`). With `metavar`
    it takes a value (`-c NAME=VALUE`, `-cNAME=VALUE`, `--opt=VALUE`); with `repeat` it may
    be given again and its values are collected. Builtins read it as `inv.settings[dest]`
    (`dest`: the first long flag without dashes, `-` as `_`; else the short letter): True
    for a flag, the value, or the list of values. `env` names a variable set for plugins
    when the option is given, to `to_env(value)` (default: the value; "1" for a flag;
    repeated values joined by spaces). With `run`, the option is a command of its own, like
    `--version`: `run(inv)` runs instead of any command and returns the exit status.
    """

    __slots__ = ("flags", "help", "metavar", "repeat", "env", "to_env", "run", "dest")
    flags: tuple[str, ...]
    help: str
    metavar: str | None
    repeat: bool
    env: str | None
    to_env: Callable[[Any], str] | None
    run: Callable[[Invocation], int] | None
    dest: str

    def __init__(
        self,
        *flags: str,
        help: str,
        metavar: str | None = None,
        repeat: bool = False,
        env: str | None = None,
        to_env: Callable[[Any], str] | None = None,
        run: Callable[[Invocation], int] | None = None,
    ) -> None:
        if not flags:
            raise ValueError("an option needs at least one flag")
        if env is not None and (not env or "=" in env or "\0" in env):
            raise ValueError(f"an option's env must be a variable name, got {env!r}")
        for flag in flags:
            short = len(flag) == 2 and flag[0] == "-" and flag[1].isalnum()
            long = flag.startswith("--") and len(flag) > 3 and all(c.isalnum() or c == "-" for c in flag[2:])
            if not (short or long):
                raise ValueError(f"an option's flag is -X or --name, got {flag!r}")
        longs = [f for f in flags if f.startswith("--")]
        dest = (longs[0][2:] if longs else flags[0][1:]).replace("-", "_")
        self._set(flags=tuple(flags), help=help, metavar=metavar, repeat=repeat, env=env, to_env=to_env, run=run, dest=dest)

    def exported(self, value: Value) -> str:
        """The value of its variable for plugins."""
        if self.to_env is not None:
            return self.to_env(value)
        if value is True:
            return "1"
        return " ".join(value) if isinstance(value, list) else str(value)


def option_table(options: Sequence[Option], taken: Sequence[str]) -> dict[str, Option]:
    """Flag -> option, refusing a flag the library's options or another option have."""
    table: dict[str, Option] = {}
    for option in options:
        for flag in option.flags:
            if flag in taken or flag in table:
                raise ValueError(f"the option {flag} is already taken")
            table[flag] = option
    return table


def builtin_table(builtins: Sequence[Builtin]) -> dict[str, Builtin]:
    table: dict[str, Builtin] = {}
    for builtin in builtins:
        if builtin.name in table:
            raise ValueError(f"two builtins are named {builtin.name!r}")
        table[builtin.name] = builtin
    return table


def exports(options: Mapping[str, Option], settings: Mapping[str, Value]) -> dict[str, str]:
    """The variables plugins get from the options that were given."""
    out: dict[str, str] = {}
    for option in dict.fromkeys(options.values()):
        if option.env is not None and option.dest in settings:
            out[option.env] = option.exported(settings[option.dest])
    return out
