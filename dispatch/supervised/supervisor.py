"""Keeping one plugin process group under control: exit, signals, deadlines, escalation, the terminal.

A plugin the host does not exec runs in its own process group, so that a
timeout or a fatal error can stop everything it started. The price is that
the terminal's keys (Ctrl-C, Ctrl-Z) reach the host, not the plugin, so the
host forwards them; and that a plugin in a background group that reads the
terminal is stopped by the kernel (SIGTTIN), so the host then hands it the
terminal, as a shell's `fg` would.

Stopping is always the same ladder: `cancel` to a protocol plugin (or the
signal itself to a plain one), a grace period, then its stdin closed and
SIGTERM to the group, another grace period, then SIGKILL to the group.
"""
from __future__ import annotations

# _signal, not signal: the latter imports enum, which costs more than this whole module.
import _signal as signal
import os
import time

from dispatch.exitcodes import from_wait_status
from dispatch.process import poller as events
from dispatch.process.poller import READ
from dispatch.process.spawn import stop
from dispatch.process.terminal import hand_over, take_back
from dispatch.supervised.outcome import STOP_REASONS

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Protocol

    from dispatch.process.poller import Poller, Tag
    from dispatch.process.spawn import Child
    from dispatch.supervised.outcome import StopReason

    class Peer(Protocol):
        """The host's side of the plugin's pipes (a Session)."""

        def speaks_protocol(self) -> bool: ...

        def cancel(self, reason: str, grace: float) -> bool: ...

        def close_plugin_stdin(self) -> None: ...

        def suspend(self) -> None:
            """The host is about to stop (Ctrl-Z, or a background job wanting the terminal):
            take what it draws off the screen."""

        def resumed(self) -> None: ...

        def resized(self) -> None:
            """The terminal's window changed size."""

CANCEL_GRACE = 2.0  # after `cancel`, before SIGTERM
TERM_GRACE = 2.0  # after SIGTERM, before SIGKILL
_FORWARDED = ("SIGINT", "SIGTERM", "SIGHUP", "SIGQUIT", "SIGCHLD", "SIGTSTP", "SIGCONT", "SIGWINCH")
_TERMINATING = frozenset(getattr(signal, n) for n in ("SIGTERM", "SIGHUP", "SIGQUIT") if hasattr(signal, n))


