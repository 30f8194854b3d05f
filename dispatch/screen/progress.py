"""Live progress lines on a terminal's stderr: one per progress `id` (several at once), each
cleared when its plugin says it is `done`, all cleared before anything else is written and
drawn again after it.

What a person sees (docs/protocol.md, "Progress on a terminal"):
- A line never wraps: it is cut to the terminal's width as it is now (a resized window is
  followed), in display columns, the message losing its end before the counter does.
- Nothing is drawn while the host is not the terminal's foreground job (`tool x &`, or after
  Ctrl-Z and `bg`): the lines come back when it is brought to the foreground.
- Only a job of its own draws: the host leads its process group, as a command the shell started
  does (alone, or first in a pipeline). Runs that share a job share its terminal too
  (`xargs -P4 -o tool x`, `sh -c 'tool a & tool b'`), where one's progress line would take in
  another's output and erase it: they draw none (their output and logs are shown as usual).
- A terminal needs no more than 20 redraws a second: updates in between are held back and
  drawn by the next redraw (the session wakes for it: `due_in`, `tick`); the last state of a
  line (done, or current = total) is drawn at once.
"""
from __future__ import annotations

import os
import time

from dispatch.process import terminal
from dispatch.screen.text import to_utf8, visible, write_all
from protocol.width import cells, columns, cut

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping

_MIN_INTERVAL = 0.05
_MAX_LINES = 8  # more ids at once than this are summed up in the last line


class Progress:
    def __init__(self, env: Mapping[str, str], fd: int = 2) -> None:
        self.env = env
        self.fd = fd
        self.lines: dict[str, tuple[str, str]] = {}  # id -> (message, counter), in the order first seen
        self.shown = 0  # how many lines are on the screen now
        self.drawn_at = 0.0
        self.behind = False  # an update is not on the screen yet
        self.enabled = os.getpgrp() == os.getpid()  # a job of its own: nobody else's lines to erase
        self.held = False  # not drawn for now: the plugin's own stderr is in the middle of a line

    def update(self, msg: Mapping[str, object]) -> None:
        if not self.enabled:
            return
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
        self.draw()

    def due_in(self) -> float | None:
        """Seconds until a held-back update is due on the screen; None when none is."""
        if not self.behind:
            return None
        return max(0.0, self.drawn_at + _MIN_INTERVAL - time.monotonic())

    def tick(self) -> None:
        if self.behind and time.monotonic() - self.drawn_at >= _MIN_INTERVAL:
            self.draw()

    def clear(self) -> None:
        """Take the lines off the screen (`draw` puts them back)."""
        if self.shown:
            shown, self.shown = self.shown, 0
            try:
                write_all(self.fd, _erase(shown))
            except OSError:
                pass

    def draw(self) -> None:
        """The lines as they are now, in place of those on the screen; nothing in the background."""
        self.drawn_at = time.monotonic()
        self.behind = False
        if not self.enabled or self.held or not terminal.owned(self.fd):
            if self.lines:
                self.behind = True  # drawn again when the host is in the foreground
            return
        width = columns((self.fd,), self.env)
        texts = [_fitted(message, counter, width - 1) for message, counter in self.lines.values()]
        if len(texts) > _MAX_LINES:
            texts = [*texts[: _MAX_LINES - 1], f"... and {len(texts) - _MAX_LINES + 1} more"]
        data = _erase(self.shown) + "\n".join(texts).encode()
        try:
            write_all(self.fd, data)
        except OSError:
            return
        self.shown = len(texts)

    def close(self) -> None:
        self.clear()


def _erase(lines: int) -> bytes:
    """Erase the last `lines` lines drawn (the cursor is at the end of the last one)."""
    if not lines:
        return b""
    return b"\r\x1b[2K" + b"\x1b[1A\r\x1b[2K" * (lines - 1)


def _fitted(message: str, counter: str, room: int) -> str:
    """The line in `room` columns: the message cut first, then the counter."""
    if not counter:
        return cut(message, room)
    if cells(counter) + 1 >= room:
        return cut(counter, room)
    return cut(message, room - cells(counter) - 1) + " " + counter if message else cut(counter, room)


def _text(msg: Mapping[str, object]) -> tuple[str, str]:
    message = to_utf8(visible(" ".join(str(msg.get("message") or "").split()))).decode("utf-8")
    current, total = msg.get("current"), msg.get("total")
    counter = ""
    if current is not None and total:
        counter = f"{_num(current)}/{_num(total)}{_percent(current, total)}"
    elif current is not None:
        counter = _num(current)
    return message, counter


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
