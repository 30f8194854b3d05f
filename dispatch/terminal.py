"""The user's terminal: whether a stream is one, whether the host may use it, echo for secrets."""
from __future__ import annotations

import os

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any


def isatty(fd: int) -> bool:
    try:
        return os.isatty(fd)
    except OSError:
        return False


def owned(fd: int = 0) -> bool:
    """A terminal this process may read and change: a tty whose foreground is our process group."""
    try:
        return os.isatty(fd) and os.tcgetpgrp(fd) == os.getpgrp()
    except OSError:
        return False


def may_read(fd: int = 0) -> bool:
    """False for a terminal we do not own: reading it from the background would stop the host (SIGTTIN)."""
    return not isatty(fd) or owned(fd)


def echo(fd: int, on: bool) -> list[Any] | None:
    """Turn the terminal's echo on or off (a secret prompt); the settings to restore, or None."""
    import termios

    try:
        attrs = termios.tcgetattr(fd)
        changed = list(attrs)
        changed[3] = (attrs[3] | termios.ECHO) if on else (attrs[3] & ~termios.ECHO)
        # TCSANOW, not TCSAFLUSH: keys typed ahead must not be lost.
        termios.tcsetattr(fd, termios.TCSANOW, changed)
        return attrs
    except (termios.error, OSError):
        return None


def restore(fd: int, attrs: list[Any] | None) -> None:
    import termios

    if attrs is None:
        return
    try:
        termios.tcsetattr(fd, termios.TCSANOW, attrs)
    except (termios.error, OSError):
        pass
