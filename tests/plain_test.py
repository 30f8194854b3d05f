"""Plain plugins run exactly as under git, on every run, the first one included.

A plugin's kind comes from its file (design section 4): a file without the
text TOOL_PROTOCOL is exec'd, so the host's process becomes the plugin.
Every test here runs with a cold cache (a fresh XDG_CACHE_HOME), which is
what every CI job and every new machine has.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import pytest

from tests.conftest import DECLARATION, HANG_BOUND, TOOL, Env, PtyRun, in_pty, shell_in_pty, started

HELLO = '{"type":"hello","protocol":1,"plugin":{"name":"p","version":"1.0","summary":"s"}}'


@pytest.mark.parametrize("loud", [False, True])
def test_the_plugin_is_the_tool_process(tenv: Env, loud: bool) -> None:
    out = tenv.root / "pid"
    tenv.sh("tool-me", f"echo $$ > {out}\n" + ("echo some output\n" if loud else ""))
    for _ in range(2):  # first run and later runs alike
        proc = started([TOOL, "me"], env=tenv.vars, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        stdout, stderr = proc.communicate(timeout=HANG_BOUND)
        assert (proc.returncode, stderr) == (0, b"")
        assert stdout == (b"some output\n" if loud else b"")
        assert int(out.read_text()) == proc.pid, "exec'd: same pid, no host in between"
    assert not (tenv.root / "cache").exists(), "nothing learned, nothing written"


def test_stdout_and_stderr_keep_their_order_in_one_log(tenv: Env) -> None:
    tenv.sh("tool-talk", "for i in 1 2 3; do echo out$i; echo err$i >&2; done\n")
    log = tenv.root / "log"
    subprocess.run(["/bin/sh", "-c", f'"{TOOL}" talk > {log} 2>&1'], env=tenv.vars, timeout=HANG_BOUND, check=True)
    assert log.read_text().split() == ["out1", "err1", "out2", "err2", "out3", "err3"]


def test_a_file_shaped_like_a_hello_is_just_data(tenv: Env) -> None:
    tenv.sh("tool-show", 'cat "$1"\n')
    data = tenv.root / "data.jsonl"
    data.write_text(HELLO + '\n{"type":"log","level":"error","message":"not a log"}\n{"type":"result","data":1}\n')
    before = tenv.run("list", "--json").stdout
    for args in (("show", str(data)), ("--timeout", "30", "show", str(data))):
        proc = tenv.run(*args)
        assert (proc.returncode, proc.stdout, proc.stderr) == (0, data.read_bytes(), b"")
    proc = tenv.run("--json", "show", str(data))
    lines = [json.loads(x) for x in proc.stdout.splitlines()]
    assert "".join(m["text"] for m in lines if m["type"] == "output").encode() == data.read_bytes()
    assert tenv.run("list", "--json").stdout == before, "nothing a plain plugin prints is metadata"


def test_environment_is_exactly_what_the_user_gave(tenv: Env) -> None:
    # The environment as exec'd, before sh adds its own variables (PWD).
    tenv.sh("tool-envdump", "tr '\\0' '\\n' < /proc/$$/environ | sort\n")
    given = {"PATH": tenv.vars["PATH"], "HOME": tenv.vars["HOME"], "LANG": "C"}
    expected = sorted([*(f"{k}={v}" for k, v in given.items()), f"TOOL_BIN={TOOL}", "TOOL_COMMAND=envdump"])
    for args in (["envdump"], ["--timeout", "30", "envdump"]):
        proc = subprocess.run(["env", "-i", *(f"{k}={v}" for k, v in given.items()), TOOL, *args],
                              capture_output=True, timeout=HANG_BOUND)
        assert proc.stdout.decode().splitlines() == expected, "no LC_CTYPE from the host's interpreter"
    # What the user set themselves is kept.
    proc = subprocess.run(["env", "-i", *(f"{k}={v}" for k, v in given.items()), "LC_CTYPE=C.UTF-8", TOOL, "envdump"],
                          capture_output=True, timeout=HANG_BOUND)
    assert "LC_CTYPE=C.UTF-8" in proc.stdout.decode().splitlines()


def test_background_jobs_of_a_plugin_survive_it(tenv: Env) -> None:
    for i, args in enumerate((["bg"], ["--timeout", "30", "bg"], ["--json", "bg"])):
        flag = tenv.root / f"alive{i}"
        tenv.sh("tool-bg", f"(sleep 0.5; echo alive > {flag}) >/dev/null 2>&1 &\necho started\n")
        proc = tenv.run(*args)
        assert proc.returncode == 0
        end = time.monotonic() + HANG_BOUND
        while not flag.exists() and time.monotonic() < end:
            time.sleep(0.05)
        assert flag.read_text() == "alive\n", args


# -- at a terminal ---------------------------------------------------------------------------

# It says when it waits (on the terminal: its stdout may be a pipe), so that the test types then.
TTYREAD = 'echo "waiting $1" > /dev/tty\nread line < /dev/tty\necho "got $line"\n'


def test_a_plugin_reading_the_terminal_with_stdin_and_stdout_redirected(tenv: Env) -> None:
    tenv.sh("tool-ttyread", TTYREAD)
    for pipeline in (f'echo piped | "{TOOL}" ttyread | cat', f'x=$("{TOOL}" ttyread); echo "captured: $x"'):
        term = PtyRun([], {**tenv.vars, "TERM": "xterm"}, tenv.root, argv=["/bin/sh", "-c", pipeline])
        term.read_until(b"waiting")
        term.send(b"typed\r")
        code, screen = term.finish()
        assert code == 0, screen
        assert b"got typed" in screen


def test_a_supervised_plugin_reads_the_terminal_at_once_even_from_command_substitution(tenv: Env) -> None:
    """bash runs $(...) with SIGTTIN ignored: a plugin reading /dev/tty from a background group
    would get EIO at once. It is the terminal's foreground job from its first instruction."""
    tenv.sh("tool-ttyread", TTYREAD)
    script = f'v=$("{TOOL}" --timeout 30 ttyread 1); echo "captured: $v"; w=$("{TOOL}" --json ttyread 2); echo "json: $w"'
    term = PtyRun([], {**tenv.vars, "TERM": "xterm"}, tenv.root, argv=["bash", "-c", script])
    term.read_until(b"waiting 1")
    term.send(b"first\r")
    term.read_until(b"captured: got first")
    term.read_until(b"waiting 2")
    term.send(b"second\r")
    code, screen = term.finish()
    assert code == 0 and b"got second" in screen, screen


