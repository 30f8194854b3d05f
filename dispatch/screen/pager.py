"""Long output of the host's own (help, list) through the user's pager, as git pages its long
output: on a terminal only, never under --json or into a pipe, and not with --no-pager.

The pager is `<PREFIX>PAGER`, else `PAGER`, else `less`; `LESS` is `FRX` unless the user set
it (as git does: quit at once when the text fits one screen, keep colour, leave the text on
the screen). An empty value or `cat` means no pager. Text shorter than the terminal is
written directly.
"""
from __future__ import annotations

import os
import sys

TYPE_CHECKING = False
if TYPE_CHECKING:
    from dispatch.context import Invocation


def show(inv: Invocation, text: str) -> None:
    """Write `text` on stdout, through the pager when it is longer than the terminal."""
    command = _pager(inv, text)
    if command is None:
        sys.stdout.write(text)
        sys.stdout.flush()
        return
    _run(command, text, inv)


def _pager(inv: Invocation, text: str) -> str | None:
    """The pager's command line, or None when the text goes to stdout as it is."""
    if inv.options.json or inv.options.no_pager or inv.settings.get("no_pager"):
        return None
    try:
        if not os.isatty(1):
            return None
        rows = os.get_terminal_size(1).lines
    except OSError:
        return None
    if rows <= 0 or text.count("\n") < rows:
        return None
    env = inv.environ
    command = env.get(inv.program.var("PAGER"), env.get("PAGER", "less")).strip()
    if not command or command == "cat":
        return None
    import shutil

    first = command.split()[0]
    return command if shutil.which(first, path=env.get("PATH")) or (os.path.isabs(first) and os.access(first, os.X_OK)) else None


def _run(command: str, text: str, inv: Invocation) -> None:
    import _signal
    import subprocess

    env = dict(inv.environ)
    env.setdefault("LESS", "FRX")
    sys.stdout.flush()
    # Ctrl-C is the pager's to handle (less ignores it), not a reason to leave it behind.
    saved = _signal.signal(_signal.SIGINT, _signal.SIG_IGN)
    try:
        proc = subprocess.Popen(["/bin/sh", "-c", command], stdin=subprocess.PIPE, env=env)
        try:
            assert proc.stdin is not None
            proc.stdin.write(text.encode("utf-8", "surrogateescape"))
            proc.stdin.close()
        except BrokenPipeError:
            pass  # the user quit the pager before the end: nothing more to show
        proc.wait()
    finally:
        _signal.signal(_signal.SIGINT, saved)