class Supervisor:
    def __init__(
        self,
        child: Child,
        sel: Poller,
        *,
        timeout: float | None = None,
        peer: Peer | None = None,
    ) -> None:
        self.child = child
        self.pgid = child.pgid
        self.sel = sel
        self.peer = peer
        self.status: int | None = None  # the plugin's exit status (128+N when killed by signal N)
        self.killed_by: int | None = None  # N when the plugin was killed by signal N
        self.stop_reason: StopReason | None = None
        self.stop_signal: int | None = None
        self.escalated = False
        self.interrupts = 0
        # The plugin's group has the terminal because one of its processes read it (a pager, a
        # child's prompt), not because it asked for it: the host takes it back to ask a question.
        self.taken_by_reading = False
        self.held_terminal = False  # its group had the terminal when it ended (Ctrl-C went to it)
        self.restored_modes = False  # the terminal's settings were put back after it (it left them changed)
        self.timers: list[tuple[float, Callable[[], None]]] = []
        self.timeout = timeout
        if timeout is not None:
            self.at(timeout, self._on_timeout)
        try:
            self.pidfd: int | None = os.pidfd_open(child.pid)
            sel.register(self.pidfd, READ, events.EXIT)
        except (AttributeError, OSError):
            self.pidfd = None
        self._install_signals()

    # -- timers ----------------------------------------------------------------------
    def at(self, delay: float, action: Callable[[], None]) -> None:
        self.timers.append((time.monotonic() + delay, action))
        self.timers.sort(key=lambda t: t[0])

    def wait_time(self, wanted: float | None) -> float | None:
        """How long the loop may block: `wanted`, shortened by timers and exit polling."""
        limits = [] if wanted is None else [wanted]
        if self.timers:
            limits.append(max(0.0, self.timers[0][0] - time.monotonic()))
        if self.pidfd is None and self.status is None:
            limits.append(0.05)
        return min(limits) if limits else None

    def tick(self) -> None:
        """Run due timers; poll for exit when there is no pidfd."""
        now = time.monotonic()
        while self.timers and self.timers[0][0] <= now:
            _, action = self.timers.pop(0)
            action()
        if self.pidfd is None:
            self.poll()

    def handle(self, tag: Tag) -> None:
        """Handle one of the supervisor's own events: the plugin exited, or a signal came."""
        if tag == events.EXIT:
            self.reap()
        elif tag == events.SIGNAL:
            self._on_signals()

    # -- the process ---------------------------------------------------------------
    def reap(self) -> None:
        if self.status is not None:
            return
        try:
            _, wstatus = os.waitpid(self.child.pid, 0)
        except ChildProcessError:
            return
        self._exited(wstatus)

    def poll(self) -> bool:
        """Whether the plugin has exited (reaping it if so)."""
        if self.status is None:
            try:
                pid, wstatus = os.waitpid(self.child.pid, os.WNOHANG)
            except ChildProcessError:
                return True
            if pid:
                self._exited(wstatus)
        return self.status is not None

    def _exited(self, wstatus: int) -> None:
        self._record(os.waitstatus_to_exitcode(wstatus))

    def _record(self, code: int) -> None:
        """The plugin ended with exit code `code` (negative: killed by that signal)."""
        self.held_terminal = self.child.terminal is not None
        self.killed_by = -code if code < 0 else None
        self.status = from_wait_status(code)
        self.timers = [t for t in self.timers if t[1] != self._on_timeout]
        if self.pidfd is not None:
            self.sel.unregister(self.pidfd)

    def signal_group(self, sig: int) -> None:
        try:
            os.killpg(self.pgid, sig)
        except (ProcessLookupError, PermissionError):
            pass

    # -- stopping --------------------------------------------------------------------
    def stop(self, reason: StopReason, first_signal: int = signal.SIGTERM) -> None:
        """Begin the ladder for `reason` (dispatch/outcome.py): cancel (protocol) or
        `first_signal` (plain), then SIGTERM, then SIGKILL."""
        if self.stop_reason is None:
            self.stop_reason = reason
        if self.peer is not None and self.peer.speaks_protocol() and self.peer.cancel(STOP_REASONS[reason][0], CANCEL_GRACE):
            self.at(CANCEL_GRACE, self._escalate_term)
        else:
            self.signal_group(first_signal)
            self.at(TERM_GRACE, self._escalate_kill)

    def _escalate_term(self) -> None:
        if self.status is not None:
            return
        self.escalated = True
        if self.peer is not None:
            self.peer.close_plugin_stdin()
        self.signal_group(signal.SIGTERM)
        self.at(TERM_GRACE, self._escalate_kill)

    def _escalate_kill(self) -> None:
        if self.status is not None:
            return
        self.escalated = True
        self.signal_group(signal.SIGKILL)

    def stop_now(self, grace: float = 1.0) -> None:
        """Stop the plugin at once (after a protocol error, or on the way out): SIGTERM to its
        group, `grace` seconds, then SIGKILL to whatever is left of the group."""
        if self.peer is not None:
            self.peer.close_plugin_stdin()
        code = stop(self.child, wait=grace, term=True) if self.status is None else None
        if self.status is None:
            self._record(code if code is not None else -signal.SIGKILL)

    def _on_timeout(self) -> None:
        if self.status is None:
            self.stop("timeout")

    # -- signals -----------------------------------------------------------------------
    def _install_signals(self) -> None:
        self._saved: list[tuple[int, object]] = []
        self._wake_r, self._wake_w = os.pipe()
        os.set_blocking(self._wake_w, False)
        os.set_blocking(self._wake_r, False)
        self._saved_wakeup = signal.set_wakeup_fd(self._wake_w, warn_on_full_buffer=False)
        for name in _FORWARDED:
            signum = getattr(signal, name, None)
            if signum is None:
                continue
            if signal.getsignal(signum) == signal.SIG_IGN and signum not in (signal.SIGCHLD, signal.SIGCONT):
                continue  # ignored by whoever started the host (`nohup`, a script's `cmd &`): it stays so
            self._saved.append((signum, signal.signal(signum, _noted)))
        self.sel.register(self._wake_r, READ, events.SIGNAL)

    def _on_signals(self) -> None:
        try:
            received = os.read(self._wake_r, 256)
        except BlockingIOError:
            return
        for signum in received:
            self._forward(signum)

    def _forward(self, signum: int) -> None:
        if signum == signal.SIGCHLD:
            self._child_changed()
        elif signum == signal.SIGINT:
            self.interrupts += 1
            if self.peer is not None:
                self.peer.suspend()  # the terminal echoed ^C on the progress line: off it goes
            if self.peer is not None and self.peer.speaks_protocol():
                # A protocol plugin: the first Ctrl-C asks it to stop, the next ones escalate.
                if self.interrupts == 1:
                    self.stop("interrupt")
                elif self.interrupts == 2:
                    self._escalate_term()
                else:
                    self._escalate_kill()
            else:
                # A plain plugin gets the signal, as under git, and decides.
                if self.stop_reason is None:
                    self.stop_reason = "interrupt"
                self.signal_group(signal.SIGINT)
        elif signum in _TERMINATING:
            self.stop_reason = "signal"
            self.stop_signal = signum
            self.stop("signal", first_signal=signum)
        elif signum == signal.SIGTSTP:
            # Ctrl-Z while the host has the terminal: stop the plugin's group, then the host.
            self.signal_group(signal.SIGSTOP)
            self._stop_host(self._suspend_peer, lambda: None)
        elif signum == getattr(signal, "SIGWINCH", None):
            if self.peer is not None:
                self.peer.resized()
        elif signum == signal.SIGCONT:
            # `fg` or `bg`: the plugin goes on too, and a waiting prompt is shown again.
            self.signal_group(signal.SIGCONT)
            if self.peer is not None:
                self.peer.resumed()

    def _suspend_peer(self) -> None:
        if self.peer is not None:
            self.peer.suspend()

    def stop_for_terminal(self) -> bool:
        """The host needs the terminal while it is a background job (a question from `tool x &`):
        stop as a program reading it would ("Stopped (tty input)"), the plugin's group with it,
        until the shell's `fg` (or `bg`) continues both. False when no stop happened (SIGTTIN
        ignored, or an orphaned job, whose stop signals the kernel discards)."""
        if signal.getsignal(signal.SIGTTIN) == signal.SIG_IGN:
            return False
        self.signal_group(signal.SIGSTOP)
        self._suspend_peer()
        os.kill(os.getpid(), signal.SIGTTIN)
        import select

        # Continued: the SIGCONT that did it waits in the wakeup pipe (handled by the loop).
        continued = bool(select.select([self._wake_r], [], [], 0)[0])
        if not continued:
            self.signal_group(signal.SIGCONT)
        return continued

    def _stop_host(self, before: Callable[[], object], after: Callable[[], object]) -> None:
        """Stop the host as Ctrl-Z would (`before`: give the terminal back); when the shell
        resumes it (fg/bg), `after` and let the plugin's group go on too."""
        before()
        # SIGTSTP, not SIGSTOP: the shell then says "Stopped", as for any job stopped by Ctrl-Z.
        handler = signal.signal(signal.SIGTSTP, signal.SIG_DFL)
        try:
            os.kill(os.getpid(), signal.SIGTSTP)
        finally:
            signal.signal(signal.SIGTSTP, handler)
        after()
        self.signal_group(signal.SIGCONT)

    def check_child(self) -> None:
        """Notice a plugin that stopped or exited before the host was listening (SIGCHLD came too early)."""
        self._child_changed()

    def _child_changed(self) -> None:
        if self.status is not None:
            return
        try:
            pid, wstatus = os.waitpid(self.child.pid, os.WNOHANG | os.WUNTRACED)
        except ChildProcessError:
            return
        if not pid:
            return
        if not os.WIFSTOPPED(wstatus):
            self._exited(wstatus)
            return
        stop = os.WSTOPSIG(wstatus)
        if stop in (signal.SIGTTIN, signal.SIGTTOU):
            # It wants the terminal: hand it over, as a shell's `fg` does (it may have
            # stopped just before the host handed it over anyway).
            if self.child.terminal is None and self.give_terminal():
                self.taken_by_reading = self.peer is not None and self.peer.speaks_protocol()
            if self.child.terminal is not None:
                self.signal_group(signal.SIGCONT)
        elif stop in (signal.SIGTSTP, signal.SIGSTOP) and self.child.terminal is not None:
            # Ctrl-Z while the plugin had the terminal: stop the host as well, give it back on resume.
            fd = self.child.terminal.fd

            def before() -> None:
                self.take_terminal()
                self._suspend_peer()

            self._stop_host(before, lambda: self.give_terminal(fd))

    # -- the terminal ---------------------------------------------------------------------
    def give_terminal(self, fd: int | None = None) -> bool:
        """Make the plugin's group the terminal's foreground group (when the host owns it)."""
        if self.child.terminal is None:
            self.child.terminal = hand_over(self.pgid, fd)
        return self.child.terminal is not None

    def reclaim_terminal(self) -> None:
        """The terminal back from a protocol plugin's group that took it by reading it: the
        plugin asks the host to ask the user now, so whatever read the terminal is done."""
        if self.taken_by_reading:
            self.take_terminal(restore_modes=True)

    def take_terminal(self, *, restore_modes: bool = False) -> None:
        self.taken_by_reading = False
        handover, self.child.terminal = self.child.terminal, None
        if handover is not None and take_back(handover, restore_modes=restore_modes):
            self.restored_modes = True

    # -- the end ---------------------------------------------------------------------
    def close(self) -> None:
        if self.status is None:
            self.stop_now()  # never leave a zombie or an orphan behind
        if self.stop_reason is not None:
            # It was stopped: nothing it started survives it.
            self.child.kill_group()
        else:
            self.child.release_guard()
        # A plugin the host stopped, or one killed by a signal, could not restore the terminal.
        self.take_terminal(restore_modes=self.stop_reason is not None or self.killed_by is not None)
        for signum, handler in self._saved:
            signal.signal(signum, handler)  # type: ignore[arg-type]
        self._saved = []
        signal.set_wakeup_fd(self._saved_wakeup)
        for fd in (self._wake_r, self._wake_w, self.pidfd):
            if fd is not None:
                try:
                    os.close(fd)
                except OSError:
                    pass
        self.pidfd = None


def _noted(signum: int, frame: object) -> None:
    # The number reaches the loop through the wakeup fd; the handler only has to exist.
    pass
