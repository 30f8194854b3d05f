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


class Handover:
    """The terminal given to a plugin's process group, as a shell gives it to a job: which
    descriptor it is, and its settings then (put back if the job is killed, as shells do)."""

    __slots__ = ("fd", "attrs")

    def __init__(self, fd: int, attrs: list[Any] | None) -> None:
        self.fd = fd
        self.attrs = attrs


def hand_over(pgid: int, fd: int | None = None) -> Handover | None:
    """Make `pgid` the foreground group of the terminal the host owns (fd 0, 1 or 2, or `fd`)."""
    candidates = [c for c in ((fd,) if fd is not None else (0, 1, 2)) if owned(c)]
    if not candidates:
        return None  # no terminal (a script, CI): termios is not even imported
    import termios

    for cand in candidates:
        try:
            attrs = termios.tcgetattr(cand)
        except (termios.error, OSError):
            attrs = None
        try:
            with _no_ttou():
                os.tcsetpgrp(cand, pgid)
        except OSError:
            continue
        return Handover(cand, attrs)
    return None


def take_back(handover: Handover, *, restore_modes: bool) -> bool:
    """The host's group in the foreground again; with `restore_modes`, the settings too (a
    program killed in raw mode cannot put them back itself). Whether settings had to be put
    back (the program left the terminal otherwise than it found it)."""
    try:
        with _no_ttou():
            os.tcsetpgrp(handover.fd, os.getpgrp())
    except OSError:
        return False
    if not restore_modes or handover.attrs is None:
        return False
    import termios

    try:
        changed = termios.tcgetattr(handover.fd) != handover.attrs
    except (termios.error, OSError):
        changed = False
    if changed:
        restore(handover.fd, handover.attrs)
    return changed


class _no_ttou:
    """tcsetpgrp from a background group would stop the host with SIGTTOU: block it meanwhile."""

    def __enter__(self) -> None:
        import _signal

        _signal.pthread_sigmask(_signal.SIG_BLOCK, {_signal.SIGTTOU})

    def __exit__(self, *exc: object) -> None:
        import _signal

        _signal.pthread_sigmask(_signal.SIG_UNBLOCK, {_signal.SIGTTOU})
