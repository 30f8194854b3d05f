"""Fault injection: plugins that misbehave in one way each, and a host that survives all of them.

Every test asserts the exit code, the message, a (generous) time bound, and
that no process the plugin started is left behind (checked by pid).
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from tests.conftest import DECLARATION, HANG_BOUND, TOOL, Env, err_line, python_plugin, raw_plugin, sdk_plugin, started

HELLO = '{"type":"hello","protocol":1}'


def alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def assert_all_gone(pidfile: Path, within: float = 10.0) -> None:
    pids = [int(p) for p in pidfile.read_text().split()]
    assert pids, "the plugin recorded its pids"
    end = time.monotonic() + within
    while time.monotonic() < end and any(alive(p) for p in pids):
        time.sleep(0.05)
    survivors = [p for p in pids if alive(p)]
    for p in survivors:
        os.kill(p, signal.SIGKILL)
    assert not survivors, f"processes left behind: {survivors}"


def timed(tenv: Env, *args: str, env: dict[str, str] | None = None, input: bytes | None = None) -> tuple[subprocess.CompletedProcess[bytes], float]:
    start = time.monotonic()
    proc = tenv.run(*args, env=env, input=input)
    return proc, time.monotonic() - start


def start(tenv: Env, *args: str, env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
    """The real tool in the background, killed and reaped after the test whatever happens."""
    return started(
        [TOOL, *args], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        env={**tenv.vars, **(env or {})}, cwd=tenv.root,
    )


def wait_for_line(proc: subprocess.Popen[bytes], marker: bytes, timeout: float = HANG_BOUND) -> None:
    """The next line of the process's stdout contains `marker` (within `timeout`)."""
    import select

    fd = proc.stdout.fileno()  # type: ignore[union-attr]
    line = b""
    end = time.monotonic() + timeout
    while not line.endswith(b"\n"):
        ready, _, _ = select.select([fd], [], [], max(0.0, end - time.monotonic()))
        if not ready:
            raise AssertionError(f"no line with {marker!r} within {timeout} s; got {line!r}")
        byte = os.read(fd, 1)
        if not byte:
            break
        line += byte
    assert marker in line, line


# -- timeouts ------------------------------------------------------------------------------

HANG_WITH_CHILD = """\
echo $$ > {pids}
sleep 300 & echo $! >> {pids}
echo started
wait
"""


@pytest.mark.parametrize("kind", ["plain", "declares-but-does-not-greet"])
def test_timeout_stops_a_plain_plugin_and_its_children(tenv: Env, kind: str) -> None:
    pids = tenv.root / "pids"
    tenv.sh("tool-hang", ("" if kind == "plain" else DECLARATION) + HANG_WITH_CHILD.format(pids=pids))
    proc, took = timed(tenv, "--timeout", "1", "hang")
    assert proc.returncode == 124
    assert proc.stdout == b"started\n"
    assert err_line(proc) == "tool: tool-hang did not finish within 1 s (--timeout); it was stopped"
    assert took < 15
    assert_all_gone(pids)


def test_timeout_from_the_environment(tenv: Env) -> None:
    tenv.sh("tool-slow", "echo started; sleep 300\n")
    proc, took = timed(tenv, "slow", env={"TOOL_TIMEOUT": "1"})
    assert proc.returncode == 124 and took < 15
    proc = tenv.run("slow", env={"TOOL_TIMEOUT": "soon"})
    assert proc.returncode == 2 and "TOOL_TIMEOUT needs a positive number of seconds" in err_line(proc)


def test_timeout_before_the_hello(tenv: Env) -> None:
    pids = tenv.root / "pids"
    tenv.sh("tool-mute", f"echo $$ > {pids}; sleep 300\n")
    proc, took = timed(tenv, "--timeout", "1", "mute", env={"TOOL_HANDSHAKE_TIMEOUT": "5"})
    assert proc.returncode == 124 and took < 15
    assert_all_gone(pids)


def test_timeout_cancels_a_protocol_plugin_which_stops_cleanly(tenv: Env) -> None:
    sdk_plugin(tenv, "tool-spin", """
        try:
            while True:
                time.sleep(0.05)
        finally:
            ctx.log.info("cleaned up")
    """)
    proc, took = timed(tenv, "--timeout", "1", "spin")
    assert proc.returncode == 124
    assert b"cleaned up" in proc.stderr
    assert took < 10


