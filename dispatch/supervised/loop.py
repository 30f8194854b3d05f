"""The one poll loop of a supervised run, for every phase (handshake, relay, conversation, the
drain after exit): the host never blocks on one pipe while the plugin waits on another.

Process, signal and timer events (dispatch/supervised/supervisor.py), room in the pipe to the
plugin, and the events a conversation registers a handler for (the terminal's answer to a
question, a call's output) are handled here; the caller gets the events that are its own
(the plugin's stdout, the user's stdin).
"""
from __future__ import annotations

from dispatch.process import poller as events
from dispatch.supervised.link import Broken

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable

    from dispatch.process.poller import Poller, Tag
    from dispatch.supervised.link import Link
    from dispatch.supervised.supervisor import Supervisor


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

    def flush(self) -> None:
        """Write what waits for the plugin; a plugin that closed its stdin is the caller's to handle."""
        try:
            self.link.flush()
        except Broken as e:
            if self.on_broken is not None:
                self.on_broken(e)
