"""Protocol framing: one compact UTF-8 JSON object per `\\n`-terminated line.

Lines are split on `\\n` bytes only (never on other Unicode line breaks), a
trailing `\\r` is tolerated, empty lines are ignored, and a line longer than
the cap is an error as soon as the cap is passed, so memory stays bounded
whatever the peer sends.
"""
from __future__ import annotations

import json

from protocol.messages import ProtocolError

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


def decode(line: bytes) -> dict[str, object]:
    """One line as a message: a JSON object with a string `type`."""
    try:
        text = line.decode("utf-8")
    except UnicodeDecodeError:
        raise ProtocolError("line is not valid UTF-8", line=line) from None
    try:
        obj = json.loads(text, parse_constant=_no_constants)
    except (ValueError, RecursionError):
        raise ProtocolError("line is not valid JSON", line=line) from None
    if type(obj) is not dict:
        raise ProtocolError("line is not a JSON object", line=line)
    if type(obj.get("type")) is not str:
        raise ProtocolError("message has no string 'type' field", field="type", line=line)
    return obj


def encode(msg: object) -> bytes:
    """A message as one compact line, `\\n` included."""
    text = json.dumps(msg, ensure_ascii=False, separators=(",", ":"))
    try:
        return text.encode("utf-8") + b"\n"
    except UnicodeEncodeError:
        # Lone surrogates (e.g. undecodable argv bytes) cannot be UTF-8: escape them.
        return json.dumps(msg, separators=(",", ":")).encode("ascii") + b"\n"
