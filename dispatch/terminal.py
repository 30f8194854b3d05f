"""The user's terminal while a plugin runs on a pseudo-terminal: quiet, raw, restored."""
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


def quiet(fd: int = 0) -> list[Any] | None:
    """No echo, no line editing (Ctrl-C still signals): keys typed ahead wait, unechoed, for
    whoever turns out to want them. Returns the settings to restore, or None."""
    import termios

    if not owned(fd):
        return None
    try:
        attrs = termios.tcgetattr(fd)
        changed = list(attrs)
        changed[3] = attrs[3] & ~(termios.ECHO | termios.ICANON)
        termios.tcsetattr(fd, termios.TCSANOW, changed)
        return attrs
    except (termios.error, OSError):
        return None


def raw(fd: int) -> None:
    import termios
    import tty

    # TCSANOW, not tty's default TCSAFLUSH: keys typed ahead must not be lost.
    tty.setraw(fd, termios.TCSANOW)


def restore(fd: int, attrs: list[Any] | None) -> None:
    import termios

    if attrs is None:
        return
    try:
        termios.tcsetattr(fd, termios.TCSADRAIN, attrs)
    except (termios.error, OSError):
        pass


def copy_size(to_fd: int) -> None:
    """Give the pty `to_fd` the window size of the user's terminal."""
    import fcntl
    import termios

    for fd in (1, 0, 2):
        try:
            size = fcntl.ioctl(fd, termios.TIOCGWINSZ, b"\0" * 8)
            fcntl.ioctl(to_fd, termios.TIOCSWINSZ, size)
            return
        except OSError:
            continue
