"""The SDK's side of the protocol stream: private duplicates of the plugin's original stdin
and stdout, a reader thread for responses and `cancel`, and the interruption of the author's
code when a cancel arrives (whatever SIGINT's disposition)."""
from __future__ import annotations

import _signal  # not `signal`, which imports enum: this is every protocol run's start-up
import _thread
import os

from protocol import framing
from protocol.errors import CANCEL_STATUS, Cancelled, InteractionUnavailable, PluginError, ProtocolError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping
    from typing import Any

# SIGINT blocked while a message is written, where threads can block signals.
_INT = {_signal.SIGINT} if hasattr(_signal, "pthread_sigmask") else None

# After the host has gone (EOF on stdin) the plugin gets this long to stop by itself.
HOST_GONE_GRACE = 3.0


class Channel:
    """The protocol stream: private duplicates of the original stdin/stdout.

    A cancel interrupts the main thread with a real SIGINT, which Python raises wherever that
    thread happens to be, the SDK's own code included. So the SDK's code never holds a lock
    across Python lines (each critical part is one `with self.lock:` on a C lock, which a raise
    cannot leave held), and a message is written with SIGINT blocked (a message cut in two
    would corrupt the stream for every message after it)."""

    def __init__(self, version: int, inp: int, out: int) -> None:
        self.version = version
        self.inp = inp
        self.out = out
        self.lock = _thread.allocate_lock()
        self.responses: dict[object, Mapping[str, Any]] = {}
        # A lock per request waiting for its answer, held until something arrives for it.
        self.waiters: dict[object, _thread.LockType] = {}
        self.cancel_reason: str | None = None
        # Set while the author's function runs: only then is the main thread
        # interrupted on cancel (before, the SDK checks cancel_reason itself).
        self.armed = False
        # The author's code sees one Cancelled, never two: a request of the main thread waiting
        # for its answer raises it itself (`main_waiting`); otherwise the main thread is
        # interrupted once (`interrupting`).
        self.main_waiting = False
        self.interrupting = False
        self.main_thread: int | None = None
        self.next_id = 1
        self.splitter = framing.LineSplitter()
        self.pending: list[bytes] = []

    def send(self, msg: Mapping[str, Any]) -> None:
        data = framing.encode(msg)
        mask = _INT if self.armed and _INT and _thread.get_ident() == self.main_thread else None
        with self.lock:
            if mask is None:
                _write_all(self.out, data)
                return
            try:
                _signal.pthread_sigmask(_signal.SIG_BLOCK, mask)
                _write_all(self.out, data)
            finally:
                _signal.pthread_sigmask(_signal.SIG_UNBLOCK, mask)  # a SIGINT that came meanwhile lands here

    def read_message(self) -> dict[str, Any] | None:
        """The next message from the host (blocking); None at EOF."""
        while not self.pending:
            data = os.read(self.inp, 1 << 16)
            if not data:
                return None
            self.pending.extend(self.splitter.feed(data))
        return framing.decode(self.pending.pop(0))

    def request(self, method: str, params: Mapping[str, Any]) -> Mapping[str, Any]:
        waiter = _thread.allocate_lock()
        waiter.acquire()
        main = _thread.get_ident() == self.main_thread
        with self.lock:
            rid = self.next_id
            self.next_id += 1
            self.waiters[rid] = waiter
            if main:
                self.main_waiting = True
        try:
            self.send({"type": "request", "id": rid, "method": method, "params": params})
            # A cancel wins over the answer it came with (the host sends `cancel` first).
            while True:
                with self.lock:
                    if self.cancel_reason is not None or rid in self.responses:
                        break
                waiter.acquire(True, 0.1)  # released by the reader when a message arrives
            if self.cancel_reason is not None:
                if main and self.interrupting:
                    # The interruption was sent before this request began: it is the one
                    # exception, arriving here, not in the author's clean-up after a second one.
                    waiter.acquire(True, 1.0)
                raise Cancelled(self.cancel_reason)
        finally:
            with self.lock:
                del self.waiters[rid]
                if main:
                    self.main_waiting = False
                response = self.responses.pop(rid, None)
        assert response is not None
        if "error" in response:
            err = response["error"]
            if err.get("code") == "interaction_unavailable":
                raise InteractionUnavailable(str(err.get("message", "cannot ask")))
            raise PluginError(str(err.get("message")), code=str(err.get("code", "error")))
        result: Mapping[str, Any] = response.get("result") or {}
        return result

    def listen(self) -> None:
        """Reader thread: responses, cancel, and EOF (the host is gone)."""
        import time

        while True:
            try:
                msg = self.read_message()
            except (ProtocolError, OSError):
                msg = None
            if msg is None:
                reason = "host_gone"
            elif msg.get("type") == "response":
                with self.lock:
                    rid = msg.get("id")
                    if rid in self.waiters:  # not an answer nobody asked for, or one given up on
                        self.responses[rid] = msg
                        self._wake()
                continue
            elif msg.get("type") == "cancel":
                reason = str(msg.get("reason", "interrupt"))
            else:
                continue  # unknown message types are ignored
            with self.lock:
                first = self.cancel_reason is None
                self.cancel_reason = reason
                # Decided and done under the lock: the main thread is then not inside a request.
                self.interrupting = first and self.armed and not self.main_waiting
                if self.interrupting:
                    self._interrupt_main()
                self._wake()
            if reason == "host_gone":
                time.sleep(HOST_GONE_GRACE)
                os._exit(CANCEL_STATUS["host_gone"])

    def _wake(self) -> None:
        """Every waiting request looks again (called with the lock held; only the reader releases
        a waiter, only its request takes it, so a waiter seen locked stays so until released)."""
        for waiter in self.waiters.values():
            if waiter.locked():
                waiter.release()

    def arm(self) -> object:
        """Before the author's function runs: make sure a cancel can stop it, whatever SIGINT's
        disposition (a plugin started from a script's `cmd &` inherits SIGINT ignored).
        Returns what to restore afterwards."""
        self.main_thread = _thread.get_ident()
        saved = None
        try:
            if _signal.getsignal(_signal.SIGINT) in (_signal.SIG_IGN, _signal.SIG_DFL, None):
                saved = _signal.signal(_signal.SIGINT, _signal.default_int_handler)
        except ValueError:
            pass  # not the main thread: the author's own business
        self.armed = True
        return saved

    def disarm(self, saved: object) -> None:
        self.armed = False
        if saved is not None:
            try:
                _signal.signal(_signal.SIGINT, saved)  # type: ignore[arg-type]
            except ValueError:
                pass

    def _interrupt_main(self) -> None:
        """Stop the author's function: a real SIGINT to the main thread (which also ends a
        blocking sleep or read), raised as Cancelled. When the plugin installed its own SIGINT
        handler, Cancelled is raised in the main thread directly as well."""
        if self.main_thread is None or not hasattr(_signal, "pthread_kill"):
            _thread.interrupt_main()
            return
        if _signal.getsignal(_signal.SIGINT) is not _signal.default_int_handler:
            import ctypes

            ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(self.main_thread), ctypes.py_object(Cancelled))
        try:
            _signal.pthread_kill(self.main_thread, _signal.SIGINT)
        except (OSError, ValueError):
            pass


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]
