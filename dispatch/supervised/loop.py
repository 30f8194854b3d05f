"""The one poll loop of a supervised run, and the pipes it waits on.

Every phase (handshake, relay, conversation, the drain after exit) waits in the same loop,
so the host never blocks on one pipe while the plugin waits on another. Process, signal and
timer events (dispatch/supervised/supervisor.py), room in the pipe to the plugin, and the
events a conversation registers a handler for (the terminal's answer to a question, a call's
output) are handled here; the caller gets the events that are its own (the plugin's stdout,
the user's stdin).

`Link` is the host's ends of a supervised child's pipes and their registrations in the
loop's poller: the one place they are written, read and closed. Writes never block: what the
pipe cannot take now waits in a queue and goes out when the poller says there is room. The
queue is bounded: a protocol plugin that stops reading its stdin while the host has answers
for it cannot make the host's memory grow without end.
"""
from __future__ import annotations

import os

from dispatch.process import poller as events
from dispatch.process.poller import READ, WRITE, read
from protocol.errors import ProtocolError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable

    from dispatch.process.poller import Poller, Tag
    from dispatch.process.spawn import Child
    from dispatch.supervised.supervisor import Supervisor

# What may wait for a plugin that does not read its stdin: a generous multiple of any answer
# (a read_input response is at most 1 MiB of data, 1.4 MiB as base64).
MAX_QUEUED = 16 << 20


class Broken(Exception):
    """The plugin closed its stdin (or exited) while the host was writing to it: the pipe is
    closed, and `unread` bytes it was sent never reached it."""

    def __init__(self, unread: int) -> None:
        super().__init__(f"{unread} bytes unread")
        self.unread = unread


class Link:
    __slots__ = ("child", "poller", "queue", "max_queued")

    def __init__(self, child: Child, poller: Poller, *, stdout_tag: Tag = events.STDOUT, max_queued: int = MAX_QUEUED) -> None:
        self.child = child
        self.poller = poller
        self.queue = bytearray()
        self.max_queued = max_queued
        if child.stdin is not None:
            os.set_blocking(child.stdin, False)
        if child.stdout is not None:
            poller.register(child.stdout, READ, stdout_tag)
        if child.stderr is not None:
            poller.register(child.stderr, READ, events.STDERR)

    @property
    def stdin_open(self) -> bool:
        return self.child.stdin is not None

    @property
    def stdout_open(self) -> bool:
        return self.child.stdout is not None

    @property
    def stdout(self) -> int | None:
        return self.child.stdout

    @property
    def stderr_open(self) -> bool:
        return self.child.stderr is not None

    def send(self, data: bytes, *, bounded: bool = True) -> None:
        """Write `data` to the plugin's stdin, now or when there is room; Broken when the
        plugin closed it (the pipe is closed here then). With `bounded`, a plugin that lets
        more than `max_queued` bytes wait is a protocol error: it stopped reading."""
        if self.child.stdin is None:
            return
        self.queue += data
        if bounded and len(self.queue) > self.max_queued:
            self.queue.clear()
            raise ProtocolError(
                f"it stopped reading its stdin: more than {self.max_queued >> 20} MiB of messages from the host "
                f"were waiting for it (a protocol plugin must keep reading its stdin until EOF)"
            )
        self.flush()

    def flush(self) -> None:
        """Write what is queued without blocking; wait for room (WRITE) otherwise."""
        fd = self.child.stdin
        if fd is None:
            self.queue.clear()
            return
        try:
            n = os.write(fd, self.queue) if self.queue else 0
        except BlockingIOError:
            n = 0
        except BrokenPipeError:
            unread = len(self.queue)
            self.close_stdin()
            raise Broken(unread) from None
        del self.queue[:n]
        registered = self.poller.registered(fd)
        if self.queue and not registered:
            self.poller.register(fd, WRITE, events.PLUGIN_STDIN)
        elif not self.queue and registered:
            self.poller.unregister(fd)

    def read(self, n: int) -> bytes:
        """Up to `n` bytes of the plugin's stdout; b"" at its end (and the pipe is closed)."""
        fd = self.child.stdout
        if fd is None:
            return b""
        data = read(fd, n)
        if not data:
            self.close_stdout()
        return data

    def read_stderr(self, n: int) -> bytes:
        """Up to `n` bytes of the plugin's stderr (relayed by the host); b"" at its end."""
        fd = self.child.stderr
        if fd is None:
            return b""
        data = read(fd, n)
        if not data:
            self.poller.unregister(fd)
            self.child.close_stderr()
        return data

    def unread(self) -> int:
        """Bytes sent to the plugin's stdin that it has not read: queued here, or in the pipe."""
        return len(self.queue) + _pipe_unread(self.child.stdin)

    def close_stdin(self) -> None:
        fd = self.child.stdin
        if fd is not None:
            self.poller.unregister(fd)
            self.child.close_stdin()
        self.queue.clear()

    def close_stdout(self) -> None:
        fd = self.child.stdout
        if fd is not None:
            self.poller.unregister(fd)
            self.child.close_stdout()

    def close(self) -> None:
        self.close_stdin()
        self.close_stdout()
        fd = self.child.stderr
        if fd is not None:
            self.poller.unregister(fd)
            self.child.close_stderr()


def _pipe_unread(fd: int | None) -> int:
    """Bytes written into a pipe and not yet read from it."""
    if fd is None:
        return 0
    try:
        import array
        import fcntl
        import termios

        buf = array.array("i", [0])
        fcntl.ioctl(fd, termios.FIONREAD, buf)
        return buf[0]
    except (OSError, ImportError):
        return 0


class Loop:
    __slots__ = ("poller", "sup", "link", "handlers", "after", "on_broken")

    def __init__(self, poller: Poller, sup: Supervisor, link: Link) -> None:
        self.poller = poller
        self.sup = sup
        self.link = link
        self.handlers: dict[Tag, Callable[[int], None]] = {}  # events handled here for the conversation
        self.after: Callable[[], None] | None = None  # after each wait: what the session checks
        self.on_broken: Callable[[Broken], None] | None = None  # the plugin closed its stdin mid-write

    def wait(self, timeout: float | None) -> list[tuple[Tag, int]]:
        """Block until something happens (at most `timeout` seconds, shortened by the
        supervisor's timers); handle what is the loop's; return the caller's own events."""
        ready: list[tuple[Tag, int]] = []
        for tag, fd in self.poller.select(self.sup.wait_time(timeout)):
            if tag in (events.EXIT, events.SIGNAL):
                self.sup.handle(tag)
            elif tag == events.PLUGIN_STDIN:
                self.flush()
            elif tag in self.handlers:
                self.handlers[tag](fd)
            else:
                ready.append((tag, fd))
        self.sup.tick()
        if self.after is not None:
            self.after()
        return ready

    def drain_stderr(self, quiet: float, until: float) -> None:
        """After the plugin exited: what is left of its stderr, relayed, until it is quiet for
        `quiet` seconds or it is `until` (a grandchild may hold the pipe open)."""
        import select
        import time

        while self.link.stderr_open and (left := until - time.monotonic()) > 0:
            fd = self.link.child.stderr
            assert fd is not None
            if not select.select([fd], [], [], min(quiet, left))[0]:
                return
            self.handlers[events.STDERR](fd)

    def flush(self) -> None:
        """Write what waits for the plugin; a plugin that closed its stdin is the caller's to handle."""
        try:
            self.link.flush()
        except Broken as e:
            if self.on_broken is not None:
                self.on_broken(e)