def test_the_terminal_is_put_back_after_a_timeout_stops_a_raw_mode_program(tenv: Env) -> None:
    import termios

    reader = KEYREADER.replace("while len(keys) < 20:", "while True:")
    tenv.plugin("tool-rawwait", reader)
    term = in_pty(tenv, "--timeout", "1", "rawwait")
    before = termios.tcgetattr(term.master)
    term.read_until(b"ready")
    assert termios.tcgetattr(term.master) != before, "raw while the program runs"
    code, _ = term.finish(close=False)
    assert code == 124
    assert termios.tcgetattr(term.master) == before, "the host put the terminal back, as a shell does for a killed job"
    os.close(term.master)


KEYREADER = f"""#!{sys.executable}
import os, sys, termios, tty
fd = os.open("/dev/tty", os.O_RDWR)
saved = termios.tcgetattr(fd)
tty.setraw(fd, termios.TCSANOW)  # keys typed ahead are kept
os.write(fd, b"ready\\r\\n")
keys = b""
while len(keys) < 20:
    keys += os.read(fd, 20 - len(keys))
termios.tcsetattr(fd, termios.TCSADRAIN, saved)
print("keys:", keys.decode())
"""


def test_a_pager_like_program_gets_every_key(tenv: Env) -> None:
    """A raw-mode key reader (what less, vim or fzf do) sees the same keys through tool as run directly."""
    reader = tenv.plugin("tool-keys", KEYREADER)
    keys = b"abcdefghijklmnopqrst"
    screens = []
    for argv in ([str(reader)], [TOOL, "keys"]):
        term = PtyRun([], {**tenv.vars, "TERM": "xterm"}, tenv.root, argv=argv)
        for key in keys[:5]:  # typed ahead, before it is even ready
            term.send(bytes([key]))
        term.read_until(b"ready")
        for key in keys[5:]:
            term.send(bytes([key]))
            time.sleep(0.01)
        code, screen = term.finish()
        assert code == 0
        screens.append(screen[screen.index(b"keys:"):].strip())
    assert screens[0] == screens[1] == b"keys: " + keys


def test_ctrl_z_and_fg_in_an_interactive_shell(tenv: Env) -> None:
    # One process (a shell that forks `sleep` can be caught by Ctrl-Z inside vfork, where
    # it stays unstoppable: the same run directly, and not what this test is about).
    tenv.plugin("tool-nap", f"#!{sys.executable}\nimport time\nprint('started', flush=True)\ntime.sleep(1)\nprint('finished')\n")
    term = shell_in_pty(tenv)
    term.send(b'"$TOOL" nap\r')
    term.read_until(b"started")
    term.send(b"\x1a")  # Ctrl-Z
    term.read_until(b"Stopped")
    term.send(b"fg\r")
    term.read_until(b"finished")
    term.send(b"exit\r")
    code, _ = term.finish()
    assert code == 0


def test_keys_typed_ahead_reach_the_shell(tenv: Env) -> None:
    tenv.sh("tool-busy", "echo busy\nsleep 0.5\n")
    term = shell_in_pty(tenv)
    term.send(b'"$TOOL" busy\r')
    term.read_until(b"busy\r\n")
    term.send(b"echo $((40+2))\r")  # typed while the plugin runs, which does not read them
    term.read_until(b"\r\n42\r\n")
    term.send(b"exit\r")
    code, _ = term.finish()
    assert code == 0


def test_a_repl_on_its_first_run(tenv: Env) -> None:
    os.symlink(sys.executable, tenv.bin / "tool-py")
    term = in_pty(tenv, "py", "-q")
    term.read_until(b">>> ")
    term.send(b"import os; print(os.isatty(0), os.isatty(1), os.getpgrp() == os.tcgetpgrp(0))\r")
    term.read_until(b"True True True")
    term.send(b"exit()\r")
    code, _ = term.finish()
    assert code == 0


# -- declared plugins that do not greet -------------------------------------------------------

@pytest.mark.slow
def test_a_declared_plugin_that_does_not_greet_runs_as_plain_and_doctor_says_so(tenv: Env) -> None:
    tenv.sh("tool-liar", f"{DECLARATION}cat\necho done\n")
    proc = tenv.run("liar", input=b"some input\n")
    assert (proc.returncode, proc.stdout, proc.stderr) == (0, b"some input\ndone\n", b"")
    proc = tenv.run("doctor", "--json")
    codes = [f["code"] for f in json.loads(proc.stdout)["findings"]]
    assert codes == ["did_not_greet"]
    assert "declares the protocol but did not greet" in tenv.run("doctor").stdout.decode()
