"""Signal parity, the guard against orphans, and signals while a prompt waits.

A caller sees the same wait status whether the host exec'd the plugin or
supervised it: when the plugin dies by signal N, or the user's Ctrl-C
interrupted the run, the host dies by N after its last words.
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import DECLARATION, HANG_BOUND, TOOL, Env, in_pty, sdk_plugin, started

HELLO = '{"type":"hello","protocol":1}'


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return False
    return state != "Z"


def _all_gone(pids: list[int], within: float = 10.0) -> list[int]:
    end = time.monotonic() + within
    while time.monotonic() < end and any(_alive(p) for p in pids):
        time.sleep(0.05)
    survivors = [p for p in pids if _alive(p)]
    for p in survivors:
        os.kill(p, signal.SIGKILL)
    return survivors


def _wait_for(path: Path) -> str:
    end = time.monotonic() + HANG_BOUND
    while time.monotonic() < end:
        if path.exists() and path.read_text().endswith("\n"):
            return path.read_text()
        time.sleep(0.02)
    raise AssertionError(f"{path} was never written")


# -- the plugin dies by a signal -------------------------------------------------------------

@pytest.mark.parametrize("path", ["exec", "supervised", "protocol", "json"])
def test_a_plugin_killed_by_sigterm_is_seen_as_killed_by_sigterm(tenv: Env, path: str) -> None:
    body = "echo ready\nkill -TERM $$\nsleep 5\n"
    args = ["victim"]
    if path == "supervised":
        args = ["--timeout", "60", "victim"]
    elif path == "json":
        args = ["--json", "victim"]
    elif path == "protocol":
        body = f"{DECLARATION}printf '%s\\n' '{HELLO}'\nkill -TERM $$\nsleep 5\n"
    tenv.sh("tool-victim", body)
    proc = subprocess.run([TOOL, *args], capture_output=True, env=tenv.vars, timeout=HANG_BOUND)
    assert proc.returncode == -signal.SIGTERM, proc.stderr
    assert b"Traceback" not in proc.stderr
    if path == "json":
        assert json.loads(proc.stdout.splitlines()[-1]) == {"type": "exit", "code": 143}, "last words first"


def test_a_crash_is_reported_as_a_crash_without_a_core_of_the_host(tenv: Env) -> None:
    tenv.sh("tool-crash", "kill -SEGV $$\n")
    proc = subprocess.run(["/bin/sh", "-c", f'cd {tenv.root} && "{TOOL}" --timeout 60 crash; echo "status=$?"'],
                          capture_output=True, env=tenv.vars, timeout=HANG_BOUND)
    assert proc.stdout.endswith(b"status=139\n")
    assert not list(tenv.root.glob("core*")), "the host itself dumps no core"


@pytest.mark.parametrize("kind", ["supervised plain", "protocol"])
def test_a_shell_loop_stops_on_ctrl_c(tenv: Env, kind: str) -> None:
    ready = tenv.root / "ready"
    if kind == "protocol":
        sdk_plugin(tenv, "tool-wait", f"""
            open({str(ready)!r}, "w").write("ready\\n")
            while True:
                time.sleep(0.05)
        """)
        command = f'"{TOOL}" wait'
    else:
        tenv.sh("tool-wait", f"echo ready > {ready}\nexec sleep 60\n")
        command = f'"{TOOL}" --timeout 60 wait'
    script = f"for i in 1 2 3; do rm -f {ready}; {command}; echo \"after $i\"; done; echo end"
    proc = started(["bash", "-c", script], env=tenv.vars, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    _wait_for(ready)
    os.killpg(proc.pid, signal.SIGINT)  # what Ctrl-C does to a script's process group
    out, err = proc.communicate(timeout=HANG_BOUND)
    assert out == b"", "the loop stopped at once"
    assert proc.returncode == -signal.SIGINT, err


def test_sigquit_is_forwarded_like_sigterm(tenv: Env) -> None:
    ready = tenv.root / "ready"
    tenv.sh("tool-q", f"echo $$ > {ready}\nexec sleep 60\n")
    proc = started([TOOL, "--timeout", "60", "q"], env=tenv.vars, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    plugin = int(_wait_for(ready))
    proc.send_signal(signal.SIGQUIT)
    proc.communicate(timeout=HANG_BOUND)
    assert proc.returncode == -signal.SIGQUIT
    assert _all_gone([plugin]) == []


# -- the host is killed ------------------------------------------------------------------------

@pytest.mark.parametrize("kind", ["supervised plain", "json plain", "protocol ignoring eof", "declared, not greeting"])
def test_sigkill_of_the_host_leaves_no_plugin_behind(tenv: Env, kind: str) -> None:
    pids = tenv.root / "pids"
    keep = f"echo $$ > {pids}.tmp\nsleep 300 & echo $! >> {pids}.tmp\nmv {pids}.tmp {pids}\n"
    args = ["--timeout", "600", "orphan"]
    if kind == "supervised plain":
        tenv.sh("tool-orphan", keep + "wait\n")
    elif kind == "json plain":
        tenv.sh("tool-orphan", keep + "wait\n")
        args = ["--json", "orphan"]
    elif kind == "declared, not greeting":
        tenv.sh("tool-orphan", DECLARATION + keep + "wait\n")
        args = ["orphan"]
    else:
        tenv.sh("tool-orphan", f"{DECLARATION}trap '' TERM INT HUP\nprintf '%s\\n' '{HELLO}'\n{keep}exec 0<&-\nwait\n")
        args = ["orphan"]
    proc = started([TOOL, *args], env=tenv.vars, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    plugin_pids = [int(p) for p in _wait_for(pids).split()]
    os.kill(proc.pid, signal.SIGKILL)  # nothing can run in the host any more
    proc.wait(HANG_BOUND)
    assert _all_gone(plugin_pids) == [], "the guard took the plugin and its children with the host"


# -- signals and deadlines while a prompt waits -----------------------------------------------

PROMPTER = """
    try:
        name = ctx.prompt("Your name?", secret=bool(args))
        ctx.output(f"got {name}\\n")
    except Exception as e:
        ctx.log.info(f"prompt failed: {type(e).__name__}: {e}")
        raise
    finally:
        ctx.log.info("cleaned up")
