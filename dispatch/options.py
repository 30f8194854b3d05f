"""The host options, given before the command words: one table (`LIBRARY`) that parsing, `help`
and completion all read, in the shape of an embedder's own `Option`. Parsed by hand (argparse
would cost more than the whole dispatch), then merged once with the environment and the config
into one frozen `Options`: the command line beats the environment, which beats the config."""
from __future__ import annotations

from dispatch.context import LIMITS, Option, Options

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence
    from typing import Any, Final

    from dispatch.context import Value

def _usage(message: str) -> Exception:
    from dispatch.errors import usage_error  # only on a mistake: dispatch.errors is off the start-up path

    return usage_error(message)


# The largest values the limits accept: beyond them a number no longer fits what the
# kernel takes (a poll(2) wait, an rlimit), and nobody means them anyway.
MAX_SECONDS: Final = 365 * 24 * 3600.0
MAX_SIZE: Final = 1 << 50
_SIZE_UNITS = {"k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40}
_DECIMAL = frozenset("0123456789.")
_SECOND_UNITS = {"s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}


def parse_size(value: str, option: str) -> int:
    """Bytes, optionally with a binary unit: `1000`, `64K`, `10M`, `1G`, `2T`."""
    number = value.strip()
    scale = 1
    if number[-1:].lower() in _SIZE_UNITS:
        scale = _SIZE_UNITS[number[-1].lower()]
        number = number[:-1]
    elif number[-1:] in ("b", "B"):
        number = number[:-1]
    from protocol.digits import decimal  # here, not on every command's start-up path

    count = decimal(number, 18)
    if not count:
        raise _usage(f"{option} needs a positive size in bytes (e.g. 1000, 64K, 10M, 1G), got {value!r}")
    size = count * scale
    if size > MAX_SIZE:
        raise _usage(f"{option} is at most 1024T ({MAX_SIZE} bytes), got {value!r}")
    return size


def parse_seconds(value: str, option: str = "--timeout") -> float:
    """Seconds, optionally with a unit: `30`, `1.5`, `90s`, `2m`, `1h`, `2d`."""
    scale = 1.0
    number = value.strip()
    if number[-1:] in _SECOND_UNITS:
        scale = _SECOND_UNITS[number[-1]]
        number = number[:-1]
    seconds = -1.0
    if number and set(number) <= _DECIMAL and number.count(".") <= 1 and number != ".":
        seconds = float(number) * scale
    if not seconds > 0:
        raise _usage(f"{option} needs a positive number of seconds (e.g. 30, 1.5, 2m), got {value!r}")
    if seconds > MAX_SECONDS:
        raise _usage(f"{option} is at most 365d ({MAX_SECONDS:.0f} s), got {value!r}")
    return seconds


def _policy(value: str, option: str) -> str:
    """A sandbox policy's name, checked (the sandbox package is loaded only when one is given)."""
    from dispatch.sandbox.policy import parse

    return parse(value, option).name


# The library's host options, in the order `help` shows them.
LIBRARY: Final = (
    Option("-h", "--help", help="show this help"),
    Option("-V", "--version", help="show the version"),
    Option("-v", "--verbose", dest="verbosity", repeat=True, help="say more; -v also traces how the command was found"),
    Option("-q", "--quiet", dest="verbosity", const=-1, help="show only errors"),
    Option("--json", help="machine-readable output on stdout (JSON lines)"),
    Option("--no-input", help="never prompt; plugins asking for input get an error"),
    Option("--timeout", metavar="SECONDS", convert=parse_seconds, help="stop the command after SECONDS (e.g. 30, 1.5, 2m)"),
    Option("--max-output", metavar="SIZE", convert=parse_size, help="stop the command after SIZE bytes of output (e.g. 10M)"),
    Option("--max-cpu", metavar="SECONDS", convert=parse_seconds, help="limit the command's CPU time"),
    Option("--max-memory", metavar="SIZE", convert=parse_size, help="limit the command's memory (e.g. 512M)"),
    Option("-C", metavar="DIR", dest="chdir", repeat=True, help="run as if started in DIR (each -C relative to the one before)"),
    Option("--no-pager", help="never page the host's own long output (help, list)"),
    Option("--sandbox", metavar="POLICY", optional=True, const="read-only", convert=_policy,
           help="confine the plugin: read-only (the default), workdir, either with ,net (docs/sandbox.md)"),
)
LIBRARY_TABLE: Final = {flag: option for option in LIBRARY for flag in option.flags}
# The settings a config file's [defaults] may give: options of the library, by dest.
CONFIG_DEFAULTS: Final = ("timeout", "verbosity", "no_input", "max_output", "max_cpu", "max_memory")


# The library's options a program may give a meaning of its own as well (git passes --no-pager
# on to its commands): the program's replaces the library's, which still acts on it (its dest).
SHARED: Final = frozenset({"--no-pager"})


def table(own: Sequence[Option]) -> dict[str, Option]:
    """Flag -> option: the library's, then a program's `own` (which may not take a flag twice,
    nor one of the library's but those in SHARED)."""
    found = dict(LIBRARY_TABLE)
    taken: set[str] = set()
    for option in own:
        for flag in option.flags:
            if flag in taken or (flag in found and flag not in SHARED):
                raise ValueError(f"the option {flag} is already taken")
            if flag in SHARED and option.dest != LIBRARY_TABLE[flag].dest:
                raise ValueError(f"the option {flag} must keep its dest {LIBRARY_TABLE[flag].dest!r}")
            taken.add(flag)
            found[flag] = option
    return found


def takes_value(table: Mapping[str, Option], flag: str) -> bool:
    """Whether `flag` (spelled alone) takes the next word as its value."""
    option = table.get(flag)
    return option is not None and option.metavar is not None and not option.optional


class Parsed:
    """The host options given (the library's by dest, a program's own in `settings`) and the
    rest of the command line, which starts with the command words."""

    __slots__ = ("given", "settings", "rest")

    def __init__(self) -> None:
        self.given: dict[str, object] = {}
        self.settings: dict[str, Value] = {}
        self.rest: list[str] = []

    def set(self, option: Option, flag: str, value: str | None) -> None:
        into: dict[str, Any] = self.given if LIBRARY_TABLE.get(flag) is option else self.settings
        dest = option.dest
        if value is None:
            if option.repeat:
                old = into.get(dest)
                into[dest] = max(old if isinstance(old, int) else 0, 0) + 1
            else:
                into[dest] = option.const
            return
        converted = option.convert(value, flag) if option.convert is not None else value
        if option.repeat:
            into.setdefault(dest, []).append(converted)
        else:
            into[dest] = converted


def parse(prog: str, argv: Sequence[str], table: Mapping[str, Option] = LIBRARY_TABLE, into: Parsed | None = None) -> Parsed:
    """The host options at the front of `argv` (only those given), and the rest; into `into`
    when given, which keeps those read before a mistake (so `--json --timeout soon` still gets
    the envelope with its error)."""
    parsed = Parsed() if into is None else into
    i, n = 0, len(argv)
    while i < n:
        arg = argv[i]
        if arg == "--":
            i += 1
            break
        if not arg.startswith("-") or arg == "-":
            break
        i += 1
        if arg.startswith("--"):
            i = _long(prog, arg, argv, i, table, parsed)
        else:
            i = _shorts(prog, arg, argv, i, table, parsed)
    parsed.rest = list(argv[i:])
    return parsed


def _needs_value(flag: str, option: Option) -> Exception:
    return _usage(f"option {flag!r} needs a value ({option.metavar})")


def _long(prog: str, arg: str, argv: Sequence[str], i: int, table: Mapping[str, Option], parsed: Parsed) -> int:
    """`--flag` or `--flag=VALUE` or `--flag VALUE`: where the parse goes on."""
    flag, eq, value = arg.partition("=")
    option = table.get(flag)
    if option is None:
        raise _usage(f"unknown option {flag!r}; see '{prog} --help'")
    if option.metavar is None:
        if eq:
            raise _usage(f"option {flag!r} takes no value")
        parsed.set(option, flag, None)
        return i
    if option.optional and not eq:
        parsed.set(option, flag, None)  # alone: its const; the next word is a command word
        return i
    if not eq:
        if i >= len(argv):
            raise _needs_value(flag, option)
        value, i = argv[i], i + 1
    parsed.set(option, flag, value)
    return i


def _shorts(prog: str, arg: str, argv: Sequence[str], i: int, table: Mapping[str, Option], parsed: Parsed) -> int:
    """A cluster of short flags (`-vv`, `-vq`, `-C DIR`, `-CDIR`): where the parse goes on."""
    j = 1
    while j < len(arg):
        flag = "-" + arg[j]
        j += 1
        option = table.get(flag)
        if option is None:
            raise _usage(f"unknown option {flag!r}; see '{prog} --help'")
        if option.metavar is None:
            parsed.set(option, flag, None)
            continue
        if j < len(arg):
            parsed.set(option, flag, arg[j:])
        elif option.optional:
            parsed.set(option, flag, None)
        elif i < len(argv):
            parsed.set(option, flag, argv[i])
            i += 1
        else:
            raise _needs_value(flag, option)
        break
    return i


def _narrowest(sandboxes: tuple[object, object], var: str) -> str:
    """The narrowest of the policies named on the command line and in `var`."""
    from dispatch.sandbox.policy import narrowest, parse

    places = ("--sandbox", var)
    found = narrowest(parse(str(p), where) for p, where in zip(sandboxes, places) if p)
    assert found is not None  # one at least: the caller's test
    return found.name


def merge(
    given: Mapping[str, object], env: Mapping[str, str], env_prefix: str, defaults: Mapping[str, object] | None = None
) -> Options:
    """The command line beats the environment, which beats the config file's defaults; but the
    sandbox policy is the narrowest of the command line's and the environment's (neither widens
    the other; the config's is the plugin's own: dispatch/sandbox/policy.py)."""
    values = dict(defaults or {})
    timeout = env.get(env_prefix + "TIMEOUT")
    if timeout:
        values["timeout"] = parse_seconds(timeout, env_prefix + "TIMEOUT")
    values.update(given)
    config_only = {name for name in LIMITS if name in (defaults or {}) and name not in given and not (name == "timeout" and timeout)}
    values["config_limits"] = frozenset(config_only)
    sandboxes = (given.get("sandbox"), env.get(env_prefix + "SANDBOX"))
    if any(sandboxes):
        values["sandbox"] = _narrowest(sandboxes, env_prefix + "SANDBOX")
    if isinstance(values.get("chdir"), list):
        values["chdir"] = tuple(values["chdir"])  # type: ignore[arg-type]
    return Options(values)
