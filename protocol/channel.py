"""The SDK's side of the protocol stream: private duplicates of the plugin's original stdin
and stdout, a reader thread for responses and `cancel`, and the interruption of the author's
code when a cancel arrives (whatever SIGINT's disposition)."""
from __future__ import annotations

import _thread
import os

from protocol import framing
from protocol.errors import CANCEL_STATUS, Cancelled, InteractionUnavailable, PluginError, ProtocolError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping
    from typing import Any

# After the host has gone (EOF on stdin) the plugin gets this long to stop by itself.
HOST_GONE_GRACE = 3.0


class Channel:
    """The protocol stream: private duplicates of the original stdin/stdout."""

    def __init__(self, version: int, inp: int, out: int) -> None:
        self.version = version
        self.inp = inp
        self.out = out
        self.lock = _thread.allocate_lock()
        self.responses: dict[object, Mapping[str, Any]] = {}
        self.arrived = _Arrivals(self.lock)
        self.cancel_reason: str | None = None
        # Set while the author's function runs: only then is the main thread
        # interrupted on cancel (before, the SDK checks cancel_reason itself).
        self.armed = False
        # The author's code sees one Cancelled, never two: a request waiting for its answer raises
        # it itself (`waiting`); otherwise the main thread is interrupted once (`interrupting`).
        self.waiting = False
        self.interrupting = False
        self.main_thread: int | None = None
        self.next_id = 1
        self.splitter = framing.LineSplitter()
        self.pending: list[bytes] = []

    def send(self, msg: Mapping[str, Any]) -> None:
        data = framing.encode(msg)
        with self.lock:
            view = memoryview(data)
            while view:
                n = os.write(self.out, view)
                view = view[n:]

    def read_message(self) -> dict[str, Any] | None:
        """The next message from the host (blocking); None at EOF."""
        while not self.pending:
            data = os.read(self.inp, 1 << 16)
            if not data:
                return None
            self.pending.extend(self.splitter.feed(data))
        return framing.decode(self.pending.pop(0))

    def request(self, method: str, params: Mapping[str, Any]) -> Mapping[str, Any]:
        with self.lock:
            rid = self.next_id
            self.next_id += 1
        self.send({"type": "request", "id": rid, "method": method, "params": params})
        with self.arrived:
            self.waiting = True
            try:
                # A cancel wins over the answer it came with (the host sends `cancel` first).
                while self.cancel_reason is None and rid not in self.responses:
                    self.arrived.wait(0.1)
                if self.cancel_reason is not None:
                    if self.interrupting:
                        # The interruption was sent before this request began: it is the one
                        # exception, arriving here, not in the author's clean-up after a second one.
                        for _ in range(20):
                            self.arrived.wait(0.05)
                    raise Cancelled(self.cancel_reason)
            finally:
                self.waiting = False
            response = self.responses.pop(rid)
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
                with self.arrived:
                    self.responses[msg.get("id")] = msg
                    self.arrived.notify_all()
                continue
            elif msg.get("type") == "cancel":
                reason = str(msg.get("reason", "interrupt"))
            else:
                continue  # unknown message types are ignored
            with self.arrived:
                first = self.cancel_reason is None
                self.cancel_reason = reason
                interrupt = first and self.armed and not self.waiting
                self.interrupting = interrupt
                self.arrived.notify_all()
            if interrupt:
                self._interrupt_main()
            if reason == "host_gone":
                time.sleep(HOST_GONE_GRACE)
                os._exit(CANCEL_STATUS["host_gone"])


    def arm(self) -> object:
        """Before the author's function runs: make sure a cancel can stop it, whatever SIGINT's
        disposition (a plugin started from a script's `cmd &` inherits SIGINT ignored).
        Returns what to restore afterwards."""
        import _signal  # not `signal`, which imports enum: this is every run's start-up

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
        import _signal

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
        import _signal

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


class _Arrivals:
    """What the channel needs of `threading.Condition` (wait with a timeout, notify every
    waiter), on `_thread`'s locks: `threading` would bring `collections`, `functools` and more
    into the start of every protocol plugin (docs/performance.md)."""

    __slots__ = ("lock", "waiters")

    def __init__(self, lock: _thread.LockType) -> None:
        self.lock = lock
        self.waiters: list[_thread.LockType] = []

    def __enter__(self) -> _Arrivals:
        self.lock.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.lock.release()

    def wait(self, timeout: float) -> None:
        """Release the lock until notified or `timeout` seconds, then hold it again."""
        waiter = _thread.allocate_lock()
        waiter.acquire()
        self.waiters.append(waiter)
        self.lock.release()
        try:
            waiter.acquire(True, timeout)
        finally:
            self.lock.acquire()
            if waiter in self.waiters:
                self.waiters.remove(waiter)

    def notify_all(self) -> None:
        for waiter in self.waiters:
            waiter.release()
        self.waiters.clear()
