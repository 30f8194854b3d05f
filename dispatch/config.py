"""The user's config file: aliases, default host options, extra plugin directories.

`$TOOL_CONFIG`, else `$XDG_CONFIG_HOME/tool/config.toml`, else
`~/.config/tool/config.toml`. Without the file this costs one stat(2);
with it, tomllib is imported and the file checked strictly, so that a typo
is an error naming the file, the line and the key, not a silent no-op.

    [alias]
    co = "checkout --quiet"          # a string, split like a shell would
    prod = ["deploy", "--env", "prod"]

    [defaults]
    timeout = "30s"                  # any value --timeout takes
    verbosity = 1                    # -1 (quiet) to 2
    no_input = false
    max_output = "10M"

    [plugins]
    dirs = ["~/tools/bin"]           # searched after TOOL_PLUGIN_PATH, before PATH
"""
from __future__ import annotations

import os

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping
    from typing import Any

    from dispatch.errors import ToolError


class Config:
    __slots__ = ("path", "aliases", "defaults", "plugin_dirs")

    def __init__(self, path: str) -> None:
        self.path = path
        self.aliases: dict[str, list[str]] = {}
        self.defaults: dict[str, Any] = {}
        self.plugin_dirs: list[str] = []


MAX_SIZE = 1 << 20


def load(path: str, env: Mapping[str, str], *, named_by: str | None = None) -> Config | None:
    """The config in `path`, or None when there is no such file (an error when the user
    named it, in the variable `named_by`); raises ToolError (2) when it is wrong.

    Only a regular file of at most 1 MiB is read, opened without blocking: a FIFO or a
    device named as the config (`TOOL_CONFIG=/dev/zero`) is an error, never a hang.
    """
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except FileNotFoundError:
        if named_by:
            raise _error(path, None, f"no such file (from {named_by})") from None
        return None
    except OSError as e:
        raise _error(path, None, f"cannot read it: {e.strerror}") from None
    try:
        st = os.fstat(fd)
        if (st.st_mode & 0o170000) != 0o100000:
            raise _error(path, None, "not a regular file")
        if st.st_size > MAX_SIZE:
            raise _error(path, None, f"larger than {MAX_SIZE // 1024} KiB; a config file is a few lines")
        raw = os.read(fd, MAX_SIZE + 1)
    except OSError as e:
        raise _error(path, None, f"cannot read it: {e.strerror}") from None
    finally:
        os.close(fd)
    if len(raw) > MAX_SIZE:
        raise _error(path, None, f"larger than {MAX_SIZE // 1024} KiB; a config file is a few lines")
    import tomllib

    text = raw.decode("utf-8", "replace")
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise _error(path, None, f"not valid TOML: {e}") from None
    return _check(path, text, data, env)