@pytest.mark.slow
def test_timeout_escalates_when_cancel_and_sigterm_are_ignored(tenv: Env) -> None:
    pids = tenv.root / "pids"
    python_plugin(
        tenv,
        "tool-stubborn",
        f"""
        import os, signal, sys, time
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        open({str(pids)!r}, "w").write(str(os.getpid()))
        sys.stdout.write({HELLO!r} + "\\n"); sys.stdout.flush()
        while True:
            time.sleep(0.05)   # never reads stdin: ignores cancel and EOF
        """,
    )
    proc, took = timed(tenv, "--json", "--timeout", "1", "stubborn")
    assert proc.returncode == 124
    lines = [json.loads(x) for x in proc.stdout.splitlines()]
    assert lines[-2]["code"] == "timeout" and lines[-1] == {"type": "exit", "code": 124}
    assert took < 20  # 1 s + cancel grace + SIGTERM grace
    assert_all_gone(pids)


# -- Ctrl-C and signals to the host ---------------------------------------------------------

def test_interrupt_cancels_a_protocol_plugin_that_reports(tenv: Env) -> None:
    sdk_plugin(tenv, "tool-work", """
        ctx.output("ready\\n")
        try:
            while True:
                time.sleep(0.05)
        except KeyboardInterrupt:
            return {"interrupted": True, "cancelled": ctx.cancelled}
    """)
    proc = start(tenv, "--json", "work")
    wait_for_line(proc, b"ready")
    proc.send_signal(signal.SIGINT)
    out, _ = proc.communicate(timeout=HANG_BOUND)
    assert proc.returncode == 0, "it finished cleanly by itself: its own status"
    lines = [json.loads(x) for x in out.splitlines()]
    assert lines[0] == {"type": "result", "data": {"interrupted": True, "cancelled": True}}


@pytest.mark.slow
def test_interrupt_escalates_for_a_plugin_ignoring_cancel(tenv: Env) -> None:
    raw = f"{DECLARATION}import sys, time\nsys.stdout.write({HELLO!r} + '\\n' + '{{\"type\":\"output\",\"text\":\"ready\\\\n\"}}\\n')\nsys.stdout.flush()\nwhile True: time.sleep(0.05)\n"
    tenv.plugin("tool-deaf", f"#!{sys.executable}\n{raw}")
    proc = start(tenv, "deaf")
    wait_for_line(proc, b"ready")
    t0 = time.monotonic()
    proc.send_signal(signal.SIGINT)
    proc.communicate(timeout=HANG_BOUND)
    assert proc.returncode == -signal.SIGINT, "the run was interrupted: the host dies by SIGINT, as a shell loop needs"
    assert time.monotonic() - t0 < 15
    # A second Ctrl-C does not wait for the grace period.
    proc = start(tenv, "deaf")
    wait_for_line(proc, b"ready")
    t0 = time.monotonic()
    proc.send_signal(signal.SIGINT)
    time.sleep(0.2)
    proc.send_signal(signal.SIGINT)
    proc.communicate(timeout=HANG_BOUND)
    assert proc.returncode == -signal.SIGINT
    assert time.monotonic() - t0 < 1.9, "escalated at once, not after the 2 s grace"


def test_interrupt_reaches_a_plain_plugin_which_decides(tenv: Env) -> None:
    tenv.sh("tool-trap", "trap 'echo got-int; exit 7' INT\necho ready\nwhile :; do sleep 0.05; done\n")
    proc = start(tenv, "trap")
    wait_for_line(proc, b"ready")
    proc.send_signal(signal.SIGINT)
    out, _ = proc.communicate(timeout=HANG_BOUND)
    assert (proc.returncode, out) == (7, b"got-int\n")


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGHUP])
def test_term_and_hup_to_the_host_are_forwarded_and_escalated(tenv: Env, sig: signal.Signals) -> None:
    pids = tenv.root / "pids"
    tenv.sh("tool-ignore", f"trap '' TERM HUP\necho $$ > {pids}\nsleep 300 & echo $! >> {pids}\necho ready\nwait\n")
    # Supervised (a timeout keeps the host there): the host forwards the signal, then escalates.
    proc = start(tenv, "--timeout", "300", "ignore")
    wait_for_line(proc, b"ready")
    proc.send_signal(sig)
    proc.communicate(timeout=HANG_BOUND)
    assert proc.returncode == -sig, "the host dies by the signal it was sent, after stopping the plugin"
    assert_all_gone(pids)


