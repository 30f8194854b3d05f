"""Protocol framing: one compact UTF-8 JSON object per `\\n`-terminated line.

Lines are split on `\\n` bytes only (never on other Unicode line breaks), a
trailing `\\r` is tolerated, empty lines are ignored, and a line longer than
the cap is an error as soon as the cap is passed, so memory stays bounded
whatever the peer sends.
"""
from __future__ import annotations

import _json

from protocol.errors import ProtocolError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import ClassVar

DEFAULT_MAX_LINE = 16 * 1024 * 1024


class LineSplitter:
    """Feed it bytes as they arrive; it returns the complete lines."""

    __slots__ = ("_parts", "_size", "max_line")

    def __init__(self, max_line: int = DEFAULT_MAX_LINE) -> None:
        # An incomplete line is kept as a list of chunks: joining only once
        # its newline arrives keeps a long line O(n), not O(n^2).
        self._parts: list[bytes] = []
        self._size = 0
        self.max_line = max_line

    def _too_long(self, head: bytes) -> ProtocolError:
        self._parts = []
        self._size = 0
        return ProtocolError(f"line longer than {self.max_line} bytes", line=head[:80])

    def feed(self, data: bytes) -> list[bytes]:
        if b"\n" not in data:
            if data:
                self._parts.append(data)
                self._size += len(data)
                if self._size > self.max_line:
                    raise self._too_long(self._parts[0])
            return []
        if self._parts:
            self._parts.append(data)
            data = b"".join(self._parts)
            self._parts = []
            self._size = 0
        parts = data.split(b"\n")
        rest = parts.pop()
        if rest:
            if len(rest) > self.max_line:
                raise self._too_long(rest)
            self._parts = [rest]
            self._size = len(rest)
        max_line = self.max_line
        if b"\r" not in data and b"\n\n" not in data and data[:1] != b"\n" and max(map(len, parts), default=0) <= max_line:
            return parts  # the common chunk, decided in C: no CR, no empty line, none too long
        lines = []
        for part in parts:
            if part[-1:] == b"\r":
                part = part[:-1]
            if not part:
                continue
            if len(part) > max_line:
                raise self._too_long(part)
            lines.append(part)
        return lines

    @property
    def pending(self) -> bytes:
        """An incomplete last line (after EOF this is a truncated message)."""
        return b"".join(self._parts)


def _no_constants(name: str) -> object:
    raise ValueError(f"{name} is not JSON")


def _finite_float(text: str) -> float:
    value = float(text)
    if value in (float("inf"), float("-inf")):
        # 1e400 overflows to Infinity, which JSON cannot express: refused like `Infinity` itself.
        raise ValueError(f"{text} is too large for a number")
    return value


class _DecodeContext:
    # What _json's scanner reads from a JSONDecoder. Using _json directly keeps
    # the `json` package, which imports `re`, off the host's session path.
    strict = True
    object_hook = None
    object_pairs_hook = None
    parse_float = staticmethod(_finite_float)
    parse_int = int
    parse_constant = staticmethod(_no_constants)
    memo: ClassVar[dict[str, str]] = {}


def _unencodable(value: object) -> object:
    raise TypeError(f"{type(value).__name__} is not JSON")


# typeshed types the scanner's context as the scanner itself; it reads these attributes.
_scan = _json.make_scanner(_DecodeContext())  # type: ignore[arg-type]
_WHITESPACE = " \t\n\r"
# (markers, default, encoder, indent, key separator, item separator, sort_keys, skipkeys, allow_nan)
_encode = _json.make_encoder(None, _unencodable, _json.encode_basestring, None, ":", ",", False, False, False)
_encode_ascii = _json.make_encoder(None, _unencodable, _json.encode_basestring_ascii, None, ":", ",", False, False, False)


def loads(text: str) -> object:
    """One JSON value, strictly (no NaN/Infinity, nothing after it); ValueError otherwise."""
    start = len(text) - len(text.lstrip(_WHITESPACE))
    try:
        value, end = _scan(text, start)
    except StopIteration:
        raise ValueError("not JSON") from None
    except SystemError:
        # _json reports errors through json.decoder, which it only finds once
        # imported; this is the error path, where the import may be paid.
        import json.decoder  # noqa: F401

        _DecodeContext.memo.clear()
        try:
            value, end = _scan(text, start)
        except StopIteration:
            raise ValueError("not JSON") from None
    if text[end:].strip(_WHITESPACE):
        raise ValueError("extra data after the JSON value")
    _DecodeContext.memo.clear()
    return value


def dumps(value: object, *, ascii: bool = False) -> str:
    """Compact JSON text for a value made of dicts, lists, strings, numbers, booleans and None."""
    return "".join(_encode_ascii(value, 0) if ascii else _encode(value, 0))


def decode(line: bytes) -> dict[str, object]:
    """One line as a message: a JSON object with a string `type`."""
    try:
        text = line.decode("utf-8")
    except UnicodeDecodeError:
        raise ProtocolError("line is not valid UTF-8", line=line) from None
    try:
        obj = loads(text)
    except RecursionError:
        raise ProtocolError("line is nested too deeply (JSON over about 1000 levels)", line=line) from None
    except ValueError as e:
        if "integer string conversion" in str(e):  # CPython's limit on the digits of an int (4300)
            raise ProtocolError("line holds a number with too many digits (more than 4300)", line=line) from None
        raise ProtocolError("line is not valid JSON", line=line) from None
    if type(obj) is not dict:
        raise ProtocolError("line is not a JSON object", line=line)
    if type(obj.get("type")) is not str:
        raise ProtocolError("message has no string 'type' field", field="type", line=line)
    return obj


