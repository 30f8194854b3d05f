"""What a person sees of a protocol plugin at a terminal (issue 21), on a pseudo-terminal: the
terminal through a child's pager and back, a question from the background, rows before the
question that follows them, tables and progress in display columns, the plugin's own stderr
among what the host draws, job control, parallel runs, and the last words after a timeout."""
from __future__ import annotations

import os
import signal
import subprocess
import termios

from protocol.width import cells
from tests.conftest import HANG_BOUND, TOOL, Env, PtyRun, sdk_plugin, shell_in_pty
from tests.vt import screen


def _pty(tenv: Env, *args: str, cols: int = 80, argv: list[str] | None = None) -> PtyRun:
    return PtyRun(list(args), {**tenv.vars, "TERM": "xterm", "TOOL": TOOL}, tenv.root, cols=cols, argv=argv)


def _shell(tenv: Env) -> PtyRun:
    """bash with job control on a terminal that can show progress, telling job changes at once."""
    inputrc = tenv.root / "inputrc"
    inputrc.write_text("set enable-bracketed-paste off\n")
    shell = shell_in_pty(tenv, extra={"TERM": "xterm", "INPUTRC": str(inputrc)})
    shell.send(b"set -b; echo ready\r")
    shell.read_until(b"ready\r\n$ ")
    shell.buf = b""
    return shell


# -- 1. the terminal after a child used it ---------------------------------------------------------

PAGER = 'printf "pager: " >/dev/tty; read a </dev/tty; echo "paged $a" >/dev/tty'


def test_a_question_after_a_childs_pager_is_asked(tenv: Env) -> None:
    sdk_plugin(tenv, "tool-pages", f"""
        subprocess.run(["sh", "-c", {PAGER!r}])
        ok = ctx.confirm("ok?")
        ctx.output(f"confirmed={{ok}}\\n")
    """, header="import subprocess")
    term = _pty(tenv, "pages")
    term.read_until(b"pager: ")
    term.send(b"q\r")
    term.read_until(b"ok? [y/n] ")
    term.send(b"y\r")
    code, buf = term.finish()
    assert code == 0, buf
    assert "confirmed=True" in screen(buf)


def test_ctrl_c_after_a_childs_pager_ends_a_shell_loop(tenv: Env) -> None:
    sdk_plugin(tenv, "tool-pages", f"""
        subprocess.run(["sh", "-c", {PAGER!r}])
        print("waiting", file=sys.stderr, flush=True)
        time.sleep(HANG)
    """, header=f"import subprocess\nHANG = {HANG_BOUND}")
    term = _pty(tenv, "pages")
    term.read_until(b"pager: ")
    term.send(b"q\r")
    term.read_until(b"waiting")
    term.send(b"\x03")
    code, _ = term.finish()
    assert code == -signal.SIGINT, "the host dies by SIGINT, as a shell loop needs to see"


# -- 2. a question from a background job ---------------------------------------------------------

ASK = """
name = ctx.prompt("Name?")
ctx.output(f"hello {name}\\n")
"""


def test_a_question_in_the_background_stops_the_job_until_fg(tenv: Env) -> None:
    sdk_plugin(tenv, "tool-ask", ASK)
    shell = _shell(tenv)
    shell.send(b'"$TOOL" ask &\r')
    shell.read_until(b"Stopped")
    shell.send(b"fg\r")
    shell.read_until(b"Name? ")
    shell.send(b"Ada\r")
    shell.read_until(b"hello Ada")
    shell.send(b"echo status=$?\r")
    shell.read_until(b"status=0")
    shell.send(b"exit\r")
    shell.finish()


# -- 3. rows before the question about them ------------------------------------------------------

def test_rows_are_shown_before_the_question_that_follows_them(tenv: Env) -> None:
    sdk_plugin(tenv, "tool-kill", """
        for i in range(3):
            ctx.record({"pid": 100 + i, "name": f"proc{i}"})
        ok = ctx.confirm("Kill them all?")
        ctx.output(f"killed={ok}\\n")
    """)
    term = _pty(tenv, "kill")
    term.read_until(b"Kill them all? [y/n] ")
    shown = screen(term.buf)
    assert shown[:4] == ["PID  NAME", "100  proc0", "101  proc1", "102  proc2"], shown
    assert shown[4] == "Kill them all? [y/n]"
    term.send(b"n\r")
    code, buf = term.finish()
    assert code == 0 and "killed=False" in screen(buf)


