"""The host options, given before the command words: parsed by hand (argparse would cost more
than the whole dispatch), then merged once with the environment and the config into one frozen
`Options`: the command line beats the environment, which beats the config file."""
from __future__ import annotations

from dispatch.errors import usage_error

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Mapping, Sequence
    from typing import Any, Final

    from dispatch.embed import Option

# The largest values the limits accept: beyond them a number no longer fits what the
# kernel takes (a poll(2) wait, an rlimit), and nobody means them anyway.
MAX_SECONDS: Final = 365 * 24 * 3600.0
MAX_SIZE: Final = 1 << 50
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
        raise usage_error(f"{option} needs a positive size in bytes (e.g. 1000, 64K, 10M, 1G), got {value!r}")
    size = int(number) * scale
    if size > MAX_SIZE:
        raise usage_error(f"{option} is at most 1024T ({MAX_SIZE} bytes), got {value!r}")
    return size


def parse_seconds(value: str, option: str = "--timeout") -> float:
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
        raise usage_error(f"{option} needs a positive number of seconds (e.g. 30, 1.5, 2m), got {value!r}")
    if seconds > MAX_SECONDS:
        raise usage_error(f"{option} is at most 365d ({MAX_SECONDS:.0f} s), got {value!r}")
    return seconds


# Settings a config file's [defaults] may give, and how its values are read.
DEFAULTS: Final = ("timeout", "verbosity", "no_input", "max_output", "max_cpu", "max_memory")
_VALUE_OPTIONS: dict[str, tuple[str, Callable[[str, str], object]]] = {
    "--timeout": ("timeout", parse_seconds),
    "--max-cpu": ("max_cpu", parse_seconds),
    "--max-output": ("max_output", parse_size),
    "--max-memory": ("max_memory", parse_size),
}
_LONG_FLAGS = {"--help": "help", "--version": "version", "--json": "json", "--no-input": "no_input"}
# Value options, for completion (which must skip them and their values without parsing).
TAKES_VALUE: Final = frozenset({*_VALUE_OPTIONS, "-C"})
# Every flag the library takes: a program's own options (dispatch/embed.py) cannot have them.
FLAGS: Final = (*_LONG_FLAGS, *_VALUE_OPTIONS, "--verbose", "--quiet", "-h", "-V", "-v", "-q", "-C")


class Options:
    """The host options of one invocation, merged and frozen."""

    __slots__ = (
        "verbosity", "json", "timeout", "chdir", "no_input", "help", "version",
        "max_output", "max_cpu", "max_memory",
    )
    verbosity: int
    json: bool
    timeout: float | None
    chdir: str | None
    no_input: bool
    help: bool
    version: bool
    max_output: int | None
    max_cpu: float | None
    max_memory: int | None

    def __init__(self, settings: Mapping[str, Any]) -> None:
        set_ = object.__setattr__
        for name, default in (
            ("verbosity", 0), ("json", False), ("timeout", None), ("chdir", None), ("no_input", False),
            ("help", False), ("version", False), ("max_output", None), ("max_cpu", None), ("max_memory", None),
        ):
            set_(self, name, settings.get(name, default))

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError("Options are frozen: merge them once, with Options.merged")

    @property
    def supervised(self) -> bool:
        """The host must stay to watch the plugin (it cannot simply exec it)."""
        return (
            self.timeout is not None or self.max_output is not None
            or self.max_cpu is not None or self.max_memory is not None
        )

    @classmethod
    def merged(
        cls, given: Mapping[str, Any], env: Mapping[str, str], env_prefix: str, defaults: Mapping[str, Any] | None = None
    ) -> Options:
        """The command line beats the environment, which beats the config file's defaults."""
        settings = dict(defaults or {})
        value = env.get(env_prefix + "TIMEOUT")
        if value:
            settings["timeout"] = parse_seconds(value, env_prefix + "TIMEOUT")
        settings.update(given)
        return cls(settings)


def parse(prog: str, argv: Sequence[str], own: Mapping[str, Option] | None = None) -> tuple[dict[str, Any], list[str]]:
    """The host options at the front of `argv` (only those given) and the rest, which starts
    with the command words. The values of the program's `own` options (flag -> Option) are
    in `given["settings"]`, by the option's `dest`."""
    given: dict[str, Any] = {}
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
                given[_LONG_FLAGS[name]] = True
            elif name == "--verbose" and not eq:
                given["verbosity"] = max(given.get("verbosity", 0), 0) + 1
            elif name == "--quiet" and not eq:
                given["verbosity"] = -1
            elif name in _VALUE_OPTIONS:
                attr, read = _VALUE_OPTIONS[name]
                if not eq:
                    if i >= n:
                        raise usage_error(f"option {name!r} needs a value")
                    value = argv[i]
                    i += 1
                given[attr] = read(value, name)
            elif own and name in own:
                option = own[name]
                if option.metavar is None:
                    if eq:
                        raise usage_error(f"option {name!r} takes no value")
                    _own(given, option, True)
                else:
                    if not eq:
                        if i >= n:
                            raise usage_error(f"option {name!r} needs a value ({option.metavar})")
                        value = argv[i]
                        i += 1
                    _own(given, option, value)
            else:
                raise usage_error(f"unknown option {name!r}; see '{prog} --help'")
            continue
        # A cluster of short flags: -vv, -vq, -C DIR, -CDIR.
        j = 1
        while j < len(arg):
            ch = arg[j]
            j += 1
            if ch == "h":
                given["help"] = True
            elif ch == "V":
                given["version"] = True
            elif ch == "v":
                given["verbosity"] = max(given.get("verbosity", 0), 0) + 1
            elif ch == "q":
                given["verbosity"] = -1
            elif ch == "C":
                if j < len(arg):
                    given["chdir"] = arg[j:]
                elif i < n:
                    given["chdir"] = argv[i]
                    i += 1
                else:
                    raise usage_error("option '-C' needs a directory")
                break
            elif own and "-" + ch in own:
                option = own["-" + ch]
                if option.metavar is None:
                    _own(given, option, True)
                    continue
                if j < len(arg):
                    _own(given, option, arg[j:])
                elif i < n:
                    _own(given, option, argv[i])
                    i += 1
                else:
                    raise usage_error(f"option '-{ch}' needs a value ({option.metavar})")
                break
            else:
                raise usage_error(f"unknown option '-{ch}'; see '{prog} --help'")
    return given, list(argv[i:])


def _own(given: dict[str, Any], option: Option, value: bool | str) -> None:
    settings = given.setdefault("settings", {})
    if option.repeat and option.metavar is not None:
        settings.setdefault(option.dest, []).append(value)
    else:
        settings[option.dest] = value