def test_sdk_plugin_stops_when_the_host_is_killed(tenv: Env) -> None:
    pids = tenv.root / "pids"
    sdk_plugin(tenv, "tool-child", f"""
        open({str(pids)!r}, "w").write(str(os.getpid()))
        ctx.output("ready\\n")
        while True:
            time.sleep(0.05)
    """)
    proc = start(tenv, "child")
    wait_for_line(proc, b"ready")
    proc.kill()  # SIGKILL: the host cannot clean up; the plugin sees EOF on stdin
    proc.communicate(timeout=HANG_BOUND)
    assert_all_gone(pids, within=15)


# -- streams that stay open, close early, or flood ------------------------------------------

def test_grandchild_holding_stdout_does_not_keep_the_host(tenv: Env) -> None:
    pids = tenv.root / "pids"
    for name, body in (
        ("tool-daemon", f"(sleep 30 & echo $! > {pids})\necho done\nexit 3\n"),
        ("tool-pdaemon", f"{DECLARATION}printf '%s\\n' '{HELLO}' '{{\"type\":\"output\",\"text\":\"done\\n\"}}'\n(sleep 30 & echo $! > {pids})\nexit 3\n"),
    ):
        tenv.sh(name, body)
        out = tenv.root / "out"
        with open(out, "wb") as f:
            t0 = time.monotonic()
            code = subprocess.run([TOOL, name[5:]], stdout=f, stderr=subprocess.DEVNULL, env=tenv.vars, timeout=HANG_BOUND).returncode
            took = time.monotonic() - t0
        assert (code, out.read_bytes()) == (3, b"done\n")
        assert took < 10
        for p in pids.read_text().split():
            os.kill(int(p), signal.SIGKILL)


@pytest.mark.parametrize("kind", ["plain", "declares-but-does-not-greet"])
def test_closed_stdout_stops_a_plain_plugin_quietly(tenv: Env, kind: str) -> None:
    tenv.sh("tool-yes", ("" if kind == "plain" else DECLARATION) + "exec yes\n")
    proc = subprocess.run(
        ["/bin/sh", "-c", f'"{TOOL}" yes | head -1'], env=tenv.vars, capture_output=True, timeout=HANG_BOUND
    )
    assert proc.stdout == b"y\n"
    assert proc.stderr == b"", "no traceback, no 'Exception ignored' noise"


def test_closed_stdout_stops_a_protocol_plugin(tenv: Env) -> None:
    pids = tenv.root / "pids"
    sdk_plugin(tenv, "tool-flood", f"""
        open({str(pids)!r}, "w").write(str(os.getpid()))
        while True:
            ctx.output("line\\n" * 100)
    """)
    proc = subprocess.run(
        ["/bin/sh", "-c", f'"{TOOL}" flood | head -1; echo "status=$?"'], env=tenv.vars, capture_output=True, timeout=HANG_BOUND
    )
    assert proc.stdout == b"line\nstatus=0\n"
    assert b"Traceback" not in proc.stderr and b"Exception ignored" not in proc.stderr
    assert_all_gone(pids)


def test_floods_on_stdout_and_stderr_at_once(tenv: Env) -> None:
    size = 30_000_000
    tenv.sh("tool-flood", f"head -c {size} /dev/zero >&2 &\nhead -c {size} /dev/zero\nwait\n")
    proc = tenv.run("flood")
    assert proc.returncode == 0
    assert len(proc.stdout) == size and len(proc.stderr) == size


def test_protocol_flood_with_stderr_flood(tenv: Env) -> None:
    sdk_plugin(tenv, "tool-pflood", """
        def noise():
            for _ in range(2000):
                sys.stderr.write("e" * 4999 + "\\n")
        t = threading.Thread(target=noise)
        t.start()
        for i in range(20000):
            ctx.output(f"{i}\\n")
            if i % 100 == 0:
                ctx.log.debug(f"at {i}")
        t.join()
        return {"count": 20000}
    """, header="import threading")
    proc = tenv.run("--json", "pflood")
    assert proc.returncode == 0
    lines = [json.loads(x) for x in proc.stdout.splitlines()]
    text = "".join(m["text"] for m in lines if m["type"] == "output")
    assert text == "".join(f"{i}\n" for i in range(20000))
    assert lines[-2] == {"type": "result", "data": {"count": 20000}}
    assert proc.stderr.count(b"e" * 4999 + b"\n") == 2000