def _check(path: str, text: str, data: dict[str, Any], env: Mapping[str, str]) -> Config:
    from dispatch.options import DEFAULTS, parse_seconds, parse_size

    cfg = Config(path)
    lines = _key_lines(text)
    for section, value in data.items():
        if section not in ("alias", "defaults", "plugins"):
            raise _error(path, lines.get((None, section)), f"unknown section [{section}]; known: [alias], [defaults], [plugins]")
        if not isinstance(value, dict):
            raise _error(path, lines.get((None, section)), f"{section} must be a table ([{section}])")
    for name, value in data.get("alias", {}).items():
        where = lines.get(("alias", name))
        if isinstance(value, str):
            import shlex

            try:
                words = shlex.split(value)
            except ValueError as e:
                raise _error(path, where, f"alias.{name}: {e}") from None
        elif isinstance(value, list) and all(isinstance(v, str) for v in value):
            words = list(value)
        else:
            raise _error(path, where, f"alias.{name} must be a string or a list of strings")
        if not words:
            raise _error(path, where, f"alias.{name} is empty")
        cfg.aliases[name] = words
    for key, value in data.get("defaults", {}).items():
        where = lines.get(("defaults", key))
        if key not in DEFAULTS:
            raise _error(path, where, f"unknown key defaults.{key}; known: {', '.join(sorted(DEFAULTS))}")
        try:
            if key in ("timeout", "max_cpu"):
                if isinstance(value, bool) or not isinstance(value, (int, float, str)):
                    raise ValueError
                cfg.defaults[key] = parse_seconds(str(value), f"defaults.{key}")
            elif key in ("max_output", "max_memory"):
                if isinstance(value, bool) or not isinstance(value, (int, str)):
                    raise ValueError
                cfg.defaults[key] = parse_size(str(value), f"defaults.{key}")
            elif key == "verbosity":
                if isinstance(value, bool) or not isinstance(value, int) or not -1 <= value <= 3:
                    raise ValueError
                cfg.defaults[key] = value
            elif key == "no_input":
                if not isinstance(value, bool):
                    raise ValueError
                cfg.defaults[key] = value
        except ValueError:
            raise _error(path, where, f"defaults.{key} has a wrong value: {value!r}") from None
        except Exception as e:  # a ToolError from the parsers, reworded with the place
            raise _error(path, where, getattr(e, "message", str(e))) from None
    plugins = data.get("plugins", {})
    for key, value in plugins.items():
        where = lines.get(("plugins", key))
        if key != "dirs":
            raise _error(path, where, f"unknown key plugins.{key}; known: dirs")
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise _error(path, where, "plugins.dirs must be a list of directory names")
        home = env.get("HOME", "")
        if not os.path.isabs(home):
            home = ""  # a relative HOME would make "~/x" depend on where the user stands
        cfg.plugin_dirs = [os.path.join(home, v[2:]) if v.startswith("~/") and home else v for v in value]
    return cfg


def expand_alias(cfg: Config | None, rest: list[str], builtins: Mapping[str, str]) -> list[str] | None:
    """`rest` with its first word replaced by its alias (recursively), or None when it is none."""
    if cfg is None or not rest or rest[0] not in cfg.aliases or rest[0] in builtins:
        return None
    seen = [rest[0]]
    seen_set = {rest[0]}
    head = cfg.aliases[rest[0]]
    tail = list(rest[1:])
    while head and head[0] in cfg.aliases and head[0] not in builtins:
        if head[0] in seen_set:
            loop = " -> ".join([*seen, head[0]])
            raise _error(cfg.path, None, f"alias loop: {loop}")
        seen.append(head[0])
        seen_set.add(head[0])
        head = cfg.aliases[head[0]] + head[1:]
    return head + tail


def alias_loops(cfg: Config, builtins: Mapping[str, str]) -> list[list[str]]:
    """Every alias loop, each as the chain of names around it; linear in the number of aliases."""
    state: dict[str, int] = {}  # 1: on the current chain, 2: done
    loops = []
    for start in cfg.aliases:
        chain = []
        name = start
        while name in cfg.aliases and name not in builtins and state.get(name) is None:
            state[name] = 1
            chain.append(name)
            name = cfg.aliases[name][0]
        if state.get(name) == 1:
            loops.append([*chain[chain.index(name) :], name])
        for visited in chain:
            state[visited] = 2
    return loops


def _key_lines(text: str) -> dict[tuple[str | None, str], int]:
    """Where each key is set, by (section, key), and each section header, by (None, name):
    one pass over the text, for error messages (a first-seen line wins)."""
    found: dict[tuple[str | None, str], int] = {}
    current: str | None = None
    for number, line in enumerate(text.splitlines(), 1):
        stripped = line.strip()
        if stripped.startswith("[") and not stripped.startswith("[["):
            current = stripped.strip("[]").strip()
            found.setdefault((None, current), number)
            continue
        if current is not None and "=" in stripped:
            name = stripped.split("=", 1)[0].strip().strip('"').strip("'")
            found.setdefault((current, name), number)
    return found


def _error(path: str, line: int | None, message: str) -> ToolError:
    from dispatch.errors import usage_error

    where = f"{path}, line {line}" if line else path
    return usage_error(f"bad config {where}: {message}")