# The fast path for the bulk of any stream, runs of `output` messages with a plain text: a
# chunk is checked once (UTF-8, no control bytes) and a run of such lines is unescaped at
# once, without a JSON parse. Anything else, or any doubt, takes the full parser (which also
# reports errors); tests/fastpath_test.py holds the two to the same answers.
OUTPUT_TEXT = b'{"type":"output","text":"'
_CONTROL = bytes(range(0x20))  # never raw inside a JSON line (the newlines between lines are not in it)
_OUTPUT_JOINT = b'"}\n' + OUTPUT_TEXT  # between two such lines joined by a newline (never inside one)
_SIMPLE_ESCAPES = ((b"\\n", b"\n"), (b"\\t", b"\t"), (b"\\r", b"\r"), (b'\\"', b'"'), (b"\\/", b"/"))


def plain_text_ok(lines: list[bytes]) -> bool:
    """The lines are valid UTF-8 without control bytes (so the fast path may trust them)."""
    blob = b"".join(lines)
    if len(blob.translate(None, _CONTROL)) != len(blob):
        return False
    try:
        blob.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def output_run(lines: list[bytes], start: int) -> tuple[bytes | None, int]:
    """(the bytes of the `output` messages with a plain text from lines[start] on, where the
    run ends); (None, start) when the first line is not one, or the run needs the parser.
    The lines must have passed `plain_text_ok`."""
    # Each line is looked at once (a line that ends the run is where the next call starts, and
    # it fails there at once), then the run's bodies are cut out of the joined lines in one
    # pass: the joints are the only newlines.
    end = start
    n = len(lines)
    shortest = len(OUTPUT_TEXT) + 2  # `{"type":"output","text":"}` ends in `"}` too: not one
    while end < n:
        line = lines[end]
        if not (line.startswith(OUTPUT_TEXT) and line.endswith(b'"}')) or line[-3:-2] == b"\\" or len(line) < shortest:
            break  # not one; or a body ending in a backslash: let the parser say what is wrong
        end += 1
    if end == start:
        return None, start
    text = unescape(b"\n".join(lines[start:end])[len(OUTPUT_TEXT) : -2].replace(_OUTPUT_JOINT, b""))
    return (None, start) if text is None else (text, end)


RECORD_DATA = b'{"type":"record","data":'
_RECORD_JOINT = b'}\n' + RECORD_DATA  # between two record lines joined by a newline (never inside one)


def record_run(lines: list[bytes], start: int) -> tuple[bytes | None, int]:
    """(the JSON texts of the `data` of the `record` messages from lines[start] on, one per
    line, and where the run ends); (None, start) when lines[start] is not one. Each data
    object is checked by the parser but passed on as the plugin wrote it, so that records
    cost no encoding. A line with another field after `data`, or with a lone surrogate escape
    (passed on, it would not be valid Unicode), ends the run. The lines must have passed
    `plain_text_ok`."""
    at = len(RECORD_DATA)
    end = start
    for i in range(start, len(lines)):  # by index: a copy of the rest for each call would be quadratic
        line = lines[i]
        if not line.startswith(RECORD_DATA):
            break
        text = line.decode("utf-8")
        try:
            value, stop = _scan(text, at)
        except (StopIteration, SystemError, ValueError, RecursionError):
            break  # the parser will say what is wrong
        if stop != len(text) - 1 or text[stop] != "}" or type(value) is not dict:
            break
        end += 1
    _DecodeContext.memo.clear()
    if end == start:
        return None, start
    blob = b"\n".join(lines[start:end])
    if b"\\ud" in blob or b"\\uD" in blob:
        # The run ends before the first such line (the parser takes that one).
        end = next(i for i in range(start, end) if b"\\ud" in lines[i] or b"\\uD" in lines[i])
        if end == start:
            return None, start
        blob = b"\n".join(lines[start:end])
    # Each line less its envelope, in one pass: the joints are the only newlines.
    return blob[at:-1].replace(_RECORD_JOINT, b"\n") + b"\n", end


def unescape(payload: bytes) -> bytes | None:
    """The UTF-8 bytes of JSON string bodies (joined) with only simple escapes; None when they need a parser.

    Joining is safe because no body ends in a backslash, so no escape spans two of them.
    """
    if b"\\" not in payload:
        return None if b'"' in payload else payload
    if b"\\\\" in payload or b'"' in payload.replace(b'\\"', b""):
        return None
    for escaped, raw in _SIMPLE_ESCAPES:
        payload = payload.replace(escaped, raw)
    return None if b"\\" in payload else payload


def is_hello(line: bytes) -> bool:
    """Whether a line is a hello message (only the type is checked: the caller validates it)."""
    if not line.startswith(b"{"):
        return False
    try:
        return decode(line).get("type") == "hello"
    except ProtocolError:
        return False


def encode_input(rid: object, data: bytes) -> bytes:
    """The response to `read_input` carrying `data`: the bytes encode() gives for it, built
    around the base64 (which has nothing to escape) instead of scanning a megabyte for escapes."""
    import binascii

    head = '{"type":"response","id":' + dumps(rid) + ',"result":{"base64":"'
    tail = '","eof":' + ("false" if data else "true") + "}}\n"
    return head.encode("utf-8") + binascii.b2a_base64(data, newline=False) + tail.encode("ascii")


def encode(msg: object) -> bytes:
    """A message as one compact line, `\\n` included."""
    text = dumps(msg)
    try:
        return text.encode("utf-8") + b"\n"
    except UnicodeEncodeError:
        # Lone surrogates (e.g. undecodable argv bytes) cannot be UTF-8: escape them.
        return dumps(msg, ascii=True).encode("ascii") + b"\n"