# -- the cache under fault --------------------------------------------------------------------

def test_concurrent_first_runs_are_all_correct(tenv: Env) -> None:
    tenv.sh("tool-plainc", 'echo "plain $1"\n' + "#" * 300_000 + "\n")  # large: its scan is cached
    raw_plugin(tenv, "tool-protoc", [HELLO, '{"type":"output","text":"proto\\n"}'])
    procs = []
    for i in range(40):
        name = "plainc" if i % 2 else "protoc"
        procs.append((name, i, started([TOOL, name, str(i)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=tenv.vars)))
    for name, i, p in procs:
        out, err = p.communicate(timeout=HANG_BOUND)
        assert p.returncode == 0, err
        assert out == (f"plain {i}\n".encode() if name == "plainc" else b"proto\n")
    cache = tenv.root / "cache" / "tool"
    assert [os.readlink(e) for e in (cache / "declared").iterdir()] == ["TOOL_PROTOCOL=no"], "no torn or temporary entries"
    (entry,) = (cache / "metadata").iterdir()
    assert json.loads(entry.read_text())["protocol"] == 1


def test_full_disk_cache_changes_nothing(tenv: Env) -> None:
    mnt = tenv.root / "tiny"
    mnt.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=16k,nr_inodes=8", "tmpfs", str(mnt)], capture_output=True).returncode != 0:
        pytest.skip("cannot mount a tmpfs here")
    try:
        i = 0
        while True:  # fill it up: no space, no inodes
            try:
                (mnt / f"fill{i}").write_bytes(b"x" * 4096)
            except OSError:
                break
            i += 1
        tenv.sh("tool-c", 'echo "plain"\n' + "#" * 300_000 + "\n")
        raw_plugin(tenv, "tool-p", [HELLO, '{"type":"output","text":"proto\\n"}'])
        for _ in range(2):
            proc = tenv.run("c", env={"XDG_CACHE_HOME": str(mnt)})
            assert (proc.returncode, proc.stdout, proc.stderr) == (0, b"plain\n", b"")
            proc = tenv.run("p", env={"XDG_CACHE_HOME": str(mnt)})
            assert (proc.returncode, proc.stdout, proc.stderr) == (0, b"proto\n", b"")
    finally:
        subprocess.run(["umount", str(mnt)], capture_output=True)


def test_garbage_cache_entry_is_rewritten(tenv: Env) -> None:
    tenv.sh("tool-c", "echo hi\n" + "#" * 300_000 + "\n")
    tenv.run("c")
    (entry,) = list((tenv.root / "cache" / "tool" / "declared").iterdir())
    entry.unlink()
    entry.write_bytes(b"\x00\xff truncated")
    assert tenv.run("c").stdout == b"hi\n"
    assert os.readlink(entry) == "TOOL_PROTOCOL=no"


# -- plugin file races --------------------------------------------------------------------------

@pytest.mark.slow
def test_plugin_replaced_deleted_and_half_written_while_running(tenv: Env) -> None:
    path = tenv.bin / "tool-race"
    stop = threading.Event()
    full = "#!/bin/sh\necho complete\n"

    def churn() -> None:
        i = 0
        while not stop.is_set():
            i += 1
            tmp = tenv.bin / f".race{i}"
            mode = i % 4
            try:
                if mode == 0:
                    path.unlink(missing_ok=True)
                elif mode == 1:
                    tmp.write_text(full)
                    tmp.chmod(0o755)
                    os.replace(tmp, path)
                elif mode == 2:
                    with open(path, "w") as f:  # an upgrade written in place, in two steps
                        f.write(full[:12])
                        f.flush()
                        f.write(full[12:])
                    path.chmod(0o755)
                else:
                    path.write_bytes(b"\x7fELF\x02\x01\x01")  # a binary cut short
                    path.chmod(0o755)
            except OSError:
                pass
            time.sleep(0.004)  # long enough that some runs see a complete file on a slow machine

    t = threading.Thread(target=churn)
    t.start()
    try:
        seen = set()
        for _ in range(150):
            proc = tenv.run("race")
            seen.add(proc.returncode)
            # 2: sh itself could not open the file it was given (deleted in between).
            assert proc.returncode in (0, 2, 126, 127), proc.stderr
            err = proc.stderr.decode()
            assert "Traceback" not in err and "internal error" not in err
            if proc.returncode and not err.startswith("tool: "):
                # Replaced after the host looked and before sh read it: sh names the file itself.
                assert "tool-race" in err, err
    finally:
        stop.set()
        t.join()
    assert 0 in seen


def test_truncated_binary_is_126_not_run_by_sh(tenv: Env) -> None:
    path = tenv.bin / "tool-elf"
    path.write_bytes(b"\x7fELF\x02\x01\x01\x00" + b"\x00" * 8)
    path.chmod(0o755)
    proc = tenv.run("elf")
    assert proc.returncode == 126
    assert "exec format error" in err_line(proc)


# -- resource limits ---------------------------------------------------------------------------

def test_max_output(tenv: Env) -> None:
    tenv.sh("tool-yes", "exec yes\n")
    proc, took = timed(tenv, "--max-output", "1000", "yes")
    assert proc.returncode == 124
    assert proc.stdout == b"y\n" * 500
    assert err_line(proc) == "tool: tool-yes wrote more than 1000 bytes to stdout (--max-output); it was stopped"
    assert took < 15
    proc = tenv.run("--json", "--max-output", "1K", "yes")
    lines = proc.stdout.splitlines()
    assert json.loads(lines[-1]) == {"type": "exit", "code": 124}
    assert json.loads(lines[-2])["code"] == "limit_exceeded"


def test_max_cpu(tenv: Env) -> None:
    tenv.sh("tool-busy", "echo start\nwhile :; do :; done\n")
    proc, took = timed(tenv, "--max-cpu", "1", "busy")
    assert proc.returncode == 124
    assert "used more than 1 s of CPU time (--max-cpu)" in err_line(proc)
    assert took < 30


def test_max_memory(tenv: Env) -> None:
    python_plugin(tenv, "tool-hog", "print('start', flush=True)\nx = bytearray(512 * 1024 * 1024)\nprint('allocated')\n")
    proc = tenv.run("--max-memory", "100M", "hog")
    assert proc.returncode == 1
    assert b"MemoryError" in proc.stderr
    assert "(--max-memory); the limit may be the cause" in proc.stderr.decode().splitlines()[-1]
    assert tenv.run("hog").returncode == 0


@pytest.mark.parametrize(("args", "fragment"), [(["--max-output", "lots"], "positive size"), (["--max-cpu", "0"], "positive number")])
def test_bad_limits_are_usage_errors(tenv: Env, args: list[str], fragment: str) -> None:
    proc = tenv.run(*args, "x")
    assert proc.returncode == 2 and fragment in err_line(proc)


# -- the host's own standard streams -------------------------------------------------------------

@pytest.mark.parametrize("args", [["--version"], ["list"], ["closed"], ["nosuch"]])
def test_closed_standard_streams_are_not_a_crash(tenv: Env, args: list[str]) -> None:
    tenv.sh("tool-closed", "echo out; echo err >&2; exit 0\n")
    for redirect in (">&-", "2>&-", "<&-", ">&- 2>&- <&-"):
        proc = subprocess.run(
            ["/bin/sh", "-c", f'"{TOOL}" {" ".join(args)} {redirect}; echo "status=$?"'],
            capture_output=True, env=tenv.vars, timeout=HANG_BOUND, stdin=subprocess.DEVNULL,
        )
        err = proc.stderr.decode()
        assert "Traceback" not in err and "internal error" not in err, (redirect, err)
        expected = 127 if args == ["nosuch"] else 0
        assert f"status={expected}".encode() in proc.stdout, (redirect, proc.stdout)


def test_full_disk_on_stdout_is_one_clear_line(tenv: Env) -> None:
    for args in (["--version"], ["list", "--json"]):
        with open("/dev/full", "w") as full:
            proc = subprocess.run([TOOL, *args], stdout=full, stderr=subprocess.PIPE, env=tenv.vars, timeout=HANG_BOUND)
        assert proc.returncode == 1
        assert proc.stderr.decode() == "tool: cannot write the output: No space left on device\n"