"""


def test_a_timeout_ends_a_run_whose_prompt_waits(tenv: Env) -> None:
    sdk_plugin(tenv, "tool-ask", PROMPTER)
    term = in_pty(tenv, "--timeout", "1", "ask", "secret")
    term.read_until(b"Your name? ")
    code, screen = term.finish()
    assert code == 124, screen
    assert b"did not finish within 1 s (--timeout)" in screen
    assert b"cleaned up" in screen


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_a_signal_ends_a_run_whose_prompt_waits(tenv: Env, sig: int) -> None:
    sdk_plugin(tenv, "tool-ask", PROMPTER)
    term = in_pty(tenv, "ask", "secret")
    import termios

    before = termios.tcgetattr(term.master)
    term.read_until(b"Your name? ")
    assert not termios.tcgetattr(term.master)[3] & termios.ECHO, "a secret is not echoed"
    if sig == signal.SIGINT:
        term.send(b"\x03")  # Ctrl-C at the prompt
    else:
        term.proc.send_signal(sig)
    code, screen = term.finish(close=False)
    assert code == -sig, screen
    assert b"cleaned up" in screen, "the plugin was cancelled and stopped by itself"
    assert termios.tcgetattr(term.master) == before, "echo is back"
    os.close(term.master)


def test_what_a_plugin_hears_when_its_prompt_is_interrupted(tenv: Env) -> None:
    heard = tenv.root / "heard"
    tenv.plugin("tool-raw", f"""#!{sys.executable}
{DECLARATION}import sys
sys.stdout.write('{HELLO}\\n'); sys.stdout.flush()
log = open({str(heard)!r}, "w")
log.write(sys.stdin.readline()); log.flush()
sys.stdout.write('{{"type":"request","id":1,"method":"prompt","params":{{"message":"Name?"}}}}\\n'); sys.stdout.flush()
for line in sys.stdin:
    log.write(line); log.flush()
    if '"response"' in line:
        sys.exit(130)
