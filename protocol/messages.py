"""Every message of protocol v1, its fields, and the one validator that checks them.

A message is a JSON object with a string field `type`. Unknown fields are
ignored and unknown types pass through unchecked (forward compatibility);
a known type with a missing or mistyped field is a ProtocolError that says
exactly which field and why. protocol/schema/v1.json says the same thing
for other languages; tests/data keeps the two in agreement.
"""
from __future__ import annotations

from protocol.errors import ProtocolError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence
    from typing import Any, TypeVar

    _T = TypeVar("_T")

    Message = dict[str, Any]


# Field kinds. A kind is a tuple of accepted Python types, or a frozenset of
# accepted string values (an enum), or one of the special markers below.
_STR = (str,)
_BOOL = (bool,)
_OBJ = (dict,)
_ANY = "any"
_INT = "int"  # an int that is not a bool
_NUM = "num"  # int or float, not bool, >= 0
_INT_OR_NULL = "int?"
_ID = "id"  # int or string
_STR_LIST = "str[]"
_OBJ_LIST = "obj[]"
_INT_LIST = "int[]"
_STR_OR_NULL_LIST = "str?[]"

# How much each log level needs: shown when the verbosity (-1 quiet, 0, 1 -v, 2 -vv) is at least this.
LOG_LEVELS: dict[str, int] = {"debug": 1, "info": 0, "warning": 0, "error": -1}
CANCEL_REASONS = frozenset({"interrupt", "timeout", "terminate"})
OUTPUT_MODES = frozenset({"text", "json"})

# What protocol 1 grew without a new version: each addition is a named feature. The host
# lists the ones it has in every first request (`features`); a plugin lists the ones it
# uses in its hello (`features`) and those it cannot work without (`requires`).
FEATURES: tuple[str, ...] = (
    "records",  # the `record` message: structured rows, streamed
    "progress_ids",  # progress lines with an `id`, several at once, ended with `done`
    "confirm",  # the `confirm` request: a yes/no question
    "choose",  # the `choose` request: one of a list
    "terminal",  # the `terminal` request and the `terminal_end` message: the user's terminal, handed over
    "call",  # the `call` request: another command of the same program, through the host
    "stdin_fd",  # the user's stdin as a file descriptor named in `run` (when it is not a terminal)
    "argv_raw",  # the exact bytes of arguments that are not UTF-8
    "cancel_grace",  # `cancel` says its grace period; requests pending at cancel are answered `cancelled`
)

# type -> {field: (kind, required)}
PLUGIN_MESSAGES: dict[str, dict[str, tuple[object, bool]]] = {
    "hello": {
        "protocol": (_INT_OR_NULL, True),
        "supported": (_INT_LIST, False),
        "plugin": (_OBJ, False),
        "features": (_STR_LIST, False),
        "requires": (_STR_LIST, False),
    },
    "output": {"text": (_STR, False), "base64": (_STR, False)},
    "log": {"level": (_STR, True), "message": (_STR, True)},
    "progress": {
        "message": (_STR, False),
        "current": (_NUM, False),
        "total": (_NUM, False),
        "id": (_STR, False),
        "done": (_BOOL, False),
    },
    "record": {"data": (_OBJ, True)},
    "terminal_end": {},
    "request": {"id": (_ID, True), "method": (_STR, True), "params": (_OBJ, False)},
    "result": {"data": (_ANY, True)},
    "error": {"code": (_STR, True), "message": (_STR, True), "hint": (_STR, False)},
    # Answers to the `describe` and `complete` first requests.
    "description": {
        "summary": (_STR, False),
        "usage": (_STR, False),
        "description": (_STR, False),
        "subcommands": (_OBJ_LIST, False),
        "flags": (_OBJ_LIST, False),
    },
    "completions": {"candidates": (_OBJ_LIST, True)},
}

HOST_MESSAGES: dict[str, dict[str, tuple[object, bool]]] = {
    "run": {
        "argv": (_STR_LIST, True),
        "interactive": (_BOOL, True),
        "output": (OUTPUT_MODES, True),
        "color": (_BOOL, True),
        "width": (_INT, True),
        "verbosity": (_INT, True),
        "host": (_OBJ, True),
        "features": (_STR_LIST, False),
        "stdin_fd": (_INT, False),
        "argv_raw": (_STR_OR_NULL_LIST, False),
    },
    "response": {"id": (_ID, True), "result": (_OBJ, False), "error": (_OBJ, False)},
    "cancel": {"reason": (CANCEL_REASONS, True), "grace": (_NUM, False)},
    "describe": {"host": (_OBJ, False), "features": (_STR_LIST, False)},
    "complete": {"words": (_STR_LIST, True), "current": (_STR, True), "host": (_OBJ, False), "features": (_STR_LIST, False)},
}

