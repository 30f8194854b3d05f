"""Validate messages against protocol/schema/v1.json, the machine-readable description of the protocol.

A small validator for the part of JSON Schema (2020-12) that the file uses:
type, const, enum, minimum, required, properties, items, allOf, oneOf,
if/then and local $ref. It is here so that authors (and our tests) can check
streams with the standard library only.
"""
from __future__ import annotations

import json
import os

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

_PATH = os.path.join(os.path.dirname(__file__), "schema", "v1.json")
_schema: dict[str, Any] | None = None


def load() -> dict[str, Any]:
    global _schema
    if _schema is None:
        with open(_PATH, encoding="utf-8") as f:
            _schema = json.load(f)
    return _schema


def errors(instance: Any, definition: str = "plugin_message") -> list[str]:
    """What is wrong with `instance` as a `definition` ("plugin_message", "host_message", "hello", ...)."""
    root = load()
    found: list[str] = []
    _validate(instance, root["$defs"][definition], root, "$", found)
    return found


_TYPES = {
    "object": lambda v: isinstance(v, dict),
    "array": lambda v: isinstance(v, list),
    "string": lambda v: isinstance(v, str),
    "integer": lambda v: type(v) is int,
    "number": lambda v: type(v) in (int, float),
    "boolean": lambda v: type(v) is bool,
    "null": lambda v: v is None,
}


def _validate(value: Any, schema: dict[str, Any], root: dict[str, Any], where: str, out: list[str]) -> None:
    if "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        _validate(value, root["$defs"][name], root, where, out)
    if "type" in schema:
        types = schema["type"] if isinstance(schema["type"], list) else [schema["type"]]
        if not any(_TYPES[t](value) for t in types):
            out.append(f"{where}: expected {' or '.join(types)}")
            return
    if "const" in schema and value != schema["const"]:
        out.append(f"{where}: expected {schema['const']!r}")
    if "enum" in schema and value not in schema["enum"]:
        out.append(f"{where}: expected one of {schema['enum']}")
    if "minimum" in schema and type(value) in (int, float) and value < schema["minimum"]:
        out.append(f"{where}: below {schema['minimum']}")
    if isinstance(value, dict):
        for name in schema.get("required", []):
            if name not in value:
                out.append(f"{where}: missing {name!r}")
        for name, sub in schema.get("properties", {}).items():
            if name in value:
                _validate(value[name], sub, root, f"{where}.{name}", out)
    if isinstance(value, list) and "items" in schema:
        for i, item in enumerate(value):
            _validate(item, schema["items"], root, f"{where}[{i}]", out)
    for sub in schema.get("allOf", []):
        _validate(value, sub, root, where, out)
    if "oneOf" in schema:
        passing = sum(1 for sub in schema["oneOf"] if not _collect(value, sub, root, where))
        if passing != 1:
            out.append(f"{where}: must match exactly one of {len(schema['oneOf'])} alternatives (matched {passing})")
    if "if" in schema and "then" in schema and not _collect(value, schema["if"], root, where):
        _validate(value, schema["then"], root, where, out)


def _collect(value: Any, schema: dict[str, Any], root: dict[str, Any], where: str) -> list[str]:
    found: list[str] = []
    _validate(value, schema, root, where, found)
    return found
