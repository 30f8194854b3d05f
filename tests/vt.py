"""A small terminal emulator for tests: what a person would see after the bytes a program wrote
to a terminal (cursor moves, line erases, wrapping at the width, wide characters), so that a
test can say "no stale progress line is left" or "these columns are aligned" about the screen,
not about the bytes."""
from __future__ import annotations

import codecs
import re

from protocol.width import char_cells

_CSI = re.compile(rb"\x1b\[([0-9;?]*)([@-~])")


class Screen:
    def __init__(self, cols: int) -> None:
        self.cols = cols
        self.lines: list[list[str]] = [[]]
        self.row = 0
        self.col = 0
        self._decoder = codecs.getincrementaldecoder("utf-8")("replace")

    def feed(self, data: bytes) -> Screen:
        i = 0
        while i < len(data):
            if data[i] == 0x1B:
                m = _CSI.match(data, i)
                if m:
                    self._csi(m.group(1).decode(), m.group(2).decode())
                    i = m.end()
                    continue
                i += 2  # another escape: ignored
                continue
            j = i
            while j < len(data) and data[j] != 0x1B:
                j += 1
            for ch in self._decoder.decode(data[i:j]):
                self._char(ch)
            i = j
        return self

    def _line(self) -> list[str]:
        while len(self.lines) <= self.row:
            self.lines.append([])
        line = self.lines[self.row]
        while len(line) < self.col:
            line.append(" ")
        return line

    def _char(self, ch: str) -> None:
        if ch == "\r":
            self.col = 0
        elif ch == "\n":
            self.row += 1
        elif ch == "\b":
            self.col = max(0, self.col - 1)
        elif ch == "\t":
            self.col = min(self.cols - 1, (self.col // 8 + 1) * 8)
        elif ch >= " " or ch == "\x7f":
            width = char_cells(ch)
            if width == 0:
                return
            if self.col + width > self.cols:  # autowrap
                self.row += 1
                self.col = 0
            line = self._line()
            cells = [ch] + [""] * (width - 1)
            line[self.col : self.col + width] = cells
            self.col += width

    def _csi(self, params: str, final: str) -> None:
        n = int(params) if params.isdigit() else None
        if final == "K":
            line = self._line()
            if n == 2:
                line.clear()
            elif n == 1:
                line[: self.col + 1] = [" "] * min(len(line), self.col + 1)
            else:
                del line[self.col :]
        elif final == "A":
            self.row = max(0, self.row - (n or 1))
        elif final == "B":
            self.row += n or 1
        elif final == "C":
            self.col = min(self.cols - 1, self.col + (n or 1))
        elif final == "D":
            self.col = max(0, self.col - (n or 1))
        elif final == "J" and n == 2:
            self.lines = [[]]
            self.row = self.col = 0
        # colours and modes (m, h, l ...) change nothing this emulator shows

    def text(self) -> list[str]:
        """The screen's lines, trailing blanks removed, and the trailing empty lines."""
        out = ["".join(line).rstrip() for line in self.lines]
        while out and not out[-1]:
            out.pop()
        return out


def screen(data: bytes, cols: int = 80) -> list[str]:
    """The lines a terminal `cols` wide shows after `data` (as written to a pty: \\r\\n line ends)."""
    return Screen(cols).feed(data).text()
