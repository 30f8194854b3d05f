"""`record` messages as an aligned table on a terminal, rows written as they arrive.

The rules (docs/protocol.md, "Records on a terminal"):
- Columns are the keys of the first rows, in the order they first appear; the first rows are
  held back briefly (SAMPLE_ROWS rows or SAMPLE_TIME seconds, whichever comes first) to size
  them. A key first seen later gets a column at the right from then on, and the header is
  written again above that row.
- A column is as wide as its widest cell so far (header included), in display columns (a
  wide character takes two). A later, wider cell widens its column for its row and those
  after it; rows already written are not drawn again.
- A column whose values are all numbers is aligned right, and a number is never cut.
- A row wider than the terminal has its widest other cells cut with an ellipsis, each down to
  MIN_CUT columns at most, until it fits (a row of numbers alone may still wrap).
Memory stays bounded: only the first rows are ever held.
"""
from __future__ import annotations

import time

from dispatch.screen.text import visible
from protocol.width import cells, cut

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

SAMPLE_ROWS = 20  # rows held back to size the columns
SAMPLE_TIME = 0.2  # ... or for at most this long after the first one
MIN_CUT = 8  # a cut cell keeps at least this many columns (or its header's width)
_GAP = "  "


class Table:
    def __init__(self, width: int) -> None:
        self.width = max(20, width)
        self.sample: list[Mapping[str, object]] = []
        self.first_at = 0.0
        self.columns: list[str] = []
        self.widths: list[int] = []
        self.numeric: list[bool] = []  # columns of numbers, aligned right
        self.started = False
        self._fitted: list[int] | None = None  # the widths cut to the terminal, until they change

    def add(self, row: Mapping[str, object]) -> str:
        """Text to write now (maybe none: the row is held to size the columns)."""
        if self.started:
            return self._row(row)
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
        """Fix the first columns from the rows held, and write the header and those rows."""
        if self.started or not self.sample:
            return ""
        held, self.sample = self.sample, []
        self.started = True
        for row in held:
            self._take(row)
        return self._header() + "".join(self._line(row) for row in held)

    def _row(self, row: Mapping[str, object]) -> str:
        """One row after the first ones: a new key first adds its column (and the header again)."""
        new_keys = self._take(row)
        return (self._header() if new_keys else "") + self._line(row)

    def _take(self, row: Mapping[str, object]) -> bool:
        """Widen the columns for `row` (adding those of its new keys); whether it had any."""
        added = False
        for key, value in row.items():
            if key not in self.columns:
                self.columns.append(key)
                self.widths.append(cells(_cell(key).upper()))
                self.numeric.append(True)
                added = True
            i = self.columns.index(key)
            if value is not None and self.numeric[i] and not _is_number(value):
                self.numeric[i] = False  # from this row on: text, aligned left
                self._fitted = None
            wide = cells(_cell(value))
            if wide > self.widths[i]:
                self.widths[i] = wide
                self._fitted = None
        if added:
            self._fitted = None
        return added

    def _header(self) -> str:
        return self._line({name: name.upper() for name in self.columns}, header=True)

    def _line(self, row: Mapping[str, object], *, header: bool = False) -> str:
        if self._fitted is None:
            self._fitted = _fit(list(self.widths), [cells(_cell(k).upper()) for k in self.columns], self.numeric, self.width)
        widths = self._fitted
        out = []
        for name, width, number in zip(self.columns, widths, self.numeric):
            text = _cell(row.get(name))
            if not (number and not header):
                text = cut(text, width)
            pad = " " * max(0, width - cells(text))
            out.append(pad + text if number else text + pad)
        return _GAP.join(out).rstrip() + "\n"


def _fit(widths: list[int], headers: Sequence[int], numeric: Sequence[bool], room: int) -> list[int]:
    """The widths cut so that a row fits `room` columns: the widest column that is not numbers
    loses a column at a time, none below its floor (MIN_CUT, or its header's width)."""
    total = sum(widths) + len(_GAP) * (len(widths) - 1)
    while total > room:
        cuttable = [i for i, w in enumerate(widths) if not numeric[i] and w > max(MIN_CUT, headers[i])]
        if not cuttable:
            break
        widest = max(cuttable, key=lambda i: widths[i])
        widths[widest] -= 1
        total -= 1
    return widths


def _is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


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
