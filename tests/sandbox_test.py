"""`--sandbox`: a plugin confined by the kernel (docs/sandbox.md), tried with real processes.

A confined plugin, plain (exec'd) and protocol (supervised), tries to get out: read a secret in
HOME (directly, through a link in the working directory, through /proc/self/root), write where
its policy does not let it, reach a listener on 127.0.0.1 (TCP and UDP), regain rights through
a set-user-ID program or another binary. The tests that need the kernel's Landlock skip, saying
so, where it is missing (or older than ABI 3); everything else runs everywhere.
"""
from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from dispatch.sandbox import confine, seatbelt
from dispatch.sandbox.policy import Policy, Rules, narrowest, parse
from tests.conftest import HANG_BOUND, TOOL, Env, err_line, in_pty, offered, python_plugin, raw_plugin, sdk_plugin, started


def _landlock_missing() -> str | None:
    if not sys.platform.startswith("linux"):
        return "Landlock is Linux's"
    missing = confine.unenforceable()
    return None if missing is None else f"this kernel cannot confine: it lacks {missing}"


needs_landlock = pytest.mark.skipif(_landlock_missing() is not None, reason=str(_landlock_missing()))
SECRET = "the-secret-in-home"


class Box:
    """A home with a secret, a working directory with a link to it, a place outside both."""

    def __init__(self, tenv: Env) -> None:
        self.tenv = tenv
        self.home = Path(tenv.vars["HOME"])
        (self.home / "secret").write_text(SECRET)
        self.work = tenv.root / "work"
        self.work.mkdir()
        (self.work / "link").symlink_to(self.home)
        self.outside = tenv.root / "outside"
        self.outside.mkdir()

    def config(self, text: str) -> None:
        path = self.tenv.root / "config" / "tool" / "config.toml"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)

    def run(self, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[bytes]:
        return self.tenv.run(*args, cwd=self.work, env={"OUTSIDE": str(self.outside), **(env or {})})


@pytest.fixture
def box(tenv: Env) -> Box:
    return Box(tenv)


# What a plain plugin tries: each line says what happened.
ESCAPES = """\
try() { if eval "$2" >/dev/null 2>&1; then echo "$1: yes"; else echo "$1: no"; fi; }
try home 'cat "$HOME/secret"'
try link 'cat link/secret'
try proc 'cat "/proc/self/root$HOME/secret"'
try list-home 'ls "$HOME"'
try tmpdir 'echo x > "$TMPDIR/f" && test -s "$TMPDIR/f"'
try workdir 'echo x > ./made-here'
try outside 'echo x > "$OUTSIDE/made-there"'
try truncate 'truncate -s 0 "$HOME/secret"'
try other-binary 'sh -c "cat \\"\\$HOME/secret\\""'
echo "tmp=$TMPDIR"
"""


def _said(proc: subprocess.CompletedProcess[bytes]) -> dict[str, str]:
    lines = proc.stdout.decode().splitlines()
    return dict(line.split(": ", 1) for line in lines if ": " in line)


def _escapes(box: Box, name: str = "tool-esc") -> None:
    box.tenv.sh(name, ESCAPES)


def test_unknown_policies_are_usage_errors_wherever_they_come_from(box: Box) -> None:
    box.tenv.sh("tool-hi", "echo hi\n")
    for args, env in ((("--sandbox=everything", "hi"), {}), (("hi",), {"TOOL_SANDBOX": "read-write"}),
                      (("--sandbox=", "hi"), {}), (("--sandbox=read-only,net,net", "hi"), {})):
        proc = box.run(*args, env=env)
        assert proc.returncode == 2, (args, env, proc)
        assert "unknown sandbox policy" in err_line(proc) and "read-only" in err_line(proc)
        assert proc.stdout == b""
    box.config('[sandbox.plugins]\nhi = "open"\n')
    proc = box.run("hi")
    assert proc.returncode == 2 and "sandbox.plugins.hi" in err_line(proc)


def test_the_option_never_takes_the_next_word_as_its_policy(box: Box) -> None:
    box.tenv.sh("tool-workdir", "echo the-workdir-command\n")
    proc = box.run("--sandbox", "workdir")
    if _landlock_missing() is None:
        assert proc.returncode == 0 and proc.stdout == b"the-workdir-command\n", proc
    else:
        assert proc.returncode == 126, proc  # still the command `workdir`, refused unconfined


@needs_landlock
@pytest.mark.parametrize("how", ["exec", "supervised"])
def test_a_read_only_plain_plugin_cannot_get_out(box: Box, how: str) -> None:
    _escapes(box)
    args = ("--sandbox", "esc") if how == "exec" else ("--sandbox", "--timeout", "60", "esc")
    proc = box.run(*args)
    said = _said(proc)
    assert proc.returncode == 0, proc
    assert {k: said[k] for k in ("home", "link", "proc", "list-home", "truncate", "other-binary")} == dict.fromkeys(
        ("home", "link", "proc", "list-home", "truncate", "other-binary"), "no"), said
    assert (said["tmpdir"], said["workdir"], said["outside"]) == ("yes", "no", "no"), said
    assert (box.home / "secret").read_text() == SECRET
    assert not (box.work / "made-here").exists() and not (box.outside / "made-there").exists()
    assert SECRET.encode() not in proc.stdout


@needs_landlock
def test_workdir_writes_the_working_directory_and_nothing_else(box: Box) -> None:
    _escapes(box)
    proc = box.run("--sandbox=workdir", "esc")
    said = _said(proc)
    assert (said["workdir"], said["tmpdir"], said["outside"], said["home"], said["link"]) == ("yes", "yes", "no", "no", "no")
    assert (box.work / "made-here").read_text() == "x\n"


NET_PLUGIN = """
import os, socket, sys
port = int(sys.argv[1])
def attempt(what, fn):
    try:
        fn()
        print(what + ": yes")
    except OSError as e:
        print(what + ": no " + (e.strerror or ""))
def tcp():
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        s.sendall(b"tcp-hello")
def udp():
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.sendto(b"udp-hello", ("127.0.0.1", port))
def unix():
    socket.socket(socket.AF_UNIX, socket.SOCK_STREAM).close()
def raw():
    socket.socket(socket.AF_PACKET, socket.SOCK_RAW).close()
def pair():
    a, b = socket.socketpair()
    a.close(); b.close()
def uring():
    import ctypes
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.syscall(425, 1, ctypes.create_string_buffer(120)) < 0:
        raise OSError(ctypes.get_errno(), os.strerror(ctypes.get_errno()))
for what, fn in (("tcp", tcp), ("udp", udp), ("unix", unix), ("raw", raw), ("pair", pair), ("io_uring", uring)):
    attempt(what, fn)
"""


def _listeners() -> tuple[socket.socket, socket.socket, int]:
    tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    tcp.bind(("127.0.0.1", 0))
    tcp.listen(4)
    port = tcp.getsockname()[1]
    udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        udp.bind(("127.0.0.1", port))
    except OSError:
        tcp.close()
        pytest.skip("the UDP port beside the TCP listener is taken")
    return tcp, udp, port


def _received(tcp: socket.socket, udp: socket.socket) -> tuple[bool, bool]:
    tcp.settimeout(0)
    udp.settimeout(0)
    try:
        conn, _ = tcp.accept()
        conn.close()
        got_tcp = True
    except BlockingIOError:
        got_tcp = False
    try:
        got_udp = udp.recv(64) == b"udp-hello"
    except BlockingIOError:
        got_udp = False
    return got_tcp, got_udp


@needs_landlock
@pytest.mark.parametrize("policy", ["read-only", "workdir", "read-only,net"])
@pytest.mark.parametrize("how", ["exec", "json"])
def test_no_ip_traffic_leaves_a_plugin_without_net(box: Box, policy: str, how: str) -> None:
    python_plugin(box.tenv, "tool-net", NET_PLUGIN)
    tcp, udp, port = _listeners()
    with tcp, udp:
        proc = box.run(f"--sandbox={policy}", *(["--json"] if how == "json" else []), "net", str(port))
        got = _received(tcp, udp)
    out = proc.stdout.decode()
    text = "".join(json.loads(line).get("text", "") for line in out.splitlines()) if how == "json" else out
    said = {k: v.split()[0] for k, v in (line.split(": ", 1) for line in text.splitlines())}
    assert proc.returncode == 0, proc
    net = policy.endswith(",net")
    assert (said["tcp"], said["udp"]) == (("yes", "yes") if net else ("no", "no")), text
    assert got == (net, net)
    assert (said["unix"], said["raw"], said["io_uring"], said["pair"]) == ("no", "no", "no", "yes"), text


@needs_landlock
def test_a_confined_plain_plugin_keeps_its_pid_status_and_signals(box: Box) -> None:
    box.tenv.sh("tool-me", 'echo "pid=$$"\nexit 7\n')
    proc = started([TOOL, "--sandbox", "me"], stdout=subprocess.PIPE, env=box.tenv.vars, cwd=box.work)
    out, _ = proc.communicate(timeout=HANG_BOUND)
    assert (out, proc.returncode) == (f"pid={proc.pid}\n".encode(), 7)
    box.tenv.sh("tool-die", "kill -TERM $$\n")
    assert box.run("--sandbox", "die").returncode == -signal.SIGTERM
    assert box.run("--sandbox", "--timeout", "60", "die").returncode == -signal.SIGTERM


@needs_landlock
def test_a_confined_plugin_on_a_terminal_cannot_type_into_it(box: Box) -> None:
    python_plugin(box.tenv, "tool-type", """
        import fcntl, os, termios
        print("pid", os.getpid(), "tty", os.isatty(0), flush=True)
        try:
            fcntl.ioctl(0, termios.TIOCSTI, b"x")
            print("injected")
        except OSError as e:
            print("tiocsti", e.errno)
        print("size", len(fcntl.ioctl(1, termios.TIOCGWINSZ, b"\\0" * 8)))
    """)
    term = in_pty(box.tenv, "--sandbox", "type")
    code, screen = term.finish()
    assert code == 0, screen
    assert f"pid {term.proc.pid} tty True".encode() in screen, screen
    assert b"tiocsti 1" in screen and b"injected" not in screen and b"size 8" in screen, screen


def _setuid_copy(tenv: Env) -> Path | None:
    """A copy of `id` that is set-user-ID to nobody (65534), when the file system honours it."""
    source = shutil.which("id")
    if source is None or os.getuid() != 0:
        return None
    copy = tenv.bin / "suid-id"  # beside the plugin: its own directory, which it may run
    shutil.copy(source, copy)
    os.chown(copy, 65534, 65534)
    copy.chmod(0o4755)
    control = subprocess.run([str(copy), "-u"], capture_output=True, timeout=HANG_BOUND)
    return copy if control.stdout.strip() == b"65534" else None


@needs_landlock
def test_a_set_user_id_program_gives_a_confined_plugin_nothing(box: Box) -> None:
    copy = _setuid_copy(box.tenv)
    box.tenv.sh("tool-suid", f'grep -E "^(NoNewPrivs|Seccomp):" /proc/self/status\n{copy or "id"} -u\n')
    proc = box.run("--sandbox", "suid")
    lines = proc.stdout.decode().split("\n")
    assert "NoNewPrivs:\t1" in lines and "Seccomp:\t2" in lines, lines
    if copy is None:
        pytest.skip("no set-user-ID program to try here (not root, or the file system is nosuid)")
    assert lines[-2] == str(os.getuid()), "the set-user-ID bit had no effect under no_new_privs"


@needs_landlock
def test_a_python_plugin_runs_its_interpreter_and_reads_its_own_files(box: Box) -> None:
    own = box.tenv.root / "plugins"
    (own / "data").mkdir(parents=True)
    (own / "data" / "table.txt").write_text("own-data")
    python_plugin(box.tenv, "tool-own", """
        import os, sys
        here = os.path.dirname(os.path.realpath(__file__))
        print(open(os.path.join(here, "data", "table.txt")).read())
    """, directory=own)
    proc = box.run("--sandbox", "own", env={"PATH": f"{own}:{box.tenv.vars['PATH']}"})
    assert (proc.returncode, proc.stdout) == (0, b"own-data\n"), proc


PROTOCOL_ESCAPES = """
import os, socket
out = {}
def attempt(what, fn):
    try:
        fn()
        out[what] = "yes"
    except OSError:
        out[what] = "no"
home = os.environ["HOME"]
attempt("home", lambda: open(os.path.join(home, "secret")).read())
attempt("link", lambda: open("link/secret").read())
attempt("proc", lambda: open("/proc/self/root" + home + "/secret").read())
attempt("tmpdir", lambda: open(os.path.join(os.environ["TMPDIR"], "f"), "w").close())
attempt("outside", lambda: open(os.path.join(os.environ["OUTSIDE"], "f"), "w").close())
attempt("tcp", lambda: socket.create_connection(("127.0.0.1", int(args[0])), timeout=5).close())
out["tmp"] = os.environ["TMPDIR"]
return out
"""


@needs_landlock
def test_a_confined_protocol_plugin_cannot_get_out_and_the_host_stays_free(box: Box) -> None:
    sdk_plugin(box.tenv, "tool-pesc", PROTOCOL_ESCAPES)
    tcp, udp, port = _listeners()
    with tcp, udp:
        proc = box.run("--json", "--sandbox", "pesc", str(port))
        got = _received(tcp, udp)
    lines = [json.loads(line) for line in proc.stdout.decode().splitlines()]
    result = next(m["data"] for m in lines if m["type"] == "result")
    assert {k: v for k, v in result.items() if k != "tmp"} == {
        "home": "no", "link": "no", "proc": "no", "tmpdir": "yes", "outside": "no", "tcp": "no"}, proc
    assert lines[-1] == {"type": "exit", "code": 0} and got == (False, False)
    assert not os.path.exists(result["tmp"]), "a supervised run's TMPDIR goes with it"
    # In the test's own process (use_exec=False: supervised, spawned from a confining thread).
    called = box.tenv.call("--json", "--sandbox", "pesc", str(port), env={"OUTSIDE": str(box.outside)})
    assert called.returncode == 0, called
    assert (box.home / "secret").read_text() == SECRET, "the host's own thread is not confined"
    socket.socket(socket.AF_INET, socket.SOCK_DGRAM).close()
    assert not (box.outside / "f").exists()


@needs_landlock
def test_the_private_tmpdir_is_private_and_an_exec_d_one_is_pruned_later(box: Box) -> None:
    box.tenv.sh("tool-tmp", 'stat -c %a "$TMPDIR"; echo "$TMPDIR"\n')
    first = box.run("--sandbox", "tmp").stdout.decode().split()
    assert first[0] == "700" and os.path.isdir(first[1])
    second = box.run("--sandbox", "tmp").stdout.decode().split()
    assert not os.path.exists(first[1]), "the run that came after it removed it"
    assert second[1] != first[1]


@needs_landlock
def test_a_narrower_policy_on_the_command_line_beats_a_wider_one_from_config(box: Box) -> None:
    _escapes(box)
    box.config('[sandbox]\ndefault = "workdir,net"\n')
    assert _said(box.run("esc"))["workdir"] == "yes"
    assert _said(box.run("--sandbox=read-only", "esc"))["workdir"] == "no"
    assert _said(box.run("esc", env={"TOOL_SANDBOX": "read-only"}))["workdir"] == "no"
    # and a plugin's own entry narrows the command line's
    box.config('[sandbox.plugins]\nesc = "read-only"\n')
    assert _said(box.run("--sandbox=workdir", "esc"))["workdir"] == "no"
    box.tenv.sh("tool-other", "echo x > ./other-was-here\n")
    assert box.run("other").returncode == 0 and (box.work / "other-was-here").exists(), "unconfined: no policy for it"
    # In the config, a plugin's own entry takes the place of the default.
    box.config('[sandbox]\ndefault = "read-only"\n[sandbox.plugins]\nesc = "workdir"\n')
    assert _said(box.run("esc"))["workdir"] == "yes"
    (box.work / "other-was-here").unlink()
    assert box.run("other").returncode != 0 and not (box.work / "other-was-here").exists(), "confined by the default"


@needs_landlock
def test_the_config_grants_extra_paths(box: Box) -> None:
    shared = box.home / "shared"
    shared.mkdir()
    (shared / "notes").write_text("granted")
    out = box.home / "out"
    out.mkdir()
    box.tenv.sh("tool-extra", 'cat "$HOME/shared/notes"; echo; echo y > "$HOME/out/f" && echo wrote; cat "$HOME/secret"\n')
    box.config('[sandbox]\ndefault = "read-only"\nread = ["~/shared"]\n[sandbox.plugins]\nextra = { write = ["~/out"] }\n')
    proc = box.run("extra")
    assert proc.stdout == b"granted\nwrote\n", proc
    assert b"Permission denied" in proc.stderr


@needs_landlock
def test_verbose_says_which_rules_were_applied(box: Box) -> None:
    box.tenv.sh("tool-hi", "echo hi\n")
    proc = box.run("-v", "--sandbox=workdir", "hi")
    err = proc.stderr.decode()
    assert "tool: sandbox workdir: network denied" in err
    assert f"sandbox write: {box.work}" in err and "sandbox read: /usr" in err
    assert proc.stdout == b"hi\n"
    home_as_cwd = box.tenv.run("-v", "--sandbox", "hi", cwd=box.home)
    assert "it contains your home directory" in home_as_cwd.stderr.decode()


def test_list_shows_each_plugin_s_policy(box: Box) -> None:
    box.tenv.sh("tool-fmt", "true\n")
    box.tenv.sh("tool-free", "true\n")
    box.config('[sandbox.plugins]\nfmt = "workdir"\n')
    plugins = {p["name"]: p for p in json.loads(box.run("list", "--json").stdout)["plugins"]}
    assert (plugins["fmt"]["sandbox"], plugins["free"]["sandbox"]) == ("workdir", None)
    plugins = {p["name"]: p for p in json.loads(box.run("--sandbox=read-only,net", "list", "--json").stdout)["plugins"]}
    assert (plugins["fmt"]["sandbox"], plugins["free"]["sandbox"]) == ("read-only", "read-only,net")
    text = box.run("list").stdout.decode()
    assert "plain [workdir]" in text and "plain [" not in text.split("free", 1)[1].split("\n", 1)[0]


def test_doctor_says_whether_the_machine_enforces_the_policies_in_use(box: Box) -> None:
    box.config('[sandbox]\ndefault = "read-only"\n[sandbox.plugins]\nfetch = "read-only,net"\n')
    report = json.loads(box.run("doctor", "--json").stdout)
    assert report["sandbox"]["policies"] == ["read-only", "read-only,net"]
    codes = [f["code"] for f in report["findings"]]
    assert ("sandbox_unenforceable" in codes) == (_landlock_missing() is not None)
    assert json.loads(box.run("doctor", "--json").stdout)["sandbox"] is not None
    box.config("")
    assert json.loads(box.run("doctor", "--json").stdout)["sandbox"] is None


# A seccomp filter for the test's child: Landlock's three calls fail with ENOSYS, as on a
# kernel without it; `tool` started under it must refuse to run the plugin.
def _op(code: int, k: int, jt: int = 0, jf: int = 0) -> bytes:
    import struct

    return struct.pack("HBBI", code, jt, jf, k)


def _without_landlock() -> None:
    prog = _op(0x20, 0)  # load the call's number
    for number in (444, 445, 446):
        prog += _op(0x15, number, 0, 1) + _op(0x06, 0x00050000 | 38)  # ENOSYS
    _install(prog + _op(0x06, 0x7FFF0000))


def _without_seccomp() -> None:
    # x86_64: prctl (157) with PR_SET_SECCOMP (22) fails with EINVAL, as on a kernel without
    # seccomp filters; seccomp(2) itself (317) with ENOSYS.
    prog = _op(0x20, 0) + _op(0x15, 317, 0, 1) + _op(0x06, 0x00050000 | 38)
    prog += _op(0x15, 157, 0, 3) + _op(0x20, 16) + _op(0x15, 22, 0, 1) + _op(0x06, 0x00050000 | 22)
    _install(prog + _op(0x06, 0x7FFF0000))


def _install(prog: bytes) -> None:
    import ctypes
    import struct

    libc = ctypes.CDLL(None, use_errno=True)
    code = ctypes.create_string_buffer(prog)
    fprog = struct.pack("HxxxxxxP", len(prog) // 8, ctypes.addressof(code))
    assert libc.prctl(38, 1, 0, 0, 0) == 0
    assert libc.prctl(22, 2, ctypes.c_char_p(fprog), 0, 0) == 0


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="a seccomp filter is Linux's")
@pytest.mark.parametrize("how", ["exec", "json", "protocol"])
def test_fail_closed_when_the_kernel_cannot_confine(box: Box, how: str) -> None:
    marker = box.outside / "it-ran"
    if how == "protocol":
        raw_plugin(box.tenv, "tool-run", ['{"type":"hello","protocol":1}'], f"touch {marker}")
    else:
        box.tenv.sh("tool-run", f"touch {marker}\n")
    args = [TOOL, "--sandbox", *(["--json"] if how == "json" else []), "run"]
    proc = subprocess.run(args, capture_output=True, env=box.tenv.vars, cwd=box.work, timeout=HANG_BOUND,
                          preexec_fn=_without_landlock)
    assert proc.returncode == 126, proc
    if how == "json":
        assert json.loads(proc.stdout.splitlines()[-1]) == {"type": "exit", "code": 126}
    else:
        assert proc.stdout == b""
    line = err_line(proc)
    assert "cannot be enforced here" in line and "Landlock" in line and str(box.tenv.bin / "tool-run") in line
    assert not marker.exists(), "the plugin must not run unconfined"
    if how == "exec" and os.uname().machine == "x86_64" and _landlock_missing() is None:
        # With Landlock but no seccomp filter: the network would be open. Refused too.
        proc = subprocess.run(args, capture_output=True, env=box.tenv.vars, cwd=box.work, timeout=HANG_BOUND,
                              preexec_fn=_without_seccomp)
        assert proc.returncode == 126 and "the seccomp filter" in err_line(proc) and not marker.exists(), proc
    # Without a policy the same tool runs it.
    unconfined = subprocess.run(args[:1] + args[2:], capture_output=True, env=box.tenv.vars, cwd=box.work,
                                timeout=HANG_BOUND, preexec_fn=_without_landlock)
    assert unconfined.returncode == 0 and marker.exists(), unconfined


@needs_landlock
def test_a_sandboxed_plugin_calls_only_plugins_and_they_stay_confined(box: Box) -> None:
    box.tenv.sh("tool-peek", 'cat "$HOME/secret"\n')
    sdk_plugin(box.tenv, "tool-caller", """
        try:
            got = ctx.call(*args)
        except PluginError as e:
            return {"refused": str(e)}
        return {"exit": got.exit, "output": got.text}
    """)

    def result(*args: str) -> dict[str, object]:
        proc = box.run("--json", *args)
        found = [json.loads(line) for line in proc.stdout.splitlines()]
        return next(m["data"] for m in found if m["type"] == "result")  # type: ignore[no-any-return]

    confined = result("--sandbox", "caller", "peek")
    assert SECRET not in json.dumps(confined) and confined["exit"] == 1, confined
    for words in (["plugin", "install", "x"], ["list"], ["-C", str(box.home), "peek"], ["--sandbox=workdir,net", "peek"]):
        refused = result("--sandbox", "caller", *words)
        assert "may call other plugins only" in str(refused.get("refused")), (words, refused)
    assert result("caller", "peek") == {"exit": 0, "output": SECRET}, "without a sandbox the call runs as before"


@needs_landlock
def test_a_plugin_described_for_help_is_confined_too(box: Box) -> None:
    raw_plugin(box.tenv, "tool-desc", [], after=(
        'printf \'{"type":"hello","protocol":1}\\n\'; read -r _; s=$(cat "$HOME/secret" 2>/dev/null || echo denied); '
        'printf \'{"type":"description","summary":"%s"}\\n\' "$s"'))
    box.config('[sandbox.plugins]\ndesc = "read-only"\n')
    proc = box.run("help", "desc")
    assert SECRET.encode() not in proc.stdout + proc.stderr
    assert b"denied" in proc.stdout, proc


# Units: the policies, the option, the macOS profile ------------------------------------------

def test_the_narrowest_policy_allows_only_what_every_source_allows() -> None:
    assert parse("read-only,net") == Policy(workdir=False, net=True)
    assert narrowest([parse("workdir,net"), parse("read-only,net")]) == parse("read-only,net")
    assert narrowest([parse("workdir,net"), parse("workdir")]) == parse("workdir")
    assert narrowest([parse("workdir"), parse("read-only,net")]) == parse("read-only")
    assert narrowest([]) is None


def test_an_optional_option_value_is_given_with_an_equals_sign_only() -> None:
    from dispatch import Option
    from dispatch.options import parse as parse_options
    from dispatch.options import table

    level = Option("-l", "--level", metavar="N", optional=True, const="1", help="a level")
    flags = table([level])
    assert parse_options("p", ["--level", "deploy"], flags).settings == {"level": "1"}
    assert parse_options("p", ["--level", "deploy"], flags).rest == ["deploy"]
    assert parse_options("p", ["--level=3", "deploy"], flags).settings == {"level": "3"}
    assert parse_options("p", ["-l3", "x"], flags).settings == {"level": "3"}
    assert parse_options("p", ["-l", "x"], flags).rest == ["x"]
    with pytest.raises(ValueError):
        Option("--bad", optional=True, help="no metavar")


def test_help_shows_the_optional_value(tenv: Env) -> None:
    assert "--sandbox[=POLICY]" in tenv.call("help").stdout.decode()


def _rules(policy: str, paths: tuple[tuple[str, str, str], ...]) -> Rules:
    return Rules(parse(policy), paths, "/tmp/t", ())  # type: ignore[arg-type]


def test_the_seatbelt_profile_says_exactly_the_rules() -> None:
    rules = _rules("read-only", (("/usr", "read", ""), ('/Users/me/a "b"', "write", ""), ("/dev/null", "device", "")))
    text = seatbelt.profile(rules)
    assert text.startswith("(version 1)\n(deny default)")
    assert '(allow file-read*\n  (subpath "/usr")\n)' in text
    assert '(allow file-read* file-write*\n  (subpath "/Users/me/a \\"b\\"")\n)' in text
    assert "network" not in text
    assert "(allow network*)" in seatbelt.profile(_rules("workdir,net", ()))
    with pytest.raises(ValueError):
        seatbelt.quote("/a\nb")
    argv = confine.confine(rules, ["/bin/plugin", "x"], platform="darwin")
    assert argv[:2] == ["/usr/bin/sandbox-exec", "-p"] and argv[2] == text and argv[3:] == ["/bin/plugin", "x"]


def test_other_platforms_are_refused() -> None:
    assert confine.unenforceable("win32") is not None
    assert "Seatbelt" in (confine.unenforceable("darwin") or "Seatbelt") or os.path.exists(seatbelt.SANDBOX_EXEC)


@needs_landlock
def test_what_a_plugin_says_of_itself_grants_nothing_in_home(box: Box) -> None:
    home_bin = box.home / "bin"
    home_bin.mkdir()
    (home_bin / "backup.sh").write_text(f"#!/bin/sh\n# token {SECRET}\n")
    (home_bin / "backup.sh").chmod(0o755)
    # A plugin in ~/bin gets its own file, not its neighbours.
    box.tenv.sh("tool-neighbour", 'cat "$0" >/dev/null && echo self-ok; cat "$(dirname "$0")/backup.sh"\n', directory=home_bin)
    proc = box.run("--sandbox", "neighbour", env={"PATH": f"{home_bin}:{box.tenv.vars['PATH']}"})
    assert proc.stdout == b"self-ok\n" and SECRET.encode() not in proc.stdout, proc
    # A #! line naming a program in home (here through env) does not make it readable.
    box.tenv.plugin("tool-shebang", "#!/usr/bin/env backup.sh\n")
    proc = box.run("-v", "--sandbox", "shebang", env={"PATH": f"{home_bin}:{box.tenv.vars['PATH']}"})
    assert f"the interpreter {home_bin}/backup.sh is not granted" in proc.stderr.decode(), proc
    assert "sandbox read: " in proc.stderr.decode() and f"{home_bin}/backup.sh," not in proc.stderr.decode()


@needs_landlock
def test_workdir_never_writes_the_host_s_own_config(box: Box) -> None:
    box.tenv.sh("tool-rewrite", 'echo "[sandbox]" > config.toml && echo rewrote\n')
    config = box.work / "config.toml"
    config.write_text('[sandbox]\ndefault = "workdir"\n')
    proc = box.run("-v", "rewrite", env={"TOOL_CONFIG": str(config)})
    assert b"rewrote" not in proc.stdout and config.read_text() == '[sandbox]\ndefault = "workdir"\n', proc
    assert "is not writable" in proc.stderr.decode()


def test_the_docs_config_example_and_messages_are_what_tool_does(box: Box) -> None:
    doc = (Path(__file__).resolve().parent.parent / "docs" / "sandbox.md").read_text()
    example = doc.split("```toml\n", 1)[1].split("```", 1)[0]
    box.config(example)
    box.tenv.sh("tool-fmt", "true\n")
    plugins = {p["name"]: p["sandbox"] for p in json.loads(box.run("list", "--json").stdout)["plugins"]}
    assert plugins == {"fmt": "workdir"}
    proc = box.run("--sandbox=read-write", "fmt")
    assert err_line(proc) in doc, err_line(proc)


@needs_landlock
def test_workdir_never_writes_where_plugins_are_found(box: Box) -> None:
    plugins = box.work / "bin"
    box.tenv.sh("tool-other", "echo the-other\n", directory=plugins)
    box.tenv.sh("tool-replace", 'echo "#!/bin/sh" > bin/tool-other && echo replaced\n')
    proc = box.run("--sandbox=workdir", "replace", env={"TOOL_PLUGIN_PATH": str(plugins)})
    assert b"replaced" not in proc.stdout and (plugins / "tool-other").read_text().endswith("echo the-other\n"), proc


def test_completing_a_sandboxed_line_never_starts_the_plugin(box: Box) -> None:
    marker = box.outside / "started"
    box.tenv.sh("tool_complete-comp", f"touch {marker}\necho candidate\n")
    box.tenv.sh("tool-comp", "true\n")
    assert offered(box.run("__complete", "--", "comp", "").stdout) == ["candidate"] and marker.exists()
    marker.unlink()
    for flag in ("--sandbox", "--sandbox=workdir"):
        assert offered(box.run("__complete", "--", flag, "comp", "").stdout) == [] and not marker.exists()


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="Linux's calls")
def test_the_kernel_calls_report_their_errors() -> None:
    from dispatch.sandbox import linux

    # prctl(2) returns an int: read as a long, its -1 was once taken for success.
    for call in (lambda: linux.prctl(0x7FFF), lambda: linux.syscall(linux.LANDLOCK_CREATE_RULESET, 0, 0, 1 << 30)):
        with pytest.raises(OSError) as caught:
            call()
        assert caught.value.errno == 22  # EINVAL
    assert linux.prctl(39) in (0, 1)  # PR_GET_NO_NEW_PRIVS


