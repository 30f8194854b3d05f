"""Starting a plugin the host supervises: pipes or the user's stdio, a process group, a guard.

posix_spawn, not subprocess: it is cheaper to start, and it lets the host
start the plugin before importing the session machinery, so that the two
start-ups overlap.

A supervised plugin must not outlive the host, even when the host is killed
with SIGKILL (a CI runner, `timeout -s KILL`), when nothing can run in the
host any more. So each supervised plugin joins the process group of a tiny
guard, started first: `sh` blocked reading a pipe whose only writer is the
host. When the host finishes normally it writes a line and the guard exits,
leaving the plugin's background jobs alone; when the host dies any other way
the pipe reads EOF and the guard kills its whole process group, the
plugin's children and grandchildren included. Starting the guard first
leaves no moment at which the plugin runs unguarded.
"""
from __future__ import annotations

import os

from dispatch import signals
from dispatch.process.terminal import hand_over, take_back
from dispatch.shebang import SH, preflight

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Mapping, Sequence
    from typing import Literal

    from dispatch.process.terminal import Handover

    StderrMode = Literal["inherit", "null", "pipe", "pty"]
    # Starts a plugin confined: calls `start` (a spawn, giving the pid) with the command line to run.
    Confine = Callable[[Callable[[list[str]], int], list[str]], int]


# The guard ignores what the host forwards to the plugin's group, and stops
# the group when its pipe reads EOF (the host is gone) instead of a line.
_GUARD_SCRIPT = "trap '' INT TERM HUP QUIT TSTP TTIN TTOU PIPE; read -r _ || kill -KILL 0"


class Child:
    """A spawned plugin: its pid, its process group, and the host's ends of its pipes (None when
    inherited, or once closed). The pipes are closed here only (`close_stdin`, `close_stdout`);
    a loop that waits on them unregisters them first (dispatch/supervised/loop.py, Link)."""

    __slots__ = ("pid", "pgid", "stdin", "stdout", "stderr", "path", "guard", "guard_fd", "terminal")

    def __init__(self, pid: int, pgid: int, stdin: int | None, stdout: int | None, path: str, stderr: int | None = None) -> None:
        self.pid = pid
        self.pgid = pgid
        self.stdin = stdin
        self.stdout = stdout
        self.stderr = stderr  # the host's end of its stderr, when the host relays it
        self.path = path
        self.guard: int | None = None  # the guard's pid (the group's leader)
        self.guard_fd: int | None = None  # the host's end of the guard's pipe
        self.terminal: Handover | None = None  # the user's terminal, given to the plugin's group

    def close_stdin(self) -> None:
        """EOF for the plugin's stdin."""
        fd, self.stdin = self.stdin, None
        _close(fd)

    def close_stdout(self) -> None:
        """The host stops reading the plugin's stdout (its next write gets EPIPE)."""
        fd, self.stdout = self.stdout, None
        _close(fd)

    def close_stderr(self) -> None:
        fd, self.stderr = self.stderr, None
        _close(fd)

    def release_guard(self) -> None:
        """The run ended normally: let the guard go without touching the group."""
        fd, self.guard_fd = self.guard_fd, None
        if fd is not None:
            try:
                os.write(fd, b"\n")  # read before the EOF that follows, even if the host exits first
            except OSError:
                pass
            os.close(fd)
        pid, self.guard = self.guard, None
        if pid is not None:
            _LEFT.append(pid)
            reap_guards()  # the guard exits in its own time: not waited for on the way out

    def _reap_guard(self) -> None:
        pid, self.guard = self.guard, None
        if pid is not None:
            try:
                os.waitpid(pid, 0)  # killed with its group: it goes at once
            except ChildProcessError:
                pass

    def kill_group(self) -> None:
        """SIGKILL to the plugin's whole process group (the guard too); reap the guard."""
        import _signal

        try:
            os.killpg(self.pgid, _signal.SIGKILL)
        except OSError:
            pass
        if self.guard_fd is not None:
            os.close(self.guard_fd)
            self.guard_fd = None
        self._reap_guard()


def _close(fd: int | None) -> None:
    if fd is not None:
        try:
            os.close(fd)
        except OSError:
            pass


# Guards let go but perhaps not gone yet: reaped at the next chance, so that a program
# running many commands (the library) keeps no zombies.
_LEFT: list[int] = []


