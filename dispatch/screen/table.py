"""`record` messages as an aligned table on a terminal: the columns and their widths come
from the first rows (kept back briefly), then every row is written as it arrives, cut to the
terminal's width. Memory stays bounded: only the first rows are ever held."""
from __future__ import annotations

import time

from dispatch.screen.text import visible

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping

SAMPLE_ROWS = 20  # rows held back to size the columns
SAMPLE_TIME = 0.2  # ... or for at most this long after the first one
_MIN_WIDTH = 3


class Table:
    def __init__(self, width: int) -> None:
        self.width = max(20, width)
        self.sample: list[Mapping[str, object]] = []
        self.first_at = 0.0
        self.columns: list[str] | None = None
        self.widths: list[int] = []
        self.numeric: list[bool] = []  # columns of numbers, aligned right

    def add(self, row: Mapping[str, object]) -> str:
        """Text to write now (maybe none: the row is held to size the columns)."""
        if self.columns is not None:
            return self._line(row)
        if not self.sample:
            self.first_at = time.monotonic()
        self.sample.append(row)
        return self.settle() if len(self.sample) >= SAMPLE_ROWS else ""

    def due_in(self) -> float | None:
        """Seconds until the rows held must be written, even if fewer than the sample; None when
        none are held."""
        if not self.sample:
            return None
        return max(0.0, self.first_at + SAMPLE_TIME - time.monotonic())

    def settle(self) -> str:
        """Fix the columns from the rows held, and write the header and those rows."""
        if self.columns is not None or not self.sample:
            return ""
        columns: dict[str, None] = {}
        for row in self.sample:
            columns.update(dict.fromkeys(row))
        self.columns = list(columns)
        widths = [max([len(_cell(name))] + [len(_cell(row.get(name))) for row in self.sample]) for name in self.columns]
        while sum(widths) + 2 * (len(widths) - 1) > self.width and max(widths, default=0) > _MIN_WIDTH:
            widest = widths.index(max(widths))
            widths[widest] -= 1
        self.widths = widths
        self.numeric = [_numeric([row.get(name) for row in self.sample]) for name in self.columns]
        header = {name: name.upper() for name in self.columns}
        text = self._line(header) + "".join(self._line(row) for row in self.sample)
        self.sample = []
        return text

    def _line(self, row: Mapping[str, object]) -> str:
        assert self.columns is not None
        cells = []
        for name, width in zip(self.columns, self.widths):
            cell = _cell(row.get(name))
            cells.append(cell if len(cell) <= width else cell[: width - 1] + "\u2026")
        return "  ".join(f"{c:>{w}}" if num else f"{c:<{w}}" for c, w, num in zip(cells, self.widths, self.numeric)).rstrip() + "\n"


def _numeric(values: list[object]) -> bool:
    present = [v for v in values if v is not None]
    return bool(present) and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in present)


def _cell(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        text = value
    elif isinstance(value, bool):
        text = "true" if value else "false"
    elif isinstance(value, (int, float)):
        text = str(value)
    else:
        from protocol.framing import dumps

        text = dumps(value)
    return visible(" ".join(text.split()) if "\n" in text or "\t" in text else text)
