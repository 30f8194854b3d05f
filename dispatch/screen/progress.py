"""Live progress lines on a terminal's stderr: one per progress `id` (several at once), each
cleared when its plugin says it is `done`, all cleared before anything else is written.

A terminal needs no more than 20 redraws a second, so updates in between are held back and
drawn by the next redraw (the session wakes for it: `due_in`, `tick`); the last state of a
line (done, or current = total) is drawn at once.
"""
from __future__ import annotations

import time

from dispatch.screen.text import to_utf8, visible, write_all
from protocol.width import columns

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping

_MIN_INTERVAL = 0.05
_MAX_LINES = 8  # more ids at once than this are summed up in the last line


class Progress:
    def __init__(self, env: Mapping[str, str]) -> None:
        self.env = env
        self.lines: dict[str, str] = {}  # id -> its text, in the order first seen
        self.shown = 0  # how many lines are on the screen now
        self.drawn_at = 0.0
        self.behind = False  # an update is not on the screen yet

    def update(self, msg: Mapping[str, object]) -> None:
        key = str(msg.get("id") or "")
        current, total = msg.get("current"), msg.get("total")
        final = bool(msg.get("done")) or (current is not None and current == total)
        if msg.get("done"):
            self.lines.pop(key, None)
        else:
            self.lines[key] = _text(msg)
        if time.monotonic() - self.drawn_at < _MIN_INTERVAL and not final:
            self.behind = True
            return
        self._draw()

    def due_in(self) -> float | None:
        """Seconds until a held-back update is due on the screen; None when none is."""
        if not self.behind:
            return None
        return max(0.0, self.drawn_at + _MIN_INTERVAL - time.monotonic())

    def tick(self) -> None:
        if self.behind and time.monotonic() - self.drawn_at >= _MIN_INTERVAL:
            self._draw()

    def clear(self) -> None:
        """Take the lines off the screen (they come back with the next update)."""
        if self.shown:
            write_all(2, _erase(self.shown))
            self.shown = 0

    def _draw(self) -> None:
        self.drawn_at = time.monotonic()
        self.behind = False
        width = columns((2, 1), self.env)
        texts = list(self.lines.values())
        if len(texts) > _MAX_LINES:
            texts = [*texts[: _MAX_LINES - 1], f"... and {len(texts) - _MAX_LINES + 1} more"]
        data = _erase(self.shown) + "\n".join(t[: width - 1] for t in texts).encode()
        try:
            write_all(2, data)
        except OSError:
            return
        self.shown = len(texts)


def _erase(lines: int) -> bytes:
    """Erase the last `lines` lines drawn (the cursor is at the end of the last one)."""
    if not lines:
        return b""
    return b"\r\x1b[2K" + b"\x1b[1A\r\x1b[2K" * (lines - 1)


def _text(msg: Mapping[str, object]) -> str:
    text = visible(str(msg.get("message") or ""))
    current, total = msg.get("current"), msg.get("total")
    if current is not None and total:
        text += f" {_num(current)}/{_num(total)}{_percent(current, total)}"
    elif current is not None:
        text += f" {_num(current)}"
    return to_utf8(text).decode("utf-8")


def _num(value: object) -> str:
    if isinstance(value, float):
        return f"{value:.0f}" if value.is_integer() and abs(value) < 1e15 else f"{value:g}"
    return str(value)


def _percent(current: object, total: object) -> str:
    """" (42%)" for numbers that make sense (any size, without overflow), else nothing."""
    try:
        ratio = float(current) / float(total)  # type: ignore[arg-type]
    except (TypeError, ValueError, ZeroDivisionError, OverflowError):
        return ""
    if not 0 <= ratio <= 1e6:
        return ""
    return f" ({int(100 * ratio)}%)"