# -- 4. tables in display columns ------------------------------------------------------------------

CITIES = """
for row in ({"city": "Paris", "people": 2102650, "note": "x"},
            {"city": "東京都", "people": 13960000, "note": "y"},
            {"city": "서울특별시", "people": 9411000, "note": "z"}):
    ctx.record(row)
time.sleep(0.5)  # past the rows held back to size the columns
ctx.record({"city": "Lagos", "people": 123456789012, "note": "late " * 40})
"""


def test_a_table_stays_aligned_in_display_columns_at_any_width(tenv: Env) -> None:
    sdk_plugin(tenv, "tool-cities", CITIES)
    for cols in (40, 80, 200):
        code, buf = _pty(tenv, "cities", cols=cols).finish()
        assert code == 0
        lines = screen(buf, cols)
        assert len(lines) == 5, (cols, lines)
        assert all(cells(line) <= cols for line in lines), (cols, lines)
        first_rows = [cells(_up_to_number(line)) for line in lines[1:4]]
        assert len(set(first_rows)) == 1, f"the numbers of the first rows end in one column at {cols}: {lines}"
        assert "123456789012" in lines[4], f"a late, longer number is never cut: {lines[4]!r}"
        assert lines[4].endswith("\u2026") or cols == 200


def _up_to_number(line: str) -> str:
    """The line up to the end of its first run of digits (the PEOPLE column)."""
    i = next(i for i, c in enumerate(line) if c.isdigit())
    while i < len(line) and line[i].isdigit():
        i += 1
    return line[:i]


# -- 5. progress in display columns ------------------------------------------------------------------

def test_cjk_progress_at_40_columns_leaves_no_stale_line(tenv: Env) -> None:
    sdk_plugin(tenv, "tool-copy", """
        for i in range(11):
            ctx.progress("東京都の大きなファイルをコピーしています", i, 10)
            time.sleep(0.06)
        ctx.output("done\\n")
    """)
    code, buf = _pty(tenv, "copy", cols=40).finish()
    assert code == 0
    assert b"10/10 (100%)" in buf, "the counter is kept when the message is cut"
    assert screen(buf, 40) == ["done"]


def test_progress_on_a_terminal_that_reports_no_width(tenv: Env) -> None:
    sdk_plugin(tenv, "tool-copy", """
        ctx.progress("copying", 1, 2)
        time.sleep(0.2)
        ctx.output("done\\n")
    """)
    code, buf = _pty(tenv, "copy", cols=0).finish()
    assert code == 0 and b"copying 1/2 (50%)" in buf, buf


# -- 6. the plugin's own stderr among what the host draws --------------------------------------------

def test_a_stray_line_on_stderr_during_progress_is_kept_whole(tenv: Env) -> None:
    sdk_plugin(tenv, "tool-noisy", """
        ctx.progress("working", 1, 3)
        time.sleep(0.1)
        print("stray line", file=sys.stderr, flush=True)
        time.sleep(0.1)
        ctx.progress("working", 2, 3)
        time.sleep(0.1)
        ctx.output("finished\\n")
    """)
    code, buf = _pty(tenv, "noisy").finish()
    assert code == 0
    assert screen(buf) == ["stray line", "finished"]


def test_stdout_and_stderr_into_one_file_keep_their_order(tenv: Env) -> None:
    sdk_plugin(tenv, "tool-mix", """
        for i in range(3):
            ctx.output(f"out {i}\\n")
            time.sleep(0.05)
            print(f"err {i}", file=sys.stderr, flush=True)
            time.sleep(0.05)
    """)
    log = tenv.root / "log"
    done = subprocess.run(["sh", "-c", f'"{TOOL}" mix > {log} 2>&1'], env=tenv.vars, timeout=HANG_BOUND, check=False)
    assert done.returncode == 0
    assert log.read_text().splitlines() == ["out 0", "err 0", "out 1", "err 1", "out 2", "err 2"]


def test_the_plugins_stderr_is_a_terminal_of_the_users_size(tenv: Env) -> None:
    sdk_plugin(tenv, "tool-size", """
        ctx.output(f"tty={sys.stderr.isatty()} cols={os.get_terminal_size(2).columns}\\n")
    """)
    code, buf = _pty(tenv, "size", cols=132).finish()
    assert code == 0 and "tty=True cols=132" in screen(buf, 132)


# -- 7. progress and job control, and several runs on one terminal -----------------------------------

PROGRESS = """
for i in range(30):
    ctx.progress("working", i, 30)
    time.sleep(0.05)
ctx.output(f"done {' '.join(args)}\\n")
"""