# -- a policy given at install: kept with the version, through upgrades and locks ----------------


def _install_env(box: Box) -> Path:
    box.tenv.vars["XDG_DATA_HOME"] = str(box.tenv.root / "data")
    return box.tenv.root / "data" / "tool"


def _installed_sandbox(box: Box) -> dict[str, object]:
    proc = box.run("plugin", "list", "--json")
    assert proc.returncode == 0, proc
    return {p["name"]: p["sandbox"] for p in json.loads(proc.stdout)["plugins"]}


@needs_landlock
def test_a_policy_given_at_install_confines_every_run_and_survives_upgrades_and_locks(box: Box) -> None:
    data = _install_env(box)
    source = box.tenv.sh("tool-esc", ESCAPES, directory=box.tenv.root / "src")
    proc = box.run("plugin", "install", str(source), "--sandbox")
    assert proc.returncode == 0 and b", sandboxed read-only: tool esc" in proc.stdout, proc
    said = _said(box.run("esc"))
    assert (said["home"], said["workdir"], said["tmpdir"]) == ("no", "no", "yes"), said
    assert json.loads((data / "plugins" / "esc" / "current" / "manifest.json").read_text())["sandbox"] == "read-only"
    assert b"plain [read-only]" in box.run("list").stdout and _installed_sandbox(box) == {"esc": "read-only"}
    # The narrowest wins: neither the command line nor the config widens it.
    box.config('[sandbox.plugins]\nesc = "workdir"\n')
    assert _said(box.run("--sandbox=workdir", "esc"))["workdir"] == "no"
    box.config("")
    # An upgrade keeps it; so does installing it again without saying otherwise.
    source.write_text(source.read_text() + "echo upgraded\n")
    assert box.run("plugin", "upgrade", "esc").stdout.startswith(b"esc: upgraded ")
    proc = box.run("esc")
    assert b"upgraded" in proc.stdout and _said(proc)["home"] == "no", proc
    assert b"sandboxed read-only" in box.run("plugin", "install", str(source)).stdout
    assert _said(box.run("esc"))["home"] == "no"
    # The lock keeps it, and a locked install on a fresh machine reproduces it.
    lock = box.tenv.root / "plugins.lock"
    lock.write_bytes(box.run("plugin", "lock").stdout)
    assert 'sandbox = "read-only"' in lock.read_text()
    fresh = {"XDG_DATA_HOME": str(box.tenv.root / "fresh")}
    assert box.run("plugin", "install", "--locked", str(lock), env=fresh).returncode == 0
    assert _said(box.run("esc", env=fresh))["home"] == "no"
    # A policy changed at install, then removed on purpose.
    assert b"sandboxed workdir" in box.run("plugin", "install", str(source), "--sandbox=workdir").stdout
    said = _said(box.run("esc"))
    assert (said["home"], said["workdir"]) == ("no", "yes"), said
    assert b"sandboxed" not in box.run("plugin", "install", str(source), "--no-sandbox").stdout
    assert _said(box.run("esc"))["home"] == "yes" and _installed_sandbox(box) == {"esc": None}


