"""Fixtures: plugins written to tmp dirs, a PATH the test controls, the real `tool` entry point."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
import textwrap
from pathlib import Path

import pytest

pytest_plugins = ["tests.parallel"]  # every core: see tests/parallel.py

REPO = Path(__file__).resolve().parent.parent
# Directories plugins need for their utilities (sh, cat, the python that has the SDK);
# nothing here is named tool-*.
SYSTEM_PATH = f"{os.path.dirname(sys.executable)}:/usr/bin:/bin"
HANG_BOUND = 60  # seconds: only to turn a hang into a failure, never a speed check


def _find_tool() -> str:
    scripts = sysconfig.get_path("scripts")
    for candidate in (os.path.join(scripts, "tool"), os.path.join(os.path.dirname(sys.executable), "tool")):
        if os.access(candidate, os.X_OK):
            return candidate
    found = shutil.which("tool")
    if found:
        return found
    pytest.exit("the `tool` entry point is not installed: run pip install -e '.[test]' first", 2)


TOOL = _find_tool()


def pytest_sessionstart(session: pytest.Session) -> None:
    """The packages compiled once, before thousands of `tool` processes start: where Python may
    not write bytecode itself (PYTHONDONTWRITEBYTECODE, as some CI images set it), every one of
    them would compile the changed modules again (tens of milliseconds each run)."""
    import compileall

    for package in ("dispatch", "protocol"):
        try:
            compileall.compile_dir(str(REPO / package), quiet=2)
        except OSError:
            pass  # a read-only checkout: the interpreter's own caching is all there is


class Env:
    """A controlled environment for running the real `tool`: its own plugin dir, PATH, HOME and caches."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.bin = root / "bin"
        self.bin.mkdir()
        home = root / "home"
        home.mkdir()
        self.vars = {
            "PATH": f"{self.bin}:{SYSTEM_PATH}",
            "HOME": str(home),
            "XDG_CACHE_HOME": str(root / "cache"),
            "XDG_CONFIG_HOME": str(root / "config"),
            "LC_ALL": "C.UTF-8",
            # The host pages its long help on a terminal: the tests of the pager set their own.
            "PAGER": "cat",
        }

    def plugin(self, name: str, body: str, *, mode: int = 0o755, directory: Path | None = None) -> Path:
        """Write an executable plugin file; `body` is dedented; `name` is the full file name."""
        d = directory or self.bin
        d.mkdir(parents=True, exist_ok=True)
        path = d / name
        path.write_text(textwrap.dedent(body).lstrip())
        path.chmod(mode)
        return path

    def sh(self, name: str, script: str, **kw: object) -> Path:
        return self.plugin(name, "#!/bin/sh\n" + textwrap.dedent(script), **kw)  # type: ignore[arg-type]

    def call(self, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[bytes]:
        """The real `tool` run inside the test process: for routing, builtins and errors, where an
        interpreter start per call adds nothing. Plain plugins run as children (use_exec=False)."""
        import io
        import tempfile

        from dispatch.cli import Dispatcher

        captured = [tempfile.TemporaryFile(), tempfile.TemporaryFile()]  # noqa: SIM115 - closed below
        sys.stdout.flush()
        sys.stderr.flush()
        saved_fds = [os.dup(1), os.dup(2)]
        saved_files = (sys.stdout, sys.stderr)
        cwd = os.getcwd()
        os.dup2(captured[0].fileno(), 1)
        os.dup2(captured[1].fileno(), 2)
        sys.stdout = io.TextIOWrapper(open(1, "wb", closefd=False), write_through=True)  # noqa: SIM115 - put back below
        sys.stderr = io.TextIOWrapper(open(2, "wb", closefd=False), write_through=True)  # noqa: SIM115
        os.chdir(self.root)
        try:
            code = Dispatcher("tool", use_exec=False).main(list(args), environ={**self.vars, **(env or {})})
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            sys.stdout, sys.stderr = saved_files
            for fd, saved in ((1, saved_fds[0]), (2, saved_fds[1])):
                os.dup2(saved, fd)
                os.close(saved)
            os.chdir(cwd)
        out, err = (f.seek(0) or f.read() for f in captured)
        for f in captured:
            f.close()
        return subprocess.CompletedProcess(list(args), code, out, err)

    def run(
        self,
        *args: str | bytes,
        input: bytes | None = None,
        env: dict[str, str] | None = None,
        cwd: Path | None = None,
        exe: str = TOOL,
    ) -> subprocess.CompletedProcess[bytes]:
        # A session of its own: no controlling terminal, whatever the suite runs under, so that
        # nothing here can ask on the terminal of whoever runs the tests (PtyRun gives one).
        return subprocess.run(
            [exe, *args],
            input=input if input is not None else b"",
            capture_output=True,
            env={**self.vars, **(env or {})},
            cwd=cwd or self.root,
            timeout=HANG_BOUND,
            start_new_session=True,
        )


@pytest.fixture
def tenv(tmp_path: Path) -> Env:
    return Env(tmp_path)


@pytest.fixture
def ienv(tenv: Env) -> Env:
    """An Env whose installed plugins (`tool plugin install`) go to its own data directory."""
    tenv.vars["XDG_DATA_HOME"] = str(tenv.root / "data")
    return tenv


def err_line(proc: subprocess.CompletedProcess[bytes]) -> str:
    """The host's stderr, asserting it is exactly one `tool:` line and no traceback."""
    text = proc.stderr.decode()
    assert "Traceback" not in text, text
    lines = text.splitlines()
    assert len(lines) == 1, text
    assert lines[0].startswith("tool: "), text
    return lines[0]


DECLARATION = "# speaks TOOL_PROTOCOL\n"


def python_plugin(env: Env, name: str, body: str, *, declare: bool | None = None, **kw: object) -> Path:
    """A plugin in Python run by the interpreter that has the SDK installed.

    It declares the protocol when it uses the SDK, unless `declare` says otherwise.
    """
    body = textwrap.dedent(body)
    if declare is None:
        declare = "protocol.plugin" in body
    return env.plugin(name, f"#!{sys.executable}\n" + (DECLARATION if declare else "") + body, **kw)  # type: ignore[arg-type]


def raw_plugin(env: Env, name: str, lines: list[str], after: str = "", *, declare: bool = True) -> Path:
    """An sh plugin that writes exactly these lines to stdout, then runs `after`; it declares the protocol
    unless `declare` is false."""
    quoted = " ".join("'" + line.replace("'", "'\\''") + "'" for line in lines)
    return env.sh(name, (DECLARATION if declare else "") + f"printf '%s\\n' {quoted}\n{after}\n")


# Every process a test starts in the background, killed and reaped after the test whatever happened.
_STARTED: list[subprocess.Popen[bytes]] = []


@pytest.fixture(autouse=True)
def _reap_started() -> object:
    yield
    while _STARTED:
        proc = _STARTED.pop()
        if proc.poll() is None:
            try:
                os.killpg(proc.pid, 9)
            except OSError:
                proc.kill()
        try:
            proc.wait(HANG_BOUND)
        except subprocess.TimeoutExpired:
            pass


def _default_signals() -> None:
    # What a person's shell gives a command: the suite may itself run with SIGINT ignored
    # (started from a script's `cmd &`), which the programs under test must not inherit.
    import signal

    for sig in (signal.SIGINT, signal.SIGQUIT, signal.SIGTSTP, signal.SIGTTIN, signal.SIGTTOU):
        signal.signal(sig, signal.SIG_DFL)


def started(argv: list[str], **kw: object) -> subprocess.Popen[bytes]:
    """subprocess.Popen in a session of its own, reaped after the test (see _reap_started)."""
    kw.setdefault("start_new_session", True)
    preexec = kw.pop("preexec_fn", None)

    def setup() -> None:
        _default_signals()
        if callable(preexec):
            preexec()

    proc: subprocess.Popen[bytes] = subprocess.Popen(argv, preexec_fn=setup, **kw)  # type: ignore[call-overload]
    _STARTED.append(proc)
    return proc


class PtyRun:
    """The real `tool` (or `argv`) on a pseudo-terminal, driven like a person would."""

    def __init__(
        self, args: list[str], env: dict[str, str], cwd: Path, rows: int = 24, cols: int = 80, *, argv: list[str] | None = None
    ) -> None:
        import fcntl
        import pty
        import struct
        import termios

        self.master, slave = pty.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))
        self.proc = started(
            argv or [TOOL, *args], stdin=slave, stdout=slave, stderr=slave, env=env, cwd=cwd,
            preexec_fn=lambda: fcntl.ioctl(0, termios.TIOCSCTTY, 0),
        )
        os.close(slave)
        self.buf = b""

    def _read_some(self, wait: float) -> bytes | None:
        """Bytes from the terminal; b"" at EOF; None when nothing came within `wait`."""
        import select

        ready, _, _ = select.select([self.master], [], [], max(0.0, wait))
        if not ready:
            return None
        try:
            data = os.read(self.master, 4096)
        except OSError:  # EIO: the other side is closed
            data = b""
        self.buf += data
        return data

    def read_until(self, marker: bytes, timeout: float = HANG_BOUND) -> bytes:
        import time

        end = time.monotonic() + timeout
        while marker not in self.buf:
            if time.monotonic() > end:
                raise AssertionError(f"{marker!r} not seen; got {self.buf!r}\n{self.processes()}")
            if self._read_some(end - time.monotonic()) == b"":
                raise AssertionError(f"{marker!r} not seen before EOF; got {self.buf!r}")
        return self.buf

    def processes(self) -> str:
        """The processes on this terminal's session, with their groups and states (for failures)."""
        ps = subprocess.run(
            ["ps", "-o", "pid,ppid,pgid,tpgid,stat,wchan:16,args", "-s", str(self.proc.pid)], capture_output=True, timeout=10
        )
        return ps.stdout.decode(errors="replace")

    def send(self, data: bytes) -> None:
        os.write(self.master, data)

    def finish(self, timeout: float = HANG_BOUND, close: bool = True) -> tuple[int, bytes]:
        import time

        end = time.monotonic() + timeout
        while time.monotonic() < end:
            data = self._read_some(0.1)
            if data == b"" or (data is None and self.proc.poll() is not None):
                break
        code = self.proc.wait(max(1.0, end - time.monotonic()))
        if close:
            os.close(self.master)
        return code, self.buf