# Fields of nested objects, checked the same way.
_NESTED: dict[tuple[str, str], dict[str, tuple[object, bool]]] = {
    ("hello", "plugin"): {"name": (_STR, False), "version": (_STR, False), "summary": (_STR, False)},
    ("response", "error"): {"code": (_STR, True), "message": (_STR, True)},
    ("run", "host"): {"name": (_STR, True), "version": (_STR, True)},
}

# Fields of the objects inside lists.
_ITEMS: dict[tuple[str, str], dict[str, tuple[object, bool]]] = {
    ("description", "subcommands"): {"name": (_STR, True), "summary": (_STR, False)},
    ("description", "flags"): {
        "name": (_STR, True),
        "short": (_STR, False),
        "summary": (_STR, False),
        "takes_value": (_BOOL, False),
        "choices": (_STR_LIST, False),
    },
    ("completions", "candidates"): {"value": (_STR, True), "description": (_STR, False)},
}

# request method -> params fields. Unknown methods are answered with an error, not checked.
REQUEST_PARAMS: dict[str, dict[str, tuple[object, bool]]] = {
    "prompt": {"message": (_STR, True), "secret": (_BOOL, False), "default": (_STR, False)},
    "read_input": {"max_bytes": (_INT, False)},
    "confirm": {"message": (_STR, True), "default": (_BOOL, False)},
    "choose": {"message": (_STR, True), "choices": (_STR_LIST, True), "default": (_STR, False)},
    "terminal": {},
    "call": {"argv": (_STR_LIST, True)},
}


def cast(kind: object, value: object) -> Any:
    """typing.cast without importing typing (this module is on the session path)."""
    return value


def _kind_ok(kind: object, value: object) -> bool:
    if kind is _ANY:
        return True
    if kind is _INT:
        return type(value) is int
    if kind is _NUM:
        return type(value) in (int, float) and value >= 0  # type: ignore[operator]
    if kind is _INT_OR_NULL:
        return value is None or type(value) is int
    if kind is _ID:
        return type(value) in (int, str)
    if kind is _STR_LIST:
        return type(value) is list and all(type(v) is str for v in value)
    if kind is _INT_LIST:
        return type(value) is list and all(type(v) is int for v in value)
    if kind is _STR_OR_NULL_LIST:
        return type(value) is list and all(v is None or type(v) is str for v in value)
    if kind is _OBJ_LIST:
        return type(value) is list and all(type(v) is dict for v in value)
    if isinstance(kind, frozenset):
        return type(value) is str and value in kind
    return type(value) in kind  # type: ignore[operator]


_KIND_NAMES = {
    _ANY: "any JSON value",
    _INT: "an integer",
    _NUM: "a non-negative number",
    _INT_OR_NULL: "an integer or null",
    _ID: "an integer or a string",
    _STR_LIST: "a list of strings",
    _STR_OR_NULL_LIST: "a list of strings and nulls",
    _INT_LIST: "a list of integers",
    _OBJ_LIST: "a list of objects",
    _STR: "a string",
    _BOOL: "true or false",
    _OBJ: "an object",
}


def _kind_name(kind: object) -> str:
    if isinstance(kind, frozenset):
        return "one of " + ", ".join(repr(v) for v in sorted(kind))
    return _KIND_NAMES.get(kind, str(kind))  # type: ignore[call-overload, no-any-return]


def _check_fields(msg: Mapping[str, object], fields: Mapping[str, tuple[object, bool]], where: str) -> None:
    for name, (kind, required) in fields.items():
        if name not in msg:
            if required:
                raise ProtocolError(f"{where} has no {name!r} field", field=name)
            continue
        value = msg[name]
        if not _kind_ok(kind, value):
            raise ProtocolError(
                f"{where} field {name!r} must be {_kind_name(kind)}, got {_json_type(value)}", field=name
            )


def _json_type(value: object) -> str:
    if value is None:
        return "null"
    return {bool: "a boolean", int: "an integer", float: "a number", str: "a string", list: "a list", dict: "an object"}.get(
        type(value), type(value).__name__
    )


