"""First run at a terminal: a plugin tool has never seen behaves exactly as if run directly.

The real `tool` runs on a pseudo-terminal driven like a person would (tests/conftest.py PtyRun).
"""
from __future__ import annotations

import fcntl
import os
import shutil
import struct
import sys
import termios

import pytest

from tests.conftest import Env, PtyRun, in_pty, python_plugin


def _modes(term: PtyRun) -> list[object]:
    """The terminal settings of the test's pty (the user's terminal, as tool sees it)."""
    return termios.tcgetattr(term.master)


def test_first_run_python_repl(tenv: Env) -> None:
    os.symlink(sys.executable, tenv.bin / "tool-py")
    term = in_pty(tenv, "py", "-q")
    term.read_until(b">>> ")
    term.send(b"print(6*7)\r")
    term.read_until(b"print(6*7)\r\n42")  # echoed as typed, then answered
    term.send(b"exit()\r")
    code, _ = term.finish()
    assert code == 0


def test_first_run_sees_a_terminal(tenv: Env) -> None:
    tenv.sh("tool-isatty", '[ -t 0 ] && echo "in:tty"; [ -t 1 ] && echo "out:tty"; [ -t 2 ] && echo "err:tty"; echo "proto=${TOOL_PROTOCOL-unset}"\n')
    code, screen = in_pty(tenv, "isatty").finish()
    assert code == 0
    assert b"in:tty" in screen and b"out:tty" in screen and b"err:tty" in screen
    # Learned as plain: the second run is direct, on the same terminal.
    code, screen = in_pty(tenv, "isatty").finish()
    assert b"out:tty" in screen and b"proto=unset" in screen


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


def test_first_run_protocol_plugin_at_a_terminal(tenv: Env) -> None:
    python_plugin(
        tenv,
        "tool-proto",
        """
        import os
        from protocol.plugin import Plugin
        plugin = Plugin("proto", version="1.0")
        # The SDK keeps the protocol on a duplicate of the original stdout.
        ORIGINAL_STDOUT_IS_TTY = os.isatty(1)
        @plugin.run
        def run(ctx, args):
            ctx.output(f"protocol over a tty: {ORIGINAL_STDOUT_IS_TTY}\\n")
            ctx.output("line one\\nline two\\n")
            return {"ok": True}
        plugin.main()
        """,
    )
    code, screen = in_pty(tenv, "proto").finish()
    assert code == 0
    assert b"protocol over a tty: True" in screen
    assert b"line one\r\nline two" in screen
    entries = [os.readlink(p) for p in (tenv.root / "cache" / "tool" / "plugins").iterdir()]
    assert entries == ["protocol:1"]
    code, screen = in_pty(tenv, "proto").finish()
    assert code == 0 and b"protocol over a tty: False" in screen, "the second run uses pipes"


def test_terminal_restored_after_the_plugin_is_killed(tenv: Env) -> None:
    tenv.sh("tool-die", "echo ready\nkill -9 $$\n")
    term = in_pty(tenv, "die")
    before = _modes(term)
    term.read_until(b"ready")
    code, _ = term.finish(close=False)
    assert code == 128 + 9
    assert _modes(term) == before
    os.close(term.master)


def test_terminal_restored_after_ctrl_c(tenv: Env) -> None:
    tenv.sh("tool-wait", "echo ready\nsleep 30\n")
    term = in_pty(tenv, "wait")
    before = _modes(term)
    term.read_until(b"ready")
    raw = _modes(term)
    assert raw != before, "tool put the terminal in raw mode while proxying"
    term.send(b"\x03")  # Ctrl-C, through the plugin's pty line discipline
    code, _ = term.finish(close=False)
    assert code == 130
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


def test_json_and_timeout_keep_the_pipe_path(tenv: Env) -> None:
    tenv.sh("tool-isatty", '[ -t 1 ] && echo "out:tty" || echo "out:pipe"\n')
    tenv.sh("tool-isatty2", '[ -t 1 ] && echo "out:tty" || echo "out:pipe"\n')
    code, screen = in_pty(tenv, "--json", "isatty").finish()
    assert b'"text":"out:pipe\\n"' in screen
    code, screen = in_pty(tenv, "--timeout", "30", "isatty2").finish()
    assert b"out:pipe" in screen


def test_stdout_tty_stdin_pipe(tenv: Env) -> None:
    # `echo data | tool x` at a terminal: stdout is a terminal, stdin the pipe's data.
    tenv.sh("tool-mixed", '[ -t 1 ] && echo "out:tty"; [ -t 0 ] || echo "in:pipe"; cat\n')
    env = {**tenv.vars, "TERM": "xterm"}
    import subprocess

    from tests.conftest import TOOL

    master, slave = os.openpty()
    proc = subprocess.Popen(
        ["/bin/sh", "-c", f'printf "piped data\\n" | "{TOOL}" mixed'], stdout=slave, stderr=slave, env=env
    )
    os.close(slave)
    out = b""
    while True:
        try:
            data = os.read(master, 4096)
        except OSError:
            break
        if not data:
            break
        out += data
    proc.wait(timeout=60)
    os.close(master)
    assert b"out:tty" in out and b"in:pipe" in out and b"piped data" in out
