"""How the host's own listings look on a terminal: fitted to its width, with restrained colour.

Only for stdout that is a terminal. In a pipe, a file or under `--json` every text is given
in full and plain, so that scripts and `grep` see everything. Colour is for the host's own
words only (warning and error labels, dim paths), never for plugin text, and is off with
`NO_COLOR` (https://no-color.org) or `TERM=dumb`.
"""
from __future__ import annotations

import os

from protocol.width import ELLIPSIS, cells, columns, cut, fitting, pad

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping

__all__ = ["ELLIPSIS", "Style", "cells", "columns", "cut", "cut_path", "pad", "paragraph", "two_columns", "words"]
_DIM, _YELLOW, _RED, _RESET = "\033[2m", "\033[33m", "\033[31m", "\033[0m"


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
        """How to show text on `fd` (stdout): fitted and coloured when it is a terminal."""
        try:
            if not os.isatty(fd):
                return cls(None, False)
        except OSError:
            return cls(None, False)
        term = env.get("TERM", "")
        return cls(max(columns((fd,), env), 20), not env.get("NO_COLOR") and term != "dumb")

    def _paint(self, code: str, text: str) -> str:
        return f"{code}{text}{_RESET}" if self.colour and text else text

    def dim(self, text: str) -> str:
        return self._paint(_DIM, text)

    def warning(self, text: str) -> str:
        return self._paint(_YELLOW, text)

    def error(self, text: str) -> str:
        return self._paint(_RED, text)


def cut_path(path: str, width: int) -> str:
    """A path in at most `width` columns, keeping its end (the file's name), which says most."""
    if cells(path) <= width:
        return path
    return ELLIPSIS + "".join(reversed(fitting(reversed(path), width - 1))) if width > 0 else ""


def wrap(text: str, room: int) -> list[str]:
    """`text` broken at spaces into lines of at most `room` columns (a word longer than that is
    cut); display columns, not characters."""
    lines: list[str] = []
    line = ""
    for word in text.split():
        if line and cells(line) + 1 + cells(word) > room:
            lines.append(line)
            line = ""
        line = f"{line} {word}" if line else cut(word, room)
    return [*lines, line] if line or not lines else lines


def paragraph(text: str, width: int | None) -> str:
    """A paragraph: wrapped to a terminal's width, whole in a pipe."""
    if width is None:
        return text + "\n"
    return "\n".join(wrap(text, width - 1)) + "\n"


def two_columns(rows: list[tuple[str, str]], width: int | None, *, indent: int = 2, widest: int = 28) -> str:
    """Rows of `name  description`: the names in a column as wide as the widest (at most
    `widest`, and a third of a terminal); on a terminal each description is wrapped under its
    column, and a name too long for the column has its description on the next line."""
    if not rows:
        return ""
    column = min(max(cells(name) for name, _ in rows), widest)
    if width is not None:
        column = min(column, max(8, (width - indent) // 3))
    lead = " " * indent
    out = []
    for name, text in rows:
        if width is None:
            out.append(f"{lead}{pad(name, column)}  {text}".rstrip() + "\n")
            continue
        room = max(10, width - 1 - indent - column - 2)
        lines = wrap(text, room) if text else [""]
        shown = cut(name, width - 1 - indent)
        if cells(shown) > column:
            out.append(f"{lead}{shown}\n")
            out.extend(f"{lead}{' ' * column}  {line}\n" for line in lines)
            continue
        out.append(f"{lead}{pad(shown, column)}  {lines[0]}".rstrip() + "\n")
        out.extend(f"{lead}{' ' * column}  {line}\n" for line in lines[1:])
    return "".join(out)


def words(names: list[str], width: int | None, *, indent: int = 2) -> str:
    """Names one after the other, on as many lines as a terminal needs (80 columns in a pipe)."""
    room = (width or 81) - 1 - indent
    lines = wrap(" ".join(names), room)
    return "".join(" " * indent + line + "\n" for line in lines)