def check(msg: Mapping[str, object], table: Mapping[str, Mapping[str, tuple[object, bool]]]) -> None:
    """Raise ProtocolError when a message of a known type has missing or mistyped fields."""
    mtype = msg.get("type")
    if type(mtype) is not str:
        raise ProtocolError("message has no string 'type' field", field="type")
    fields = table.get(mtype)
    if fields is None:
        return  # unknown type: ignored by the receiver
    where = f"{mtype!r} message"
    _check_fields(msg, fields, where)
    # The kinds were checked above: a nested field is an object, an item list a list of objects.
    for (owner, name), nested in _NESTED.items():
        if owner == mtype and name in msg:
            _check_fields(cast("Mapping[str, object]", msg[name]), nested, f"{where} {name!r} object")
    for (owner, name), nested in _ITEMS.items():
        if owner == mtype and name in msg:
            for i, item in enumerate(cast("list[Mapping[str, object]]", msg[name])):
                _check_fields(item, nested, f"{where} {name}[{i}]")
    if mtype == "output":
        if ("text" in msg) == ("base64" in msg):
            raise ProtocolError("'output' message needs exactly one of 'text' and 'base64'", field="text")
    elif mtype == "response":
        if ("result" in msg) == ("error" in msg):
            raise ProtocolError("'response' message needs exactly one of 'result' and 'error'", field="result")
    elif mtype == "hello":
        if msg["protocol"] is None and "supported" not in msg:
            raise ProtocolError(
                "'hello' message with protocol null must list the versions it speaks in 'supported'",
                field="supported",
            )
    elif mtype == "request":
        method = cast(str, msg["method"])
        params_fields = REQUEST_PARAMS.get(method)
        if params_fields is not None:
            params = cast("Mapping[str, object]", msg.get("params", {}))
            _check_fields(params, params_fields, f"{method!r} request params")


def check_plugin_message(msg: Mapping[str, object]) -> None:
    check(msg, PLUGIN_MESSAGES)


def check_host_message(msg: Mapping[str, object]) -> None:
    check(msg, HOST_MESSAGES)


# -- builders: every message the host, the fake host and the SDK send, in one place ------------


def hello(
    version: int | None, supported: Sequence[int] | None = None, plugin: Mapping[str, Any] | None = None,
    features: Sequence[str] | None = None, requires: Sequence[str] = (),
) -> Message:
    msg: Message = {"type": "hello", "protocol": version}
    if supported is not None:
        msg["supported"] = list(supported)
    if plugin is not None:
        msg["plugin"] = dict(plugin)
    if features is not None:
        msg["features"] = list(features)
    if requires:
        msg["requires"] = list(requires)
    return msg


def run_request(
    argv: Sequence[str], *, interactive: bool, output: str, color: bool, width: int, verbosity: int,
    host: Mapping[str, str], features: Sequence[str] = FEATURES, stdin_fd: int | None = None,
) -> Message:
    """`argv` may hold the surrogate escapes of arguments that were not UTF-8: they are sent
    with U+FFFD in `argv` and their exact bytes in `argv_raw` (base64)."""
    text, raw = _argv(argv)
    msg: Message = {
        "type": "run", "argv": text, "interactive": interactive, "output": output,
        "color": color, "width": width, "verbosity": verbosity, "host": dict(host), "features": list(features),
    }
    if raw is not None:
        msg["argv_raw"] = raw
    if stdin_fd is not None:
        msg["stdin_fd"] = stdin_fd
    return msg


def _argv(argv: Sequence[str]) -> tuple[list[str], list[str | None] | None]:
    text: list[str] = []
    raw: list[str | None] = []
    exact = True
    for arg in argv:
        try:
            arg.encode("utf-8")
            text.append(arg)
            raw.append(None)
        except UnicodeEncodeError:
            import binascii

            data = arg.encode("utf-8", "surrogateescape")
            text.append(data.decode("utf-8", "replace"))
            raw.append(binascii.b2a_base64(data, newline=False).decode("ascii"))
            exact = False
    return text, (None if exact else raw)


def describe_request(host: Mapping[str, str], features: Sequence[str] = FEATURES) -> Message:
    return {"type": "describe", "host": dict(host), "features": list(features)}


def complete_request(words: Sequence[str], current: str, host: Mapping[str, str], features: Sequence[str] = FEATURES) -> Message:
    return {"type": "complete", "words": list(words), "current": current, "host": dict(host), "features": list(features)}


def response(rid: object, result: Mapping[str, Any]) -> Message:
    return {"type": "response", "id": rid, "result": dict(result)}


def error_response(rid: object, code: str, message: str) -> Message:
    return {"type": "response", "id": rid, "error": {"code": code, "message": message}}


def cancel(reason: str, grace: float | None = None) -> Message:
    msg: Message = {"type": "cancel", "reason": reason}
    if grace is not None:
        msg["grace"] = grace
    return msg


def error(code: str, message: str, hint: str | None = None) -> Message:
    msg: Message = {"type": "error", "code": code, "message": message}
    if hint:
        msg["hint"] = hint
    return msg
