"""A plugin relayed as a plain program: its stdout's bytes to the user's stdout (wrapped as
`output` messages under --json), the user's stdin to its stdin, until it exits; its status
is passed through. Used for plain plugins whose stdout the host must see (`--json`,
`--max-output`) and for declared plugins that did not greet.

A declared plugin that was silent for the whole handshake window has its first line held
back until it is clear that it is not a late hello (a protocol plugin that greeted too slowly
is a protocol error, said so, rather than its hello shown to the user).
"""
from __future__ import annotations

import os
import time

from dispatch.process import poller as events
from dispatch.process.poller import READ, read
from dispatch.process.terminal import may_read
from dispatch.supervised.loop import Broken
from protocol import framing
from protocol.errors import ProtocolError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from dispatch.screen.render import Renderer
    from dispatch.supervised.loop import Loop

_CHUNK = 1 << 20
# The user's stdin in small chunks, so that little is in flight when the plugin exits (and
# what is, is given back to a seekable stdin).
_STDIN_CHUNK = 4096
_DRAIN_QUIET = 0.1  # after the plugin exits: stop reading once its stdout is quiet this long
_DRAIN_MAX = 2.0  # ... or after this long in all (a grandchild may hold the pipe open)


class Relay:
    def __init__(
        self, loop: Loop, render: Renderer, *, window: float, user_stdin_open: bool, buf: bytes = b"",
        watch_late_hello: bool = False,
    ) -> None:
        self.loop = loop
        self.link = loop.link
        self.render = render
        self.window = window
        self.user_stdin_open = user_stdin_open
        self.buf = buf
        self.held: bytes | None = b"" if watch_late_hello else None
        self.relaying = False  # the user's stdin is being copied to the plugin's
        self.user_eof = False

    def run(self) -> int:
        """Relay until the plugin exits; its status."""
        if self.buf:
            self._emit(self.buf)
        loop = self.loop
        self.relaying = self.user_stdin_open and self.link.stdin_open and may_read(0)
        if self.relaying:
            loop.poller.register(0, READ, events.USER_STDIN)
            loop.on_broken = self._stop_relay
        while loop.sup.status is None:
            # After the user's EOF, send EOF on once the plugin has emptied the pipe.
            waiting_to_close = self.user_eof and self.link.stdin_open
            for tag, _ in loop.wait(0.02 if waiting_to_close else None):
                if tag == events.STDOUT:
                    self._from_plugin(self.link.read(_CHUNK))
                elif tag == events.USER_STDIN:
                    self._from_user()
            if self.user_eof and self.link.stdin_open and self.link.unread() == 0:
                self.link.close_stdin()
            if self.relaying and not self.link.queue and self.user_stdin_open and not loop.poller.registered(0):
                loop.poller.register(0, READ, events.USER_STDIN)
        if self.relaying:
            self._stop_relay(None)
        self._drain()
        return loop.sup.status

    def _from_plugin(self, data: bytes) -> None:
        if self.held is not None:
            self.held += data
            if data and _undecided(self.held):
                return
            if data:
                self._check_late_hello(self.held)
            data, self.held = self.held, None
        if data:
            self._emit(data)

    def _from_user(self) -> None:
        chunk = read(0, _STDIN_CHUNK)
        self.loop.poller.unregister(0)  # again once the plugin has taken this chunk
        if not chunk:
            self.user_eof = True
            self.user_stdin_open = False
            return
        try:
            self.link.send(chunk, bounded=False)  # read only when the last chunk is gone: bounded as it is
        except Broken as e:
            self._stop_relay(e)

    def _emit(self, data: bytes) -> None:
        self.render.plain(data)
        self.render.flush()

    def _check_late_hello(self, held: bytes) -> None:
        if framing.is_hello(held.split(b"\n", 1)[0].rstrip(b"\r")):
            raise ProtocolError(
                f"it greeted after the {self.window:g} s handshake window; a protocol plugin "
                f"must send hello first thing, before any slow start-up"
            )

    def _stop_relay(self, broken: Broken | None) -> None:
        """The plugin is done with its stdin: what it never read goes back to the user's stdin."""
        self.relaying = False
        self.loop.on_broken = None
        self.loop.poller.unregister(0)
        unread = broken.unread if broken is not None else self.link.unread()
        self.link.close_stdin()
        if unread > 0:
            try:
                os.lseek(0, -unread, os.SEEK_CUR)
            except OSError:
                pass  # not seekable (a pipe, a terminal): the documented residual case

    def _drain(self) -> None:
        """After the plugin exited: read what is left (a held first line decided), but do not
        wait on a grandchild holding the pipe."""
        end = time.monotonic() + _DRAIN_MAX
        while self.link.stdout_open and time.monotonic() < end:
            if not any(tag == events.STDOUT for tag, _ in self.loop.wait(_DRAIN_QUIET)):
                break
            data = self.link.read(_CHUNK)
            if self.held is not None:
                self.held += data
                if data and _undecided(self.held):
                    continue
                data, self.held = self.held, None
                if data and not _undecided(data):
                    self._check_late_hello(data)
            if data:
                self._emit(data)
        if self.held:
            if not _undecided(self.held):
                self._check_late_hello(self.held)
            self._emit(self.held)
            self.held = None
        self.loop.drain_stderr(_DRAIN_QUIET, end)


def _undecided(held: bytes) -> bool:
    """Whether the output so far could still be the start of a hello line."""
    return held.startswith(b"{") and b"\n" not in held and len(held) <= framing.DEFAULT_MAX_LINE