""")
    term = in_pty(tenv, "raw")
    term.read_until(b"Name? ")
    term.send(b"\x03")
    code, _ = term.finish()
    assert code == -signal.SIGINT
    run, cancel, response = (json.loads(line) for line in heard.read_text().splitlines())
    assert run["type"] == "run" and run["interactive"] is True
    assert cancel == {"type": "cancel", "reason": "interrupt", "grace": 2.0}, "first why (and how long), then the answer"
    assert response["id"] == 1 and response["error"]["code"] == "cancelled"


def test_ctrl_c_at_a_prompt_always_ends_the_run_by_sigint(tenv: Env) -> None:
    """The cancel and the error answer to the pending prompt race in the plugin: the cancel wins."""
    sample = Path(__file__).resolve().parent.parent / "sample-plugins"
    tenv.plugin("tool-greet", (sample / "tool-greet").read_text().replace("#!/usr/bin/env python3", f"#!{sys.executable}"))
    tenv.plugin("tool-sysinfo", (sample / "tool-sysinfo").read_text())
    for args in [["greet"]] * 8 + [["sysinfo", "--ask"]] * 3:
        term = in_pty(tenv, *args)
        term.read_until(b"? ")
        term.send(b"\x03")
        code, screen = term.finish()
        assert code == -signal.SIGINT, (args, screen)
        assert b"error" not in screen and b"hello friend" not in screen, screen


def test_a_prompt_answered_at_the_terminal(tenv: Env) -> None:
    sdk_plugin(tenv, "tool-ask", PROMPTER)
    term = in_pty(tenv, "ask")
    term.read_until(b"Your name? ")
    term.send(b"Ada\r")
    code, screen = term.finish()
    assert code == 0 and b"got Ada" in screen


# -- the SDK ----------------------------------------------------------------------------------

def test_sdk_cancel_works_when_sigint_is_ignored(tenv: Env) -> None:
    sdk_plugin(tenv, "tool-nap", """
        try:
            time.sleep(60)   # one long blocking call: cancel must end it
        finally:
            ctx.log.info("cleaned up")
    """)
    start = time.monotonic()
    # As from a script's `tool nap &`: SIGINT ignored, inherited by tool and the plugin.
    proc = subprocess.run([TOOL, "--timeout", "1", "nap"], capture_output=True, env=tenv.vars, timeout=HANG_BOUND,
                          preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN))
    took = time.monotonic() - start
    assert proc.returncode == 124
    assert b"cleaned up" in proc.stderr, "cancelled by the SDK, not killed by the escalation"
    assert took < 2.9, "stopped within the cancel grace"


def test_sdk_cancel_works_when_the_plugin_handles_sigint_itself(tenv: Env) -> None:
    sdk_plugin(tenv, "tool-own", """
        import signal
        signal.signal(signal.SIGINT, lambda *a: None)  # the plugin's own handler, which does not raise
        try:
            while True:
                time.sleep(0.05)
        finally:
            ctx.log.info("cleaned up")
    """)
    proc = subprocess.run([TOOL, "--timeout", "1", "own"], capture_output=True, env=tenv.vars, timeout=HANG_BOUND)
    assert proc.returncode == 124
    assert b"cleaned up" in proc.stderr


def test_sdk_keeps_the_protocol_variable_from_its_children(tenv: Env) -> None:
    sdk_plugin(tenv, "tool-parent", """
        import subprocess
        out = subprocess.run(["sh", "-c", "env | grep -c PROTOCOL= || true"], capture_output=True).stdout
        ctx.output(f"children see {out.decode().strip()} protocol variable(s)\\n")
    """)
    assert tenv.run("parent").stdout == b"children see 0 protocol variable(s)\n"


def test_sdk_plugin_that_does_not_declare_runs_plain_and_says_how_to_declare(tenv: Env) -> None:
    path = sdk_plugin(tenv, "tool-undeclared", 'ctx.output("ran\\n")', declare=False)
    proc = tenv.run("undeclared")
    assert (proc.returncode, proc.stdout) == (0, b"ran\n")
    lines = proc.stderr.decode().splitlines()
    assert len(lines) == 1
    assert "does not declare the protocol" in lines[0]
    assert f"add the line '# speaks TOOL_PROTOCOL' near the top of {path}" in lines[0]
    # Run directly, not by tool: no note.
    direct = subprocess.run([str(path)], capture_output=True, env={k: v for k, v in tenv.vars.items()}, timeout=HANG_BOUND)
    assert (direct.stdout, direct.stderr) == (b"ran\n", b"")


def test_sdk_template_in_the_docs_declares(tenv: Env) -> None:
    sample = Path(__file__).resolve().parent.parent / "sample-plugins" / "tool-greet"
    assert "TOOL_PROTOCOL" in sample.read_text()
    proc = subprocess.run([sys.executable, "-c", "import protocol.plugin as p; print(p.__doc__)"], capture_output=True)
    assert b"# speaks TOOL_PROTOCOL" in proc.stdout


def test_sdk_cancel_reaches_the_main_thread_while_another_thread_waits_for_an_answer(tenv: Env) -> None:
    """A question asked from a worker thread is not the main thread waiting: the cancel must
    still interrupt the author's function (before, the one `waiting` flag of the channel
    stopped it, and the run was killed by the escalation instead)."""
    sdk_plugin(tenv, "tool-bg", """
        import threading
        asker = threading.Thread(target=lambda: ctx.prompt("Name?"), daemon=True)
        asker.start()
        try:
            time.sleep(60)
        finally:
            ctx.log.info("cleaned up")
    """)
    term = in_pty(tenv, "--timeout", "1", "bg")
    term.read_until(b"Name? ")
    start = time.monotonic()
    code, screen = term.finish()
    assert code == 124, screen
    assert b"cleaned up" in screen, "cancelled by the SDK, not killed by the escalation"
    assert time.monotonic() - start < 2.9, "stopped within the cancel grace"
