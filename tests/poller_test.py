"""The fd-waiting helper, with poll(2) and with the select(2) used on macOS (platform passed in)."""
from __future__ import annotations

import os

import pytest

from dispatch.process import poller as events
from dispatch.process.poller import READ, WRITE, Poller


@pytest.mark.parametrize("platform", ["linux", "darwin"])
def test_pipes_ptys_and_files(platform: str, tmp_path: object) -> None:
    p = Poller(platform)
    r, w = os.pipe()
    master, slave = os.openpty()
    f = os.open(os.devnull, os.O_RDONLY)
    try:
        p.register(r, READ, events.STDOUT)
        p.register(master, READ, events.TTY)
        p.register(w, WRITE, events.PLUGIN_STDIN)
        assert p.select(0) == [(events.PLUGIN_STDIN, w)]
        p.unregister(w)
        assert p.select(0.01) == []
        os.write(w, b"x")
        os.write(slave, b"y\n")
        assert sorted(p.select(1)) == sorted([(events.STDOUT, r), (events.TTY, master)])
        p.register(f, READ, events.USER_STDIN)
        assert (events.USER_STDIN, f) in p.select(0)
        assert p.registered(f) and not p.registered(w)
        p.close()
        assert p.select(0) == []
    finally:
        for fd in (r, w, master, slave, f):
            os.close(fd)