def reap_guards() -> None:
    for pid in list(_LEFT):
        try:
            done, _ = os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:
            done = pid
        if done:
            _LEFT.remove(pid)


def start_guard() -> tuple[int, int] | None:
    """(the guard's pid, the host's end of its pipe), or None when no guard can be had."""
    r, w = os.pipe()
    actions = [
        (os.POSIX_SPAWN_DUP2, r, 0),
        (os.POSIX_SPAWN_OPEN, 1, os.devnull, os.O_WRONLY, 0),
        (os.POSIX_SPAWN_DUP2, 1, 2),
    ]
    try:
        pid = os.posix_spawn(SH, ["sh", "-c", _GUARD_SCRIPT], {}, file_actions=actions, setpgroup=0)
    except OSError:
        os.close(w)
        return None
    finally:
        os.close(r)
    return pid, w


def spawn(
    path: str,
    args: Sequence[str],
    env: Mapping[str, str],
    *,
    stdin_pipe: bool = True,
    stdout_pipe: bool = True,
    quiet: bool = False,
    guard: bool = True,
    foreground: bool = False,
    user_stdin_at: int | None = None,
    stdin_null: bool = False,
    stderr: StderrMode = "inherit",
    confine: Confine | None = None,
) -> Child:
    """Start the plugin in a process group of its own (its guard's).

    `stdin_pipe`/`stdout_pipe`: a pipe to the host for that stream, else the
    user's own. `stderr`: the user's (`inherit`), a pipe to the host (`pipe`), or a
    pseudo-terminal whose other end the host reads (`pty`: the plugin's stderr is a terminal
    of the user's terminal's size, and what it writes reaches the host byte for byte).
    `quiet`: stderr to /dev/null (probes in the user's shell).
    `foreground`: the plugin's group gets the user's terminal before the plugin
    starts, as a shell does for a job (a plugin reading /dev/tty at once must not
    find itself in the background).
    `user_stdin_at`: the user's stdin also as this descriptor (a protocol plugin's raw input).
    `stdin_null`: stdin is /dev/null (a command run on a plugin's behalf, which asks nobody).
    `confine`: how the plugin is started confined (`confine(start, argv)` calls `start` with the
    command line to spawn, in a context that confines what it starts: dispatch/sandbox/).
    """
    preflight(path, env)
    plan = _Plan(stdin_pipe=stdin_pipe and not stdin_null, stdout_pipe=stdout_pipe, stdin_null=stdin_null,
                 stderr="null" if quiet else stderr, user_stdin_at=user_stdin_at)
    reap_guards()
    guarded = start_guard() if guard else None
    handover = hand_over(guarded[0]) if guarded and foreground else None
    kwargs: dict[str, object] = {
        "file_actions": plan.actions,
        "setsigdef": signals.for_children(),
        "setpgroup": guarded[0] if guarded else 0,
    }
    try:
        pid = _posix_spawn(path, args, env, kwargs, confine)
    except BaseException:
        plan.close_all()
        if handover is not None:
            take_back(handover, restore_modes=False)
        if guarded:
            os.close(guarded[1])
            os.waitpid(guarded[0], 0)  # EOF: it killed its (empty) group and itself
        raise
    stdin_end, stdout_end, stderr_end = plan.host_ends()
    child = Child(pid, guarded[0] if guarded else pid, stdin_end, stdout_end, path, stderr_end)
    child.terminal = handover
    if guarded:
        child.guard, child.guard_fd = guarded
    return child


