"""Text that came from a plugin or from disk, made safe for a terminal; text made bytes."""
from __future__ import annotations

import os


def write_json(document: object) -> None:
    """A JSON document on stdout (a builtin's `--json`): ASCII, every other character as a
    `\\u` escape, so that text from disk or a plugin (escape sequences, bidi controls, a
    non-UTF-8 file name) never reaches a terminal raw, even when someone reads the JSON there."""
    import sys

    from protocol.framing import dumps  # _json directly: `json` imports `re`

    sys.stdout.flush()
    sys.stdout.buffer.write(dumps(document, ascii=True).encode("ascii") + b"\n")


def write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        n = os.write(fd, view)
        view = view[n:]


_VISIBLE: dict[int, str] | None = None


def _visible_table() -> dict[int, str]:
    table = {c: f"\\x{c:02x}" for c in (*range(0x20), 0x7F, *range(0x80, 0xA0))}
    table.update({0x09: "\\t", 0x0A: "\\n", 0x0D: "\\r", 0x1B: "\\e"})
    # Bidirectional controls (they reorder what follows: "Trojan Source"), line and
    # paragraph separators, and lone surrogates (never valid text).
    for c in (0x061C, 0x200E, 0x200F, *range(0x202A, 0x202F), *range(0x2066, 0x206A), 0x2028, 0x2029, *range(0xD800, 0xE000)):
        table[c] = f"\\u{c:04x}"
    return table


def visible(text: str, *, multiline: bool = False) -> str:
    """Text from a plugin or from disk, safe to show on a terminal.

    Control characters (C0, DEL, C1: so every escape sequence, ESC being one),
    bidirectional overrides, line separators, lone surrogates and every other
    character Python does not call printable (invisible format characters) are
    shown as visible escapes (`\\e[2J`, `\\u202e`, `\\u200b`), never sent raw. `multiline` keeps
    newlines and tabs (a log message of several lines). A plugin's `output`
    bytes never pass through here: they are the user's data, verbatim.
    """
    if text.isprintable():
        return text
    global _VISIBLE
    if _VISIBLE is None:
        _VISIBLE = _visible_table()
    if multiline:
        return "\n".join("\t".join(_escaped(part) for part in line.split("\t")) for line in text.split("\n"))
    return _escaped(text)


def _escaped(text: str) -> str:
    assert _VISIBLE is not None
    out = text.translate(_VISIBLE)
    if out.isprintable():
        return out
    # What is left is invisible (format characters such as U+200B, U+FEFF, the tag characters,
    # unassigned code points, spaces other than " "): shown, never passed on hidden.
    return "".join(c if c.isprintable() else f"\\u{ord(c):04x}" if ord(c) < 0x10000 else f"\\U{ord(c):08x}" for c in out)


def to_utf8(text: str) -> bytes:
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError:
        # Lone surrogates from a \\udXXX escape: shown as U+FFFD (documented tolerance).
        return text.encode("utf-8", "surrogatepass").decode("utf-8", "replace").encode("utf-8")
