"""What `list`, `help`, completion and `doctor` know of each plugin file, without running it.

One JSON document, `$XDG_CACHE_HOME/<prog>/metadata.json`, maps a file
identity (dispatch/cache.py) to what is known of that file: {"path",
"kind", "plugin": the hello's plugin object, "description": the describe
answer, "problem": why its last handshake failed}. Read-modify-write with an
atomic rename: a concurrent writer may lose an update, which only means it
is learned again. Never on the start-up path.
"""
from __future__ import annotations

import os

from dispatch.cache import _MAX_ENTRIES, cache_dir, identity

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping


def metadata_path(env: Mapping[str, str], prog: str) -> str | None:
    directory = cache_dir(env, prog)
    return None if directory is None else os.path.join(os.path.dirname(directory), "metadata.json")


def load_metadata(path: str | None) -> dict[str, dict[str, object]]:
    if path is None:
        return {}
    from protocol.framing import loads  # _json directly: `json` imports `re`

    try:
        with open(path, "rb") as f:
            data = loads(f.read().decode("utf-8"))
    except (OSError, ValueError, RecursionError):
        return {}
    if not isinstance(data, dict):
        return {}
    return {k: v for k, v in data.items() if isinstance(v, dict)}


def note(path: str | None, st: os.stat_result, plugin_path: str, **fields: object) -> None:
    """Merge `fields` into the entry of this file (a None value removes the field)."""
    if path is None:
        return
    from protocol.framing import dumps

    data = load_metadata(path)
    key = identity(st)
    entry = dict(data.get(key, {}))
    entry["path"] = plugin_path
    for name, value in fields.items():
        if value is None:
            entry.pop(name, None)
        else:
            entry[name] = value
    if data.get(key) == entry:
        return
    data[key] = entry
    if len(data) > _MAX_ENTRIES:
        for stale in list(data)[: len(data) - _MAX_ENTRIES]:
            del data[stale]
    temp = f"{path}.{os.getpid()}.tmp"
    try:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(temp, "w", encoding="utf-8") as f:
            f.write(dumps(data))
        os.replace(temp, path)
    except OSError:
        try:
            os.unlink(temp)
        except OSError:
            pass
