"""What `list`, `help`, completion and `doctor` know of each plugin file, without running it.

One small JSON document per file identity (dispatch/cache.py), in the
host's private cache directory: `metadata/<identity>.json`, written
atomically on its own, so that concurrent runs of different plugins never
lose each other's updates. A field is: "path"; "declares" (whether the file
declares the protocol); "protocol" (the version it greeted with, once seen
speaking it); "plugin" (the hello's name, version and summary);
"description" (its answer to `describe`); "problem" (why its last run did
not go by the protocol: a `RunProblem`, stored with its code).

Readers of many entries (`tool list` over thousands of plugins) use
`metadata-index.json`, a copy of all entries stamped with the state of the
directory it was made from, and rebuilt when the directory has changed.

What a plugin supplied is stored only in the shapes this module knows,
bounded in size; anything odd (nesting, wrong types, undecodable text) is
dropped or kept escaped, never an error: metadata never fails a run.
"""
from __future__ import annotations

import os

from dispatch import dirs
from dispatch.catalog import cache

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping
    from typing import Any

_ENTRY_CAP = 256 * 1024
_INDEX_CAP = 64 * 1024 * 1024
_TEXT_CAP = 2000
_ITEMS_CAP = 500
_INDEX = "metadata-index.json"
MAX_ENTRIES = 16384


class RunProblem:
    """Why the last run of a plugin that declares the protocol did not go by it: `code` for
    doctor and scripts (`did_not_greet`: it was relayed as a plain program; `handshake_failed`:
    a protocol error or a version mismatch), what happened, and the fix when it is known."""

    __slots__ = ("code", "message", "fix")
    CODES = ("did_not_greet", "handshake_failed")

    def __init__(self, code: str, message: str, fix: str | None = None) -> None:
        self.code = code
        self.message = message
        self.fix = fix

    def to_json(self) -> dict[str, str]:
        out = {"code": self.code, "message": self.message}
        if self.fix:
            out["fix"] = self.fix
        return out

    @classmethod
    def from_json(cls, value: object) -> RunProblem | None:
        """What the store kept (never trusted: bounded, known codes only)."""
        if isinstance(value, str):  # an entry written before problems had codes
            return cls("handshake_failed", value[:_TEXT_CAP])
        if not isinstance(value, dict) or value.get("code") not in cls.CODES or not isinstance(value.get("message"), str):
            return None
        fix = value.get("fix")
        return cls(value["code"], value["message"][:_TEXT_CAP], fix[:_TEXT_CAP] if isinstance(fix, str) else None)

    @property
    def text(self) -> str:
        """The message and its fix, as one line says them."""
        return self.message if not self.fix else f"{self.message}; {self.fix}"


def _text(value: object) -> str | None:
    return value[:_TEXT_CAP] if isinstance(value, str) else None


def _clean_object(value: object, fields: tuple[str, ...]) -> dict[str, Any] | None:
    if not isinstance(value, dict):
        return None
    out: dict[str, Any] = {}
    for name in fields:
        text = _text(value.get(name))
        if text is not None:
            out[name] = text
    return out


def _clean_description(value: object) -> dict[str, Any] | None:
    if not isinstance(value, dict):
        return None
    out: dict[str, Any] = _clean_object(value, ("summary", "usage", "description")) or {}
    subcommands = [
        _clean_object(s, ("name", "summary")) for s in (value.get("subcommands") or [])[:_ITEMS_CAP] if isinstance(s, dict)
    ] if isinstance(value.get("subcommands"), list) else []
    out["subcommands"] = [s for s in subcommands if s and "name" in s]
    flags = []
    if isinstance(value.get("flags"), list):
        for f in value["flags"][:_ITEMS_CAP]:
            flag = _clean_object(f, ("name", "short", "summary", "metavar"))
            if not flag or "name" not in flag:
                continue
            if isinstance(f.get("takes_value"), bool):
                flag["takes_value"] = f["takes_value"]
            if isinstance(f.get("choices"), list):
                flag["choices"] = [c[:_TEXT_CAP] for c in f["choices"][:_ITEMS_CAP] if isinstance(c, str)]
            flags.append(flag)
    out["flags"] = flags
    return out


def clean(fields: Mapping[str, object]) -> dict[str, object]:
    """The fields in the shapes the store keeps (None: remove the field)."""
    out: dict[str, object] = {}
    for name, value in fields.items():
        if value is None:
            out[name] = None
        elif name == "plugin":
            out[name] = _clean_object(value, ("name", "version", "summary"))
        elif name == "description":
            out[name] = _clean_description(value)
        elif name == "path":
            out[name] = _text(value)
        elif name == "problem":
            problem = value if isinstance(value, RunProblem) else RunProblem.from_json(value)
            out[name] = problem.to_json() if problem is not None else None
        elif name == "declares":
            out[name] = bool(value)
        elif name == "protocol":
            out[name] = value if type(value) is int else None
    return out


def _decode(data: bytes | None) -> dict[str, Any] | None:
    if data is None:
        return None
    from protocol.framing import loads  # _json directly: `json` imports `re`

    try:
        value = loads(data.decode("utf-8"))
    except (ValueError, RecursionError):
        return None
    return value if isinstance(value, dict) else None


def _encode(value: object) -> bytes | None:
    from protocol.framing import dumps

    try:
        return dumps(value, ascii=True).encode("ascii")  # lone surrogates stay escaped
    except (ValueError, TypeError, RecursionError):
        return None


