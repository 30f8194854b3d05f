"""How the host's own listings look on a terminal: fitted to its width, with restrained colour.

Only for stdout that is a terminal. In a pipe, a file or under `--json` every text is given
in full and plain, so that scripts and `grep` see everything. Colour is for the host's own
words only (warning and error labels, dim paths), never for plugin text, and is off with
`NO_COLOR` (https://no-color.org) or `TERM=dumb`.
"""
from __future__ import annotations

import os

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping

_DIM, _YELLOW, _RED, _RESET = "\033[2m", "\033[33m", "\033[31m", "\033[0m"
ELLIPSIS = "\u2026"


class Style:
    """`width`: the terminal's columns (None: not a terminal, nothing is cut); `colour`: whether to colour."""

    __slots__ = ("width", "colour")
    width: int | None
    colour: bool

    def __init__(self, width: int | None, colour: bool) -> None:
        self.width = width
        self.colour = colour

    @classmethod
    def for_stdout(cls, env: Mapping[str, str], fd: int = 1) -> Style:
        try:
            if not os.isatty(fd):
                return cls(None, False)
            width = os.get_terminal_size(fd).columns
        except OSError:
            return cls(None, False)
        columns = env.get("COLUMNS", "")
        if columns.isascii() and columns.isdigit() and 0 < len(columns) < 6 and int(columns) > 0:
            width = int(columns)
        term = env.get("TERM", "")
        return cls(max(width, 20), not env.get("NO_COLOR") and term != "dumb")

    def _paint(self, code: str, text: str) -> str:
        return f"{code}{text}{_RESET}" if self.colour and text else text

    def dim(self, text: str) -> str:
        return self._paint(_DIM, text)

    def warning(self, text: str) -> str:
        return self._paint(_YELLOW, text)

    def error(self, text: str) -> str:
        return self._paint(_RED, text)


def cells(text: str) -> int:
    """The columns `text` takes on a terminal: wide (East Asian) characters take two, combining
    marks none."""
    if text.isascii():
        return len(text)
    import unicodedata

    return sum(0 if unicodedata.combining(c) else 2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)


def pad(text: str, width: int) -> str:
    """`text` followed by spaces up to `width` columns."""
    return text + " " * max(width - cells(text), 0)


def _fitting(chars: Iterable[str], room: int) -> list[str]:
    """The first of `chars` that fit in `room` columns."""
    out: list[str] = []
    used = 0
    for c in chars:
        used += cells(c)
        if used > room:
            break
        out.append(c)
    return out


def cut(text: str, width: int) -> str:
    """`text` in at most `width` columns, its end replaced by an ellipsis when cut."""
    if cells(text) <= width:
        return text
    return "".join(_fitting(text, width - 1)) + ELLIPSIS if width > 0 else ""


def cut_path(path: str, width: int) -> str:
    """A path in at most `width` columns, keeping its end (the file's name), which says most."""
    if cells(path) <= width:
        return path
    return ELLIPSIS + "".join(reversed(_fitting(reversed(path), width - 1))) if width > 0 else ""