def in_pty(env: Env, *args: str, extra: dict[str, str] | None = None) -> PtyRun:
    return PtyRun(list(args), {**env.vars, "TERM": "xterm", **(extra or {})}, env.root)


def shell_in_pty(env: Env, extra: dict[str, str] | None = None) -> PtyRun:
    """An interactive bash with job control on a pseudo-terminal; its prompt is `$ `."""
    bash = shutil.which("bash")
    if bash is None:
        pytest.skip("needs bash")
    term = PtyRun(
        [], {**env.vars, "TERM": "dumb", "PS1": "$ ", "TOOL": TOOL, **(extra or {})}, env.root,
        argv=[bash, "--norc", "--noprofile", "-i"],
    )
    # A first command, answered: the shell has set up job control and reads commands.
    term.send(b"echo shell-$((20+1))\r")
    term.read_until(b"shell-21\r\n$ ")
    term.buf = b""
    return term


def sdk_plugin(env: Env, name: str, run_body: str, *, header: str = "", declare: bool = True) -> Path:
    """A Python SDK plugin: `header` at module level, `run_body` as the body of run(ctx, args)."""
    body = textwrap.indent(textwrap.dedent(run_body).strip("\n"), "    ")
    source = (
        "import os, sys, time\n"
        "from protocol.plugin import Plugin, PluginError\n"
        f"{textwrap.dedent(header)}\n"
        f"plugin = Plugin({name.removeprefix('tool-')!r})\n\n"
        "@plugin.run\n"
        "def run(ctx, args):\n"
        f"{body}\n\n"
        "plugin.main()\n"
    )
    return python_plugin(env, name, source, declare=declare)


def offered(stdout: bytes) -> list[str]:
    """The candidates `tool __complete` printed, without its last line (the `:N` directive)."""
    lines = stdout.decode().splitlines()
    assert lines and lines[-1].startswith(":") and lines[-1][1:].isdecimal(), lines
    return lines[:-1]
