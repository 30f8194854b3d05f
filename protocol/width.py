"""How wide text is on a terminal, and how wide the terminal is: the same rules for the host
and for the SDK (a plugin run directly).

The terminal's width is the first of the given descriptors that is a terminal reporting a
width, else `COLUMNS` when it is a positive decimal number, else 80 (a terminal that reports
0 columns, as some do before they are sized, counts as none). A character's width is what a
terminal gives it: East Asian wide and fullwidth characters take two columns, combining marks
and other zero-width characters none.
"""
from __future__ import annotations

import os

from protocol.digits import decimal

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping, Sequence

DEFAULT = 80
ELLIPSIS = "\u2026"


def columns(fds: Sequence[int] = (1, 2), env: Mapping[str, str] | None = None) -> int:
    """The terminal's width in columns (see the module's rules)."""
    for fd in fds:
        try:
            width = os.get_terminal_size(fd).columns
        except (OSError, ValueError):
            continue
        if width > 0:
            return width
    given = decimal((os.environ if env is None else env).get("COLUMNS", ""), 5)
    return given if given else DEFAULT


def char_cells(c: str) -> int:
    """The columns one character takes."""
    if " " <= c <= "~":
        return 1
    import unicodedata

    if unicodedata.combining(c) or unicodedata.category(c) in ("Mn", "Me", "Cf") or c == "\u200b":
        return 0
    return 2 if unicodedata.east_asian_width(c) in "WF" else 1


def cells(text: str) -> int:
    """The columns `text` takes on a terminal."""
    if text.isascii() and text.isprintable():
        return len(text)
    return sum(char_cells(c) for c in text)


def fitting(chars: Iterable[str], room: int) -> list[str]:
    """The first of `chars` that fit in `room` columns (a wide character that would not fit
    whole is left out, never split)."""
    out: list[str] = []
    used = 0
    for c in chars:
        used += char_cells(c)
        if used > room:
            break
        out.append(c)
    return out


def cut(text: str, width: int) -> str:
    """`text` in at most `width` columns, its end replaced by an ellipsis when cut."""
    if cells(text) <= width:
        return text
    return "".join(fitting(text, width - 1)) + ELLIPSIS if width > 0 else ""


def pad(text: str, width: int) -> str:
    """`text` followed by spaces up to `width` columns."""
    return text + " " * max(width - cells(text), 0)
