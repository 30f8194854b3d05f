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

    [sandbox]                        # docs/sandbox.md
    default = "read-only"            # every plugin runs confined
    read = ["~/data"]                # and may read these too
    write = ["~/out"]                # and write these
    [sandbox.plugins]
    fmt = "workdir"                  # a plugin's own policy (the narrowest applies)
    deploy = { policy = "read-only,net", read = ["~/.kube/config"] }
"""
from __future__ import annotations

import os

from dispatch import dirs
from dispatch.context import Config, Grant
from dispatch.errors import ToolError, usage_error

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping
    from typing import Any


MAX_SIZE = 1 << 20


def of(env: Mapping[str, str], prog: str, named_by: str) -> Config | None:
    """The user's config for the program `prog` (whose variable `named_by` may name it), or
    None without one."""
    found = dirs.config_file(env, prog, named_by)
    return None if found is None else load(found[0], env, named_by=found[1])


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
    from dispatch import tomlread  # the depth checked first: tomllib recurses once per level

    text = raw.decode("utf-8", "replace")
    try:
        data = tomlread.loads(text)
    except tomlread.TomlError as e:
        raise _error(path, None, f"not valid TOML: {e}") from None
    return _check(path, text, data, env)


def _check(path: str, text: str, data: dict[str, Any], env: Mapping[str, str]) -> Config:
    lines = _key_lines(text)
    for section, value in data.items():
        if section not in ("alias", "defaults", "plugins", "sandbox"):
            raise _error(path, lines.get((None, section)),
                         f"unknown section [{section}]; known: [alias], [defaults], [plugins], [sandbox]")
        if not isinstance(value, dict):
            raise _error(path, lines.get((None, section)), f"{section} must be a table ([{section}])")
    aliases = {name: _alias(path, lines.get(("alias", name)), name, value) for name, value in data.get("alias", {}).items()}
    defaults = {key: _default(path, lines.get(("defaults", key)), key, value) for key, value in data.get("defaults", {}).items()}
    plugin_dirs: list[str] = []
    for key, value in data.get("plugins", {}).items():
        where = lines.get(("plugins", key))
        if key != "dirs":
            raise _error(path, where, f"unknown key plugins.{key}; known: dirs")
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise _error(path, where, "plugins.dirs must be a list of directory names")
        home = env.get("HOME", "")
        if not os.path.isabs(home):
            home = ""  # a relative HOME would make "~/x" depend on where the user stands
        plugin_dirs = [os.path.join(home, v[2:]) if v.startswith("~/") and home else v for v in value]
    return Config(path, aliases, defaults, plugin_dirs, _sandbox(path, lines, data.get("sandbox", {}), env))


def _alias(path: str, where: int | None, name: str, value: object) -> list[str]:
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
    return words


def _default(path: str, where: int | None, key: str, value: object) -> object:
    """A [defaults] value, read as the host option of that name reads its value."""
    from dispatch.options import CONFIG_DEFAULTS, LIBRARY

    if key not in CONFIG_DEFAULTS:
        raise _error(path, where, f"unknown key defaults.{key}; known: {', '.join(sorted(CONFIG_DEFAULTS))}")
    option = next(o for o in LIBRARY if o.dest == key)
    if option.convert is not None and isinstance(value, (int, float, str)) and not isinstance(value, bool):
        try:
            return option.convert(str(value), f"defaults.{key}")
        except ToolError as e:  # reworded with the place
            raise _error(path, where, e.message) from None
    if option.convert is None and option.repeat and type(value) is int and -1 <= value <= 3:
        return value  # a verbosity: -1 (quiet) to 3
    if option.convert is None and not option.repeat and isinstance(value, bool):
        return value
    raise _error(path, where, f"defaults.{key} has a wrong value: {value!r}")


def _sandbox(path: str, lines: Mapping[tuple[str | None, str], int], table: dict[str, Any], env: Mapping[str, str]) -> dict[str, Grant]:
    """The [sandbox] table: "" -> its default and extra paths, and each [sandbox.plugins] entry."""
    grants: dict[str, Grant] = {}
    if not table:
        return grants
    plugins = table.get("plugins", {})
    if not isinstance(plugins, dict):
        raise _error(path, lines.get(("sandbox", "plugins")), "sandbox.plugins must be a table ([sandbox.plugins])")
    rest = {k: v for k, v in table.items() if k != "plugins"}
    grants[""] = _grant(path, lines.get(("sandbox", next(iter(rest), ""))), "sandbox", rest, "default", env)
    for name, value in plugins.items():
        where = lines.get(("sandbox.plugins", name))
        entry = {"policy": value} if isinstance(value, str) else value
        if not isinstance(entry, dict):
            raise _error(path, where, f"sandbox.plugins.{name} must be a policy name or a table (policy, read, write)")
        grants[name] = _grant(path, where, f"sandbox.plugins.{name}", entry, "policy", env)
    return grants


def _grant(path: str, where: int | None, key: str, entry: dict[str, Any], policy_key: str, env: Mapping[str, str]) -> Grant:
    from dispatch.sandbox.policy import parse

    known = (policy_key, "read", "write")
    for unknown in entry:
        if unknown not in known:
            raise _error(path, where, f"unknown key {key}.{unknown}; known: {', '.join(known)}")
    policy = entry.get(policy_key)
    if policy is not None and not isinstance(policy, str):
        raise _error(path, where, f"{key}.{policy_key} must be a policy name")
    try:
        name = parse(policy, f"{key}.{policy_key}").name if policy is not None else None
    except ToolError as e:
        raise _error(path, where, e.message) from None
    paths = {}
    for kind in ("read", "write"):
        value = entry.get(kind, [])
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise _error(path, where, f"{key}.{kind} must be a list of paths")
        paths[kind] = [_absolute(path, where, f"{key}.{kind}", v, env) for v in value]
    return Grant(name, paths["read"], paths["write"])


def _absolute(path: str, where: int | None, key: str, value: str, env: Mapping[str, str]) -> str:
    """A path of the config: absolute, or `~/...` in HOME (a relative one would depend on where the user stands)."""
    home = env.get("HOME", "")
    if value.startswith("~/") and os.path.isabs(home):
        return os.path.normpath(os.path.join(home, value[2:]))
    if not os.path.isabs(value):
        raise _error(path, where, f"{key}: {value!r} is not an absolute path (or ~/...)")
    return os.path.normpath(value)


def _key_lines(text: str) -> dict[tuple[str | None, str], int]:
    """Where each key is set, by (section, key), and each section header, by (None, name):
    one pass over the text, for error messages (a first-seen line wins)."""
    found: dict[tuple[str | None, str], int] = {}
    current: str | None = None
    for number, line in enumerate(text.splitlines(), 1):
        stripped = line.strip()
        if stripped.startswith("[") and not stripped.startswith("[["):
            header = stripped.split("]", 1)[0]  # `[alias]  # a comment` names the table alias
            current = header.strip("[").strip().strip('"').strip("'")
            found.setdefault((None, current), number)
            continue
        if current is not None and "=" in stripped:
            name = stripped.split("=", 1)[0].strip().strip('"').strip("'")
            found.setdefault((current, name), number)
    return found


def _error(path: str, line: int | None, message: str) -> ToolError:
    where = f"{path}, line {line}" if line else path
    return usage_error(f"bad config {where}: {message}")
