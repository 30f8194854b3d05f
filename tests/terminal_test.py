"""At a terminal: plugins get the user's terminal, the host leaves it as it found it.

The real `tool` runs on a pseudo-terminal driven like a person would (tests/conftest.py PtyRun).
"""
from __future__ import annotations

import fcntl
import os
import shutil
import struct
import termios

import pytest

from tests.conftest import Env, PtyRun, in_pty, python_plugin


def _modes(term: PtyRun) -> list[object]:
    """The terminal settings of the test's pty (the user's terminal, as tool sees it)."""
    return termios.tcgetattr(term.master)


@pytest.mark.skipif(shutil.which("bash") is None, reason="needs bash for read -s")
def test_first_run_password_prompt_does_not_echo(tenv: Env) -> None:
    tenv.plugin("tool-login", '#!/bin/bash\nread -r -s -p "Password: " pw\necho\necho "length=${#pw}"\n')
    term = in_pty(tenv, "login")
    term.read_until(b"Password: ")
    term.send(b"hunter2\r")
    term.read_until(b"length=7")
    code, screen = term.finish()
    assert code == 0
    assert b"hunter2" not in screen


def test_protocol_plugin_at_a_terminal(tenv: Env) -> None:
    python_plugin(
        tenv,
        "tool-proto",
        """
        import os
        from protocol.plugin import Plugin
        plugin = Plugin("proto", version="1.0")
        # The SDK keeps the protocol on a duplicate of the original stdout: a pipe to the host.
        ORIGINAL_STDOUT_IS_TTY = os.isatty(1)
        @plugin.run
        def run(ctx, args):
            ctx.output(f"protocol over a tty: {ORIGINAL_STDOUT_IS_TTY}\\n")
            ctx.output("line one\\nline two\\n")
            return {"ok": True}
        plugin.main()
        """,
    )
    for _ in range(2):  # the first run as every other
        code, screen = in_pty(tenv, "proto").finish()
        assert code == 0
        assert b"protocol over a tty: False" in screen
        assert b"line one\r\nline two" in screen


def test_terminal_restored_after_a_supervised_plugin_is_killed(tenv: Env) -> None:
    tenv.sh("tool-die", "stty -echo\necho ready\nkill -9 $$\n")
    term = in_pty(tenv, "--timeout", "30", "die")
    before = _modes(term)
    term.read_until(b"ready")
    code, _ = term.finish(close=False)
    assert code == -9, "the host dies by the plugin's signal"
    # The plugin changed the terminal and could not put it back: that is the plugin's
    # business, exactly as when run directly; the host itself changed nothing.
    after = _modes(term)
    assert [a for i, a in enumerate(after) if i != 3] == [b for i, b in enumerate(before) if i != 3]
    os.close(term.master)


def test_ctrl_c_at_a_supervised_plain_plugin(tenv: Env) -> None:
    # exec: one process (dash forking `sleep` can hold a Ctrl-C until the sleep ends, run directly too)
    tenv.sh("tool-wait", "echo ready\nexec sleep 30\n")
    term = in_pty(tenv, "--timeout", "60", "wait")
    before = _modes(term)
    term.read_until(b"ready")
    assert _modes(term) == before, "the host leaves the user's terminal alone"
    term.send(b"\x03")  # Ctrl-C: the plugin has the terminal, as in a shell's foreground job
    code, _ = term.finish(close=False)
    assert code == -2
    assert _modes(term) == before
    os.close(term.master)


def test_window_size_change_reaches_the_plugin(tenv: Env) -> None:
    tenv.sh("tool-size", "stty size\necho ready\nread line\nstty size\n")
    term = in_pty(tenv, "size")
    term.read_until(b"ready")
    assert b"24 80" in term.buf
    fcntl.ioctl(term.master, termios.TIOCSWINSZ, struct.pack("HHHH", 33, 101, 0, 0))
    import time

    time.sleep(0.3)  # let SIGWINCH arrive and be forwarded
    term.send(b"\r")
    term.read_until(b"33 101")
    code, _ = term.finish()
    assert code == 0


def test_json_pipes_stdout_and_timeout_keeps_the_terminal(tenv: Env) -> None:
    tenv.sh("tool-isatty", '[ -t 0 ] && echo "in:tty"; [ -t 1 ] && echo "out:tty" || echo "out:pipe"\n')
    _, screen = in_pty(tenv, "--json", "isatty").finish()
    assert b'"text":"in:tty\\nout:pipe\\n"' in screen
    _, screen = in_pty(tenv, "--timeout", "30", "isatty").finish()
    assert b"in:tty" in screen and b"out:tty" in screen


def test_stdout_tty_stdin_pipe(tenv: Env) -> None:
    # `echo data | tool x` at a terminal: stdout is a terminal, stdin the pipe's data.
    tenv.sh("tool-mixed", '[ -t 1 ] && echo "out:tty"; [ -t 0 ] || echo "in:pipe"; cat\n')
    env = {**tenv.vars, "TERM": "xterm"}
    from tests.conftest import TOOL

    term = PtyRun([], env, tenv.root, argv=["/bin/sh", "-c", f'printf "piped data\\n" | "{TOOL}" mixed'])
    code, out = term.finish()
    assert code == 0
    assert b"out:tty" in out and b"in:pipe" in out and b"piped data" in out
