"""Starting a plugin the host supervises: pipes or a pseudo-terminal, its own process group.

posix_spawn, not subprocess: cheaper to start, and the host can start the
plugin before importing the session machinery, so that the two start-ups
overlap.
"""
from __future__ import annotations

import os

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

from dispatch.explain import explain, is_script
from dispatch.launch import SH, preflight


class Child:
    """A spawned plugin: its pid and the host's ends of its stdin/stdout pipes (None when inherited)."""

    __slots__ = ("pid", "stdin", "stdout", "path", "pty")

    def __init__(self, pid: int, stdin: int | None, stdout: int | None, path: str) -> None:
        self.pid = pid
        self.stdin = stdin
        self.stdout = stdout
        self.path = path
        self.pty: int | None = None  # the master side, when the plugin runs on a pseudo-terminal


def spawn(
    path: str,
    args: Sequence[str],
    env: Mapping[str, str],
    *,
    pipes: bool = True,
    new_group: bool = False,
    quiet: bool = False,
) -> Child:
    """Start the plugin, with pipes for its stdin and stdout (or the user's own), stderr inherited.

    posix_spawn, not subprocess: it is cheaper to start, and it lets the host
    start the plugin before importing the session machinery, so that the two
    start-ups overlap.
    """
    import _signal

    if pipes:
        in_r, in_w = os.pipe()
        out_r, out_w = os.pipe()
        fds = [in_r, in_w, out_r, out_w]
        actions = [(os.POSIX_SPAWN_DUP2, in_r, 0), (os.POSIX_SPAWN_DUP2, out_w, 1)]
    else:
        fds = []
        actions = []
    if quiet:
        # Probes (completion in the user's shell, checks) must not print over the user's screen.
        actions.append((os.POSIX_SPAWN_OPEN, 2, os.devnull, os.O_WRONLY, 0))
    sigdef = [getattr(_signal, n) for n in ("SIGPIPE", "SIGXFSZ") if hasattr(_signal, n)]
    kwargs: dict[str, object] = {"file_actions": actions, "setsigdef": sigdef}
    if new_group:
        kwargs["setpgroup"] = 0
    preflight(path, env)
    try:
        pid = _posix_spawn(path, args, env, kwargs)
    except BaseException:
        for fd in fds:
            os.close(fd)
        raise
    if not pipes:
        return Child(pid, None, None, path)
    os.close(in_r)
    os.close(out_w)
    _widen(out_r)
    return Child(pid, in_w, out_r, path)


def _posix_spawn(path: str, args: Sequence[str], env: Mapping[str, str], kwargs: dict[str, object]) -> int:
    """posix_spawn, with sh for a text file without #! (as execvp and git do); failures explained."""
    try:
        return os.posix_spawn(path, [path, *args], env, **kwargs)  # type: ignore[arg-type]
    except OSError as e:
        import errno

        if e.errno != errno.ENOEXEC or not is_script(path):
            raise explain(path, e, env) from None
    try:
        return os.posix_spawn(SH, [SH, path, *args], env, **kwargs)  # type: ignore[arg-type]
    except OSError as e2:
        raise explain(path, e2, env) from None


def _widen(fd: int) -> None:
    """A 1 MiB pipe for the plugin's output: 16 times fewer reads and wake-ups than the default."""
    try:
        import fcntl

        fcntl.fcntl(fd, getattr(fcntl, "F_SETPIPE_SZ", 1031), 1 << 20)
    except OSError:
        pass


def limit(pid: int, *, cpu: float | None, memory: int | None) -> None:
    """Resource limits for a started plugin (its children inherit them)."""
    import resource

    if cpu is not None:
        seconds = max(1, int(cpu + 0.999))
        # SIGXCPU at the soft limit, SIGKILL one second later for a plugin that ignores it.
        resource.prlimit(pid, resource.RLIMIT_CPU, (seconds, seconds + 1))
    if memory is not None:
        resource.prlimit(pid, resource.RLIMIT_AS, (memory, memory))