def test_no_progress_is_drawn_while_in_the_background(tenv: Env) -> None:
    sdk_plugin(tenv, "tool-prog", PROGRESS)
    shell = _shell(tenv)
    shell.send(b'"$TOOL" prog bg &\r')
    shell.read_until(b"done bg")
    assert b"working" not in shell.buf
    shell.send(b"wait; exit\r")
    shell.finish()


def test_ctrl_z_and_fg_leave_no_stale_progress_line(tenv: Env) -> None:
    sdk_plugin(tenv, "tool-prog", PROGRESS.replace("range(30)", "range(200)"))
    shell = _shell(tenv)
    shell.send(b'"$TOOL" prog fg\r')
    shell.read_until(b"working")
    shell.send(b"\x1a")
    shell.read_until(b"Stopped")
    shown = screen(shell.buf)
    assert not any("working" in line for line in shown), shown
    shell.buf = b""
    shell.send(b"fg\r")
    shell.read_until(b"working")
    shell.buf = b""
    shell.send(b"\x03")
    shell.read_until(b"$ ")  # the shell's prompt again: the run is over (keys typed sooner would be echoed amid it)
    assert not any("working" in line for line in screen(shell.buf)), screen(shell.buf)
    shell.send(b"echo status=$?\r")
    shell.read_until(b"status=130")
    shell.send(b"exit\r")
    shell.finish()


def test_parallel_runs_on_one_terminal_keep_every_line(tenv: Env) -> None:
    sdk_plugin(tenv, "tool-prog", PROGRESS)
    script = '"$TOOL" prog a & "$TOOL" prog b & "$TOOL" prog c & "$TOOL" prog d; wait'
    code, buf = _pty(tenv, argv=["bash", "-c", script]).finish()
    assert code == 0
    shown = screen(buf)
    assert sorted(line for line in shown if line.startswith("done")) == ["done a", "done b", "done c", "done d"], shown
    assert not any("working" in line for line in shown), shown


# -- 8. the last words after the terminal is restored -----------------------------------------------

def test_the_timeout_message_comes_after_the_terminal_is_restored(tenv: Env) -> None:
    tenv.sh("tool-raw", "stty raw -echo\nprintf 'raw mode on'\nsleep 30\n")
    term = _pty(tenv, "--timeout", "1", "raw")
    term.read_until(b"raw mode on")
    code, buf = term.finish(close=False)
    try:
        attrs = termios.tcgetattr(term.master)
    finally:
        os.close(term.master)
    assert code == 124
    assert attrs[3] & termios.ECHO and attrs[3] & termios.ICANON, "the terminal's settings are put back"
    shown = screen(buf)
    assert shown[0] == "raw mode on"
    assert shown[1].startswith("tool: tool-raw did not finish within 1 s"), shown


# -- 11. questions on the terminal, whatever stderr is ------------------------------------------------

def test_a_question_is_asked_on_the_terminal_when_stderr_is_a_file(tenv: Env) -> None:
    sdk_plugin(tenv, "tool-ask", ASK)
    log = tenv.root / "err.log"
    term = _pty(tenv, argv=["sh", "-c", f'"$TOOL" ask 2>{log}'])
    term.read_until(b"Name? ")
    term.send(b"Grace\r")
    code, buf = term.finish()
    assert code == 0 and "hello Grace" in screen(buf)
    assert b"Name?" not in log.read_bytes()


# -- 9. the host's own screens ---------------------------------------------------------------------

def _many_plugins(tenv: Env, count: int) -> None:
    for i in range(count):
        tenv.sh(f"tool-p{i:03d}", f"# tool-summary: plugin number {i} does something useful, said in a summary of some length\ntrue\n")
    tenv.sh("tool-" + "a-name-longer-than-any-column-should-be-" * 2 + "x", "# tool-summary: long\ntrue\n")


def _raw_lines(buf: bytes) -> list[str]:
    """The lines as written (not as a terminal wraps them)."""
    return buf.decode().replace("\r\n", "\n").split("\n")


