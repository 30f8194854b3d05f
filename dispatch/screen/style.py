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

__all__ = ["ELLIPSIS", "Style", "cells", "columns", "cut", "cut_path", "pad"]
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