def spawn_pty(
    path: str, args: Sequence[str], env: Mapping[str, str], *, stdin_tty: bool, tty_attrs: list[object] | None = None
) -> Child:
    """Start the plugin on a new pseudo-terminal (its stdout, and its stdin when the user's is a terminal).

    The plugin leads a new session whose controlling terminal is the pty, so
    it behaves exactly as on the user's terminal: isatty, colours, line
    editing, `read -s`, Ctrl-C and Ctrl-Z through the pty's line discipline.
    The pty starts with the user's terminal settings and window size.
    Raises OSError when no pty can be had.
    """
    import _signal
    import fcntl
    import termios

    master, slave = os.openpty()
    try:
        name = os.ttyname(slave)
        # The user's terminal settings as they were before the host touched them.
        try:
            attrs = tty_attrs if tty_attrs is not None else termios.tcgetattr(0 if stdin_tty else 1)
            termios.tcsetattr(slave, termios.TCSANOW, attrs)
        except termios.error:
            pass
        try:
            size = fcntl.ioctl(1, termios.TIOCGWINSZ, b"\0" * 8)
            fcntl.ioctl(master, termios.TIOCSWINSZ, size)
        except OSError:
            pass
        # Opened by the new session's leader, the pty becomes its controlling terminal.
        if stdin_tty:
            fds: list[int] = []
            actions = [(os.POSIX_SPAWN_OPEN, 0, name, os.O_RDWR, 0), (os.POSIX_SPAWN_DUP2, 0, 1)]
        else:
            in_r, in_w = os.pipe()
            fds = [in_r, in_w]
            actions = [(os.POSIX_SPAWN_DUP2, in_r, 0), (os.POSIX_SPAWN_OPEN, 1, name, os.O_RDWR, 0)]
        sigdef = [getattr(_signal, n) for n in ("SIGPIPE", "SIGXFSZ") if hasattr(_signal, n)]
        preflight(path, env)
        try:
            pid = _posix_spawn(path, args, env, {"file_actions": actions, "setsigdef": sigdef, "setsid": True})
        except BaseException:
            for fd in fds:
                os.close(fd)
            raise
    except BaseException:
        os.close(master)
        raise
    finally:
        os.close(slave)  # so that the master reads EOF (EIO) once the plugin's side is closed
    if stdin_tty:
        writer = os.dup(master)
    else:
        os.close(fds[0])
        writer = fds[1]
    child = Child(pid, writer, master, path)
    child.pty = master
    return child


def abandon(child: Child) -> None:
    """Kill and reap a plugin the host cannot supervise after all."""
    import _signal

    try:
        os.killpg(child.pid, _signal.SIGKILL)
    except OSError:
        pass
    try:
        os.waitpid(child.pid, 0)
    except ChildProcessError:
        pass
    for fd in {child.stdin, child.stdout, child.pty} - {None}:
        try:
            os.close(fd)  # type: ignore[arg-type]
        except OSError:
            pass
def spawn_plugin(path: str, args: Sequence[str], env: Mapping[str, str]) -> int:
    """Run the plugin as a child on the user's terminal, wait, return its status (128+N for signal N)."""
    import subprocess

    from dispatch.exitcodes import from_wait_status

    preflight(path, env)
    argv = [path, *args]
    try:
        proc = subprocess.Popen(argv, env=dict(env))
    except OSError as e:
        import errno

        if e.errno != errno.ENOEXEC or os.name == "nt":
            raise explain(path, e, env) from None
        try:
            proc = subprocess.Popen([SH, *argv], env=dict(env))
        except OSError as e2:
            raise explain(path, e2, env) from None
    # Like system(3): the terminal's Ctrl-C reaches the plugin, which decides;
    # the host just waits for its status.
    with _ignoring_terminal_signals():
        returncode = proc.wait()
    return from_wait_status(returncode)


class _ignoring_terminal_signals:
    def __enter__(self) -> None:
        import signal

        self._saved = []
        for name in ("SIGINT", "SIGQUIT"):
            signum = getattr(signal, name, None)
            if signum is not None:
                self._saved.append((signum, signal.signal(signum, signal.SIG_IGN)))

    def __exit__(self, *exc: object) -> None:
        import signal

        for signum, handler in self._saved:
            signal.signal(signum, handler)


