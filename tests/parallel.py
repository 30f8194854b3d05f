"""Run the suite on every core, with pytest alone: after collection, the session forks
workers, two per core in all. The tests' indices wait in a pipe; every process (the main one too)
takes the next one when it is free (reads of 4 bytes from a pipe are atomic), so a long
test never holds up a whole share. Workers send their reports back through a pipe, and the
main process shows them as its own (same progress, same summary, same exit status). Most
tests wait on the real `tool` in subprocesses, so the cores are what bounds the suite's time.

`TOOL_TEST_WORKERS=1` (or -x, --pdb, a single test) runs everything in one process.
"""
from __future__ import annotations

import json
import os
import select
import signal
import struct

import pytest

_HEADER = struct.Struct("!I")


def _workers(session: pytest.Session) -> int:
    config = session.config
    wanted = os.environ.get("TOOL_TEST_WORKERS")
    # Two per core: most tests wait on real processes (a plugin's sleep, a handshake window, a
    # pty), so a core is idle while its one test waits; two keep it busy (80 s -> 50 s on 2 cores).
    count = int(wanted) if wanted and wanted.isdigit() else 2 * (os.cpu_count() or 1)
    if config.option.maxfail or config.option.usepdb or config.option.collectonly:
        return 1
    return max(1, min(count, len(session.items)))


_INDEX = struct.Struct("!i")


def _take(queue: int) -> int | None:
    """The index of the next test nobody took yet, or None when all are taken."""
    try:
        data = os.read(queue, _INDEX.size)
    except BlockingIOError:
        return None
    return _INDEX.unpack(data)[0] if len(data) == _INDEX.size else None


def _run(session: pytest.Session, items: list[pytest.Item], queue: int, between: object = None) -> None:
    """Run tests taken from the queue until it is empty; `between()` after each one."""
    current = _take(queue)
    while current is not None:
        following = _take(queue)  # known before running `current`: the fixtures it may keep
        item = items[current]
        item.config.hook.pytest_runtest_protocol(item=item, nextitem=items[following] if following is not None else None)
        if callable(between):
            between()
        if session.shouldfail or session.shouldstop:
            break
        current = following


class _Sender:
    """In a worker: every report goes to the main process instead of the terminal."""

    def __init__(self, config: pytest.Config, fd: int) -> None:
        self.config = config
        self.fd = fd

    def _send(self, event: dict[str, object]) -> None:
        data = json.dumps(event).encode()
        view = memoryview(_HEADER.pack(len(data)) + data)
        while view:
            view = view[os.write(self.fd, view) :]

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_logstart(self, nodeid: str, location: tuple[str, int | None, str]) -> None:
        self._send({"event": "start", "nodeid": nodeid, "location": list(location)})

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        data = self.config.hook.pytest_report_to_serializable(config=self.config, report=report)
        self._send({"event": "report", "data": data})

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_logfinish(self, nodeid: str, location: tuple[str, int | None, str]) -> None:
        self._send({"event": "finish", "nodeid": nodeid, "location": list(location)})


class _Receiver:
    """In the main process: a worker's events, replayed through the hooks as if run here."""

    def __init__(self, config: pytest.Config, pid: int, fd: int) -> None:
        self.config = config
        self.pid = pid
        self.fd = fd
        self.buffer = b""
        self.open = True

    def pump(self, block: bool) -> None:
        while self.open:
            if not block and not select.select([self.fd], [], [], 0)[0]:
                return
            chunk = os.read(self.fd, 1 << 16)
            if not chunk:
                self.open = False
                os.close(self.fd)
            self.buffer += chunk
            self._replay()

    def _replay(self) -> None:
        hook = self.config.hook
        while len(self.buffer) >= _HEADER.size:
            (size,) = _HEADER.unpack_from(self.buffer)
            if len(self.buffer) < _HEADER.size + size:
                return
            event = json.loads(self.buffer[_HEADER.size : _HEADER.size + size])
            self.buffer = self.buffer[_HEADER.size + size :]
            if event["event"] == "start":
                hook.pytest_runtest_logstart(nodeid=event["nodeid"], location=tuple(event["location"]))
            elif event["event"] == "finish":
                hook.pytest_runtest_logfinish(nodeid=event["nodeid"], location=tuple(event["location"]))
            else:
                report = hook.pytest_report_from_serializable(config=self.config, data=event["data"])
                if isinstance(report.longrepr, list):
                    # A skip's (path, line, reason) came through JSON as a list; the summary wants a tuple.
                    report.longrepr = tuple(report.longrepr)
                hook.pytest_runtest_logreport(report=report)


@pytest.hookimpl(tryfirst=True)
def pytest_runtestloop(session: pytest.Session) -> bool | None:
    workers = _workers(session)
    if workers <= 1 or session.testsfailed:
        return None  # pytest's own loop
    items = list(session.items)
    # The longest tests first (marked `slow`), so that none of them starts last and runs alone.
    order = sorted(range(len(items)), key=lambda i: items[i].get_closest_marker("slow") is None)
    queue, feeder = os.pipe()
    os.write(feeder, b"".join(_INDEX.pack(i) for i in order))  # < 64 KiB: never blocks
    os.close(feeder)
    os.set_blocking(queue, False)
    receivers: list[_Receiver] = []
    for _ in range(1, workers):
        r, w = os.pipe()
        pid = os.fork()
        if pid == 0:  # a worker: tests from the queue, reported through the pipe, then gone
            os.close(r)
            code = 0
            try:
                config = session.config
                terminal = config.pluginmanager.get_plugin("terminalreporter")
                if terminal is not None:
                    config.pluginmanager.unregister(terminal)
                config.pluginmanager.register(_Sender(config, w), "tool-parallel-sender")
                _run(session, items, queue)
            except BaseException:
                code = 1
            finally:
                os._exit(code)
        os.close(w)
        receivers.append(_Receiver(session.config, pid, r))
    try:
        _run(session, items, queue, between=lambda: [receiver.pump(block=False) for receiver in receivers])
        for receiver in receivers:
            receiver.pump(block=True)
    finally:
        os.close(queue)
        for receiver in receivers:
            if receiver.open:
                os.kill(receiver.pid, signal.SIGKILL)
            _, status = os.waitpid(receiver.pid, 0)
            if os.waitstatus_to_exitcode(status) != 0:
                session.testsfailed += 1  # a worker that crashed: never a silent pass
    return True
