"""Waiting for file descriptors (each registered with what it is, a `Tag`, waited on together)
and reading them.

The stdlib `selectors` module costs more to import than this whole session
needs (it pulls in collections.abc and friends); `select` is a C module.
poll(2) is used where it works for everything: unlike epoll it accepts
regular files and /dev/null (a user's stdin can be either). On macOS, whose
poll(2) does not handle terminals, select(2) is used instead.
"""
from __future__ import annotations

import errno
import os
import select
import sys

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Final, Literal

    Tag = Literal["stdout", "stderr", "plugin-stdin", "user-stdin", "tty", "call", "exit", "signal"]

_MAX_MS = 2**31 - 1
READ = select.POLLIN
WRITE = select.POLLOUT

# What a ready descriptor is, for the loop that waits on it.
STDOUT: Final = "stdout"  # the plugin's stdout: messages or plain output
STDERR: Final = "stderr"  # the plugin's stderr, when the host relays it
PLUGIN_STDIN: Final = "plugin-stdin"  # room in the pipe to the plugin's stdin
USER_STDIN: Final = "user-stdin"  # the user's stdin: relayed, or read for `read_input`
TTY: Final = "tty"  # the terminal, with the answer to a question
CALL: Final = "call"  # the output of a command run on a plugin's behalf
EXIT: Final = "exit"  # the plugin exited (its pidfd)
SIGNAL: Final = "signal"  # a signal arrived (the wakeup pipe)


class Poller:
    __slots__ = ("_poll", "_tags", "_events")

    def __init__(self, platform: str = sys.platform) -> None:
        self._poll = select.poll() if platform != "darwin" else None
        self._tags: dict[int, Tag] = {}
        self._events: dict[int, int] = {}

    def register(self, fd: int, events: int, tag: Tag) -> None:
        if self._poll is not None:
            self._poll.register(fd, events)
        self._tags[fd] = tag
        self._events[fd] = events

    def unregister(self, fd: int) -> None:
        if self._tags.pop(fd, None) is not None:
            self._events.pop(fd, None)
            if self._poll is not None:
                self._poll.unregister(fd)

    def registered(self, fd: int) -> bool:
        return fd in self._tags

    def select(self, timeout: float | None) -> list[tuple[Tag, int]]:
        """(tag, fd) of the descriptors that are ready (readable, writable, or at EOF/error)
        within `timeout` seconds."""
        tags = self._tags
        if self._poll is not None:
            # Capped at poll(2)'s int: a longer wait just wakes up early and is asked again.
            ms = None if timeout is None else min(_MAX_MS, max(0, int(timeout * 1000 + 0.999)))
            return [(tags[fd], fd) for fd, _ in self._poll.poll(ms) if fd in tags]
        readers = [fd for fd, ev in self._events.items() if ev & READ]
        writers = [fd for fd, ev in self._events.items() if ev & WRITE]
        r, w, _ = select.select(readers, writers, [], None if timeout is None else min(_MAX_MS / 1000, max(0.0, timeout)))
        return [(tags[fd], fd) for fd in {*r, *w} if fd in tags]

    def close(self) -> None:
        for fd in list(self._tags):
            self.unregister(fd)


def read(fd: int, n: int) -> bytes:
    """Up to n bytes from fd; b"" at its end (or when a terminal went away: EIO)."""
    while True:
        try:
            return os.read(fd, n)
        except InterruptedError:
            continue
        except BlockingIOError:
            select.select([fd], [], [])  # a non-blocking fd shared with another process: wait for it
        except OSError as e:
            if e.errno in (errno.EIO, errno.EBADF):
                return b""
            raise


def is_open(fd: int) -> bool:
    try:
        os.fstat(fd)
        return True
    except OSError:
        return False