def test_help_and_list_fit_any_width_and_use_a_wide_one(tenv: Env) -> None:
    _many_plugins(tenv, 12)
    for cols in (40, 80, 200):
        for command in ("help", "list"):
            term = PtyRun([command], {**tenv.vars, "TERM": "xterm", "NO_COLOR": "1"}, tenv.root, cols=cols, rows=500)
            code, buf = term.finish()
            assert code == 0
            lines = _raw_lines(buf)
            widest = max(cells(line) for line in lines if not line.startswith("tool: "))
            assert widest < cols, (command, cols, widest)
            if command == "list":
                header = lines[0].split()
                assert header[:2] == ["NAME", "KIND"] and "SUMMARY" in header, (cols, header)
                assert ("PATH" in header) == (cols >= 80), (cols, header)
            if cols == 200:
                assert widest > 100, f"{command} uses the width it has ({widest} of {cols})"
    term = PtyRun(["help"], {**tenv.vars, "TERM": "xterm"}, tenv.root, cols=0, rows=0)
    code, buf = term.finish()
    assert code == 0 and max(cells(line) for line in _raw_lines(buf)) < 80, "a terminal of no size is 80 columns wide"


def test_long_help_and_list_go_through_the_pager_on_a_terminal_only(tenv: Env) -> None:
    _many_plugins(tenv, 40)
    paged = tenv.root / "paged"
    pager = tenv.root / "pager"
    pager.write_text(f'#!/bin/sh\necho "pager LESS=$LESS args=$*" >> {paged}\ncat >> {paged}\n')
    pager.chmod(0o755)
    env = {**tenv.vars, "TERM": "xterm", "PAGER": f"{pager} --flag"}
    for command in ("help", "list"):
        code, buf = PtyRun([command], env, tenv.root, rows=24).finish()
        assert code == 0 and b"p039" not in buf, "the text went to the pager"
    text = paged.read_text()
    assert text.count("pager LESS=FRX args=--flag\n") == 2 and "plugin number 39" in text and "NAME" in text
    paged.unlink()
    for args, extra in ((["--no-pager", "help"], {}), (["help"], {"TOOL_PAGER": "cat"}), (["help"], {"LINES": "1"})):
        code, buf = PtyRun(args, {**env, **extra}, tenv.root, rows=24 if "LINES" not in extra else 200).finish()
        assert code == 0 and b"p039" in buf, args
    assert tenv.run("help", env={"PAGER": str(pager)}).returncode == 0
    assert tenv.run("--json", "list", env={"PAGER": str(pager)}).returncode == 0
    assert not paged.exists(), "never into a pipe, never under --json, never with --no-pager or a short text"


# -- 10. limits from the config, and plain plugins at a terminal ------------------------------------

def test_the_configs_limits_leave_a_plain_plugin_at_a_terminal_as_under_git(tenv: Env) -> None:
    config = tenv.root / "config" / "tool"
    config.mkdir(parents=True)
    (config / "config.toml").write_text('[defaults]\ntimeout = "30s"\nmax_output = "10M"\n')
    tenv.sh("tool-whoami", 'if [ -t 1 ]; then echo "pid=$$ tty=yes"; else echo "pid=$$ tty=no"; fi\n')
    term = _pty(tenv, "whoami")
    code, buf = term.finish()
    assert code == 0 and f"pid={term.proc.pid} tty=yes".encode() in buf, "exec'd: the host's pid, the user's terminal"
    term = _pty(tenv, "--timeout", "30", "whoami")
    code, buf = term.finish()
    assert code == 0 and f"pid={term.proc.pid} ".encode() not in buf, "an explicit limit still supervises it"
    proc = subprocess.run([TOOL, "whoami"], env=tenv.vars, capture_output=True, timeout=HANG_BOUND, stdin=subprocess.DEVNULL, check=False)
    assert proc.returncode == 0 and b"tty=no" in proc.stdout, "in a script the config's limits apply"


def test_a_resized_window_reaches_the_plugins_stderr_and_progress(tenv: Env) -> None:
    import fcntl
    import struct

    sdk_plugin(tenv, "tool-watch", """
        ctx.output("watching\\n")
        for _ in range(HANG * 10):
            ctx.progress("a message long enough to be cut when the window is made narrower than it", 1, 2)
            if os.get_terminal_size(2).columns == 50:
                ctx.output("resized\\n")
                break
            time.sleep(0.1)
    """, header=f"HANG = {HANG_BOUND}")
    term = _pty(tenv, "watch", cols=120)
    term.read_until(b"watching")
    fcntl.ioctl(term.master, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 50, 0, 0))
    term.read_until(b"resized")
    code, buf = term.finish()
    assert code == 0
    after = buf[buf.index(b"resized"):]
    assert b"1/2 (50%)" in buf and all(cells(line) < 50 for line in screen(after, 50))