def read(env: Mapping[str, str], prog: str, st: os.stat_result) -> dict[str, Any]:
    """The entry of the file with stat `st` ({} when none)."""
    root = dirs.open_cache(env, prog)
    if root is None:
        return {}
    try:
        directory = dirs.open_dir(None, "metadata", dir_fd=root)
    finally:
        os.close(root)
    if directory is None:
        return {}
    try:
        return _decode(cache.read_file(directory, cache.identity(st) + ".json", _ENTRY_CAP)) or {}
    finally:
        os.close(directory)


def note(env: Mapping[str, str], prog: str, st: os.stat_result, path: str, **fields: object) -> None:
    """Merge `fields` into the entry of this file (a None value removes the field); never fails."""
    key = cache.identity(st)
    root = dirs.open_cache(env, prog, create=True)
    if root is None:
        return
    try:
        directory = dirs.open_dir(None, "metadata", dir_fd=root, create=True)
    finally:
        os.close(root)
    if directory is None:
        return
    try:
        old = _decode(cache.read_file(directory, key + ".json", _ENTRY_CAP)) or {}
        entry = dict(old)
        for name, value in clean({"path": path, **fields}).items():
            if value is None:
                entry.pop(name, None)
            else:
                entry[name] = value
        if entry == old:
            return
        data = _encode(entry)
        if data is not None and cache.write_file(directory, key + ".json", data):
            cache.prune(directory, keep=MAX_ENTRIES)
    finally:
        os.close(directory)


class Index:
    """Everything known of every plugin file, for the readers of many (list, doctor, help):
    the entries of metadata/, by identity, and the declaration of files that have no entry
    (plain plugins: scanned once, and kept here only, so that a first `tool list` over
    thousands of them writes one file, not thousands).

    `metadata-index.json` is stamped with the state of metadata/ it was made from; when
    the directory has changed since, the entries are read again (the declarations, keyed
    by file identity, stay valid whatever changed)."""

    def __init__(self, env: Mapping[str, str], prog: str) -> None:
        self.env = env
        self.prog = prog
        self.entries: dict[str, dict[str, Any]] = {}
        self.declared: dict[str, bool] = {}
        self.headers: dict[str, str] = {}  # identity -> the summary comment in the file ("": none)
        self.stamp = ""
        self.dirty = False
        self._load()

    def _load(self) -> None:
        root = dirs.open_cache(self.env, self.prog)
        if root is None:
            return
        try:
            index = _decode(cache.read_file(root, _INDEX, _INDEX_CAP)) or {}
            # Identities joined by spaces: thousands of them parse in a blink, unlike a JSON object.
            for answer, field in ((True, "declaring"), (False, "plain")):
                if isinstance(index.get(field), str):
                    self.declared.update(dict.fromkeys(index[field].split(), answer))
            if isinstance(index.get("headerless"), str):
                self.headers.update(dict.fromkeys(index["headerless"].split(), ""))
            if isinstance(index.get("headers"), dict):
                self.headers.update((k, v[:200]) for k, v in index["headers"].items() if isinstance(v, str))
            directory = dirs.open_dir(None, "metadata", dir_fd=root)
            if directory is None:
                return
            try:
                st = os.fstat(directory)
                self.stamp = f"{st.st_mtime_ns}:{st.st_size}:{st.st_nlink}"
                entries = index.get("entries")
                if index.get("stamp") == self.stamp and isinstance(entries, dict):
                    self.entries = {k: v for k, v in entries.items() if isinstance(v, dict)}
                    return
                with os.scandir(directory) as it:
                    names = [e.name for e in it if e.name.endswith(".json") and cache.ours(e.name)]
                for name in names:
                    entry = _decode(cache.read_file(directory, name, _ENTRY_CAP))
                    if entry is not None:
                        self.entries[name[: -len(".json")]] = entry
                self.dirty = True
            finally:
                os.close(directory)
        except OSError:
            pass
        finally:
            os.close(root)

    def declares(self, key: str) -> bool | None:
        """Whether the file with this identity declares the protocol, when known."""
        value = self.entries.get(key, {}).get("declares")
        return value if isinstance(value, bool) else self.declared.get(key)

    def learn(self, key: str, declares: bool) -> None:
        self.declared[key] = declares
        self.dirty = True

    def learn_header(self, key: str, summary: str | None) -> None:
        self.headers[key] = summary or ""
        self.dirty = True

    def save(self) -> None:
        """Write the index back when it learned something (never fails)."""
        if not self.dirty:
            return
        if len(self.declared) > MAX_ENTRIES:  # old versions of plugins pile up: keep the newest
            self.declared = dict(list(self.declared.items())[-MAX_ENTRIES // 2 :])
        if len(self.headers) > MAX_ENTRIES:
            self.headers = dict(list(self.headers.items())[-MAX_ENTRIES // 2 :])
        data = _encode({
            "stamp": self.stamp,
            "entries": self.entries,
            "declaring": " ".join(k for k, v in self.declared.items() if v),
            "plain": " ".join(k for k, v in self.declared.items() if not v),
            "headerless": " ".join(k for k, v in self.headers.items() if not v),
            "headers": {k: v for k, v in self.headers.items() if v},
        })
        if data is None:
            return
        root = dirs.open_cache(self.env, self.prog, create=True)
        if root is None:
            return
        try:
            cache.write_file(root, _INDEX, data)
        finally:
            os.close(root)
        self.dirty = False
