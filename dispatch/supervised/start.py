"""A plugin the host does not exec: the launch policy for a supervised run.

A declared plugin runs with pipes and PROG_PROTOCOL set and must greet; a
plain one runs on the user's stdio (under a timeout or limits) or with its
stdout piped to the host (`--json`, `--max-output`). The plugin is started
before the session machinery is imported, so that the two start-ups overlap.
"""
from __future__ import annotations

from dispatch.process import spawn
from dispatch.process.poller import is_open
from dispatch.process.terminal import isatty

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    from dispatch.context import Invocation
    from dispatch.process.spawn import StderrMode
    from dispatch.resolve import Found
    from dispatch.sandbox.confine import Confinement
    from dispatch.supervised.plan import Mode

DEFAULT_HANDSHAKE_WINDOW = 2.0
STDIN_FD = 3  # where a protocol plugin finds the user's stdin (the `stdin_fd` feature)


def supervised(
    inv: Invocation, found: Found, args: list[str], env: dict[str, str], *, declared: bool, sandbox: Confinement | None = None,
) -> int:
    """Run the plugin under the host's eye (confined by `sandbox` when given: the plugin only,
    never the host): its status, or -N to die by signal N."""
    options = inv.options
    mode: Mode
    if declared:

        from protocol.versions import SUPPORTED, format_offer  # declared plugins only

        env[inv.program.var("PROTOCOL")] = format_offer(SUPPORTED)
        mode = "protocol"
    else:
        mode = "relay" if options.json or options.max_output is not None else "direct"
    window = handshake_window(inv)
    # A plain plugin has the user's stdin and terminal: it is the terminal's foreground job from
    # its first instruction on. A protocol plugin is not: the host keeps the terminal for prompts.
    # A protocol plugin reads the user's stdin through `read_input`, or, when it is not a terminal
    # the host needs for prompts, directly as a descriptor named in `run` (fast, byte-exact).
    stdin_fd = STDIN_FD if declared and not isatty(0) and is_open(0) else None
    # A protocol plugin's stderr goes through the host, which draws progress and questions on
    # the same screen: a pseudo-terminal when stderr is a terminal (the plugin and its children
    # still see one), a pipe otherwise (so that `> f 2>&1` keeps the order of the two).
    stderr: StderrMode = ("pty" if isatty(2) else "pipe") if declared and is_open(2) else "inherit"
    child = spawn.spawn(
        found.path, args, env, stdin_pipe=declared, stdout_pipe=mode != "direct", foreground=not declared,
        user_stdin_at=stdin_fd, stderr=stderr, confine=sandbox.spawn if sandbox is not None else None,
    )
    try:
        if options.max_cpu is not None or options.max_memory is not None:
            try:
                spawn.limit(child.pid, cpu=options.max_cpu, memory=options.max_memory)
            except OSError as e:
                from dispatch.errors import cannot_execute

                raise cannot_execute(
                    found.path,
                    f"its limits (--max-cpu, --max-memory) cannot be applied: {e.strerror} "
                    f"(a set-user-ID program cannot be limited); run it without them",
                ) from None
        from dispatch.supervised.plan import Plan
        from dispatch.supervised.session import Session

        plan = Plan(inv, found.path, args, env, mode=mode, window=window, stat=found.stat, stdin_fd=stdin_fd)
        session = Session(plan, child)
    except BaseException:
        spawn.stop(child)  # never leave it running unsupervised
        raise
    return session.run()


def handshake_window(inv: Invocation) -> float:
    """How long a declared plugin has to greet (PROG_HANDSHAKE_TIMEOUT, default 2 s)."""
    var = inv.program.var("HANDSHAKE_TIMEOUT")
    value = inv.environ.get(var)
    if not value:
        return DEFAULT_HANDSHAKE_WINDOW
    try:
        seconds = float(value)
    except ValueError:
        seconds = -1.0
    if not (0 < seconds < 3600):
        from dispatch.errors import usage_error

        raise usage_error(f"{var} must be a number of seconds between 0 and 3600, got {value!r}")
    return seconds


def waited(path: str, args: Sequence[str], env: Mapping[str, str]) -> int:
    """Windows: run the plugin as a child on the user's console, wait, return its status.
    Like system(3): the console's Ctrl-C reaches the plugin, which decides."""
    import signal
    import subprocess

    from dispatch.exitcodes import from_wait_status
    from dispatch.explain import explain
    from dispatch.shebang import preflight

    preflight(path, env)
    try:
        proc = subprocess.Popen([path, *args], env=dict(env))
    except OSError as e:
        raise explain(path, e, env) from None
    saved = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        return from_wait_status(proc.wait())
    finally:
        signal.signal(signal.SIGINT, saved)
