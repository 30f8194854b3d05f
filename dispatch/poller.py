"""A minimal poll(2) loop helper: fds tagged with names, waited on together.

The stdlib `selectors` module costs more to import than this whole session
needs (it pulls in collections.abc and friends); `select.poll` is a C module
already loaded with the interpreter's extension modules, and unlike epoll it
accepts regular files and /dev/null (a user's stdin can be either).
"""
from __future__ import annotations

import select

READ = select.POLLIN
WRITE = select.POLLOUT


class Poller:
    __slots__ = ("_poll", "_tags")

    def __init__(self) -> None:
        self._poll = select.poll()
        self._tags: dict[int, str] = {}

    def register(self, fd: int, events: int, tag: str) -> None:
        self._poll.register(fd, events)
        self._tags[fd] = tag

    def unregister(self, fd: int) -> None:
        if self._tags.pop(fd, None) is not None:
            self._poll.unregister(fd)

    def registered(self, fd: int) -> bool:
        return fd in self._tags

    def select(self, timeout: float | None) -> list[str]:
        """The tags of the fds that are ready (readable, writable, or at EOF/error) within `timeout` s."""
        ms = None if timeout is None else max(0, int(timeout * 1000 + 0.999))
        tags = self._tags
        return [tags[fd] for fd, _ in self._poll.poll(ms) if fd in tags]

    def close(self) -> None:
        for fd in list(self._tags):
            self.unregister(fd)