class _Plan:
    """The plugin's descriptors: the pipes made for it, and what posix_spawn does with them."""

    def __init__(self, *, stdin_pipe: bool, stdout_pipe: bool, stdin_null: bool, stderr: StderrMode, user_stdin_at: int | None) -> None:
        self.actions: list[tuple[object, ...]] = []
        self.stdin: tuple[int, int] | None = None
        self.stdout: tuple[int, int] | None = None
        self.stderr: tuple[int, int] | None = None  # (host's end, plugin's end)
        self.user_stdin: int | None = None
        if stdin_null:
            self.actions.append((os.POSIX_SPAWN_OPEN, 0, os.devnull, os.O_RDONLY, 0))
        elif stdin_pipe:
            self.stdin = os.pipe()
            self.actions.append((os.POSIX_SPAWN_DUP2, self.stdin[0], 0))
        if stdout_pipe:
            self.stdout = os.pipe()
            self.actions.append((os.POSIX_SPAWN_DUP2, self.stdout[1], 1))
        if stderr == "null":
            self.actions.append((os.POSIX_SPAWN_OPEN, 2, os.devnull, os.O_WRONLY, 0))
        elif stderr != "inherit":
            self.stderr = _stderr_pty() if stderr == "pty" else os.pipe()
            self.actions.append((os.POSIX_SPAWN_DUP2, self.stderr[1], 2))
        if user_stdin_at is not None:
            self.user_stdin = os.dup(0)  # not inherited: only its dup2 is
            # Last: the pipes above may have been given that number in the host.
            self.actions.append((os.POSIX_SPAWN_DUP2, self.user_stdin, user_stdin_at))

    def close_all(self) -> None:
        for pair in (self.stdin, self.stdout, self.stderr):
            if pair is not None:
                os.close(pair[0])
                os.close(pair[1])
        self._close_user_stdin()

    def _close_user_stdin(self) -> None:
        if self.user_stdin is not None:
            os.close(self.user_stdin)
            self.user_stdin = None

    def host_ends(self) -> tuple[int | None, int | None, int | None]:
        """After the spawn: the child's ends closed here, the host's ends (stdin, stdout, stderr) kept."""
        self._close_user_stdin()
        stdin = stdout = stderr = None
        if self.stderr is not None:
            os.close(self.stderr[1])
            stderr = self.stderr[0]
        if self.stdin is not None:
            os.close(self.stdin[0])
            stdin = self.stdin[1]
        if self.stdout is not None:
            os.close(self.stdout[1])
            _widen(self.stdout[0])
            stdout = self.stdout[0]
        return stdin, stdout, stderr


def _stderr_pty() -> tuple[int, int]:
    """(the host's end, the plugin's end) of a pseudo-terminal for the plugin's stderr: the
    size of the user's terminal, and no output processing (the bytes the plugin writes are
    the bytes the host reads), so that the plugin sees a terminal and the host relays it exactly."""
    import fcntl
    import termios

    master, slave = os.openpty()
    os.set_inheritable(master, False)
    try:
        attrs = termios.tcgetattr(slave)
        attrs[1] &= ~termios.OPOST
        termios.tcsetattr(slave, termios.TCSANOW, attrs)
        fcntl.ioctl(slave, termios.TIOCSWINSZ, fcntl.ioctl(2, termios.TIOCGWINSZ, b"\0" * 8))
    except OSError:
        pass  # a terminal of no known size: 80 columns, as anywhere
    return master, slave


def _posix_spawn(
    path: str, args: Sequence[str], env: Mapping[str, str], kwargs: dict[str, object], confine: Confine | None = None,
) -> int:
    """posix_spawn, with sh for a text file without #! (as execvp and git do); failures explained."""

    def start(argv: list[str]) -> int:
        return os.posix_spawn(argv[0], argv, env, **kwargs)  # type: ignore[arg-type]

    def run(argv: list[str]) -> int:
        return start(argv) if confine is None else confine(start, argv)

    try:
        return run([path, *args])
    except OSError as e:
        import errno

        from dispatch.explain import explain, is_script

        if e.errno != errno.ENOEXEC or not is_script(path):
            raise explain(path, e, env) from None
    try:
        return run([SH, path, *args])
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


def stop(child: Child, *, wait: float = 0.0, term: bool = False) -> int | None:
    """Stop a plugin for good, the one way the host does: close its pipes, give it `wait`
    seconds to exit by itself (after SIGTERM to its group when `term`), then SIGKILL its
    whole group and reap it and its guard. Returns its exit code (negative: killed by that
    signal) when it ended by itself, None when it had to be killed."""
    import _signal
    import time

    child.close_stdin()
    child.close_stdout()
    child.close_stderr()
    if term:
        try:
            os.killpg(child.pgid, _signal.SIGTERM)
        except OSError:
            pass
    code = None
    end = time.monotonic() + wait
    while True:
        try:
            pid, wstatus = os.waitpid(child.pid, os.WNOHANG)
        except ChildProcessError:
            break  # reaped elsewhere
        if pid:
            code = os.waitstatus_to_exitcode(wstatus)
            break
        if time.monotonic() >= end:
            break
        time.sleep(0.01)
    child.kill_group()
    if code is None:
        try:
            os.waitpid(child.pid, 0)  # killed: it goes at once
        except ChildProcessError:
            pass
    return code
