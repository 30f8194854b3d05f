"""Completion for a plugin through a sidecar executable, kubectl's convention with our prefix:
`tool_complete-NAME` completes `tool NAME` without the plugin itself ever being run.

It is found on the plugin search path, run with the words after the command and the word
being typed as its arguments, stdin /dev/null, stderr discarded, for at most one second.
Each line of its stdout is a candidate, `value` or `value<TAB>description`; a line `:N` is
cobra's directive (2: no space after the value, 4: no file names instead).
"""
from __future__ import annotations

import os
import stat
import time

from dispatch import lookup
from dispatch.catalog.candidates import Candidates
from dispatch.process import poller as events
from dispatch.process import spawn
from dispatch.process.poller import READ, Poller, read
from protocol.digits import decimal

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Sequence

    from dispatch.context import Invocation

TIMEOUT = 1.0
MAX_BYTES = 1 << 16  # candidates enough for any shell menu; the rest is not read
MAX_CANDIDATES = 1000


def find(inv: Invocation, plugin_path: str) -> str | None:
    """The sidecar for the plugin file at `plugin_path` (`tool-db-migrate` -> `tool_complete-db-migrate`)."""
    name = file_name(inv.prog, os.path.basename(plugin_path))
    if name is None:
        return None
    for d in lookup.search_path(inv).dirs:
        path = os.path.join(d, name)
        try:
            st = os.stat(path)
        except OSError:
            continue
        if stat.S_ISREG(st.st_mode) and os.access(path, os.X_OK):
            return path
    return None


def file_name(prog: str, plugin_file: str) -> str | None:
    """The sidecar's file name for a plugin's (`tool-db-migrate` -> `tool_complete-db-migrate`)."""
    return f"{prog}_complete-{plugin_file[len(prog) + 1 :]}" if plugin_file.startswith(prog + "-") else None


def complete(inv: Invocation, path: str, command: str, words: Sequence[str], current: str) -> Candidates:
    """The sidecar's candidates for `current` after `words` (nothing when it fails or is slow)."""
    from dispatch.catalog.probe import sandbox_of

    sandbox = sandbox_of(inv, path)  # the plugin's own code: confined as the plugin is
    env = inv.plugin_env(command)
    try:
        child = spawn.spawn(path, [*words, current], sandbox.environ(env) if sandbox else env, stdin_null=True, quiet=True,
                            confine=sandbox.spawn if sandbox else None)
    except Exception:
        if sandbox is not None:
            sandbox.close()
        return Candidates()
    chunks: list[bytes] = []
    size = 0
    deadline = time.monotonic() + TIMEOUT
    poller = Poller()
    exited = False
    try:
        assert child.stdout is not None
        poller.register(child.stdout, READ, events.STDOUT)
        while size < MAX_BYTES:
            left = deadline - time.monotonic()
            if left <= 0:
                return Candidates(late=True)  # too slow: a keystroke must not wait for it
            if not poller.select(min(left, 0.05)):
                if exited:
                    break  # it ended and nothing more is there (a child of its own may hold the pipe)
                exited = _exited(child.pid)
                continue
            data = read(child.stdout, MAX_BYTES - size)
            if not data:
                break
            chunks.append(data)
            size += len(data)
    finally:
        poller.close()
        spawn.stop(child, wait=max(0.0, min(0.2, deadline - time.monotonic())))
        if sandbox is not None:
            sandbox.close()
    out = b"".join(chunks)
    if size >= MAX_BYTES:
        out = out[: out.rfind(b"\n") + 1]  # the cut line is not a candidate it gave
    return parse(out)


def _exited(pid: int) -> bool:
    """Whether the sidecar has exited (not reaped: spawn.stop does that)."""
    try:
        return os.waitid(os.P_PID, pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is not None
    except ChildProcessError:
        return True


def parse(out: bytes) -> Candidates:
    """A line a candidate (`value` or `value<TAB>description`); a line `:N` is cobra's
    directive (the last one counts; other bits than those a shell can act on are ignored)."""
    found = Candidates()
    for raw in out.decode("utf-8", "replace").splitlines()[:MAX_CANDIDATES]:
        if raw.startswith(":"):
            bits = raw[1:].strip()
            found.directive = (decimal(bits, 3) or 0) & (2 | 4)
            continue
        if raw:
            value, _, description = raw.partition("\t")
            found.items.append((value, description))
    return found