def test_a_recorded_policy_that_cannot_be_used_stops_the_plugin(box: Box) -> None:
    data = _install_env(box)
    source = box.tenv.sh("tool-hi", "echo hi-ran\n", directory=box.tenv.root / "src")
    assert box.run("plugin", "install", str(source), "--sandbox=workdir,net").returncode == 0
    record = data / "plugins" / "hi" / "current" / "sandbox"
    assert record.read_text() == "workdir,net\n"
    # (root reads a file of mode 0: that case is for everyone else)
    for damage in ("unknown", "link", "unreadable")[: 2 if os.geteuid() == 0 else 3]:
        record.unlink()
        if damage == "unknown":
            record.write_text("everything\n")
        elif damage == "link":
            (box.outside / "policy").write_text("workdir,net\n")
            record.symlink_to(box.outside / "policy")
        else:
            record.write_text("workdir,net\n")
            record.chmod(0)
        proc = box.run("hi")
        assert proc.returncode == 126 and proc.stdout == b"", (damage, proc)
        line = err_line(proc)
        assert "was installed with" in line and "tool-hi" in line, line
        doctor = json.loads(box.run("doctor", "--json").stdout)
        assert "installed_changed" in [f["code"] for f in doctor["findings"]], (damage, doctor)
        listed = box.run("list")  # the others are listed still; this one says it cannot run
        assert listed.returncode == 0 and b"plain [unusable]" in listed.stdout, listed
    # A record removed (by someone who could as well change the plugin): doctor says what differs.
    record.unlink()
    doctor = json.loads(box.run("doctor", "--json").stdout)
    changed = [f["message"] for f in doctor["findings"] if f["code"] == "installed_changed"]
    assert changed and "installed with workdir,net" in changed[0], doctor


def test_install_sandbox_options_are_checked_before_anything_is_fetched(box: Box) -> None:
    data = _install_env(box)
    source = box.tenv.sh("tool-hi", "echo hi\n", directory=box.tenv.root / "src")
    for args in (("--sandbox=open",), ("--sandbox", "--no-sandbox")):
        proc = box.run("plugin", "install", str(source), *args)
        assert proc.returncode == 2 and proc.stdout == b"", (args, proc)
        err_line(proc)
    assert not (data / "plugins").exists() or not any((data / "plugins").iterdir())
    lock = box.tenv.root / "bad.lock"
    lock.write_text(f'lock = 1\n[[plugin]]\nname = "hi"\nkind = "file"\nsource = "{source}"\nsha256 = "{"0" * 64}"\n'
                    'files = {}\nsandbox = "open"\n')
    proc = box.run("plugin", "install", "--locked", str(lock))
    assert proc.returncode == 2 and "plugin 1 (hi): sandbox: unknown sandbox policy 'open'" in err_line(proc), proc
