"""The one place where failures become exit codes and `tool:` lines (never a traceback unless -v)."""
from __future__ import annotations

import os
import sys

from dispatch import resolve
from dispatch.errors import ToolError
from dispatch.exitcodes import ExitCode

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    from dispatch.cli import Dispatcher

# Not bugs: the machine or the user's limits ran out.
_RESOURCE_ERRNOS = frozenset({23, 24, 12, 11})  # ENFILE, EMFILE, ENOMEM, EAGAIN
# Not bugs either: the output could not be written (a full disk, an I/O error).
_OUTPUT_ERRNOS = frozenset({28, 5, 27, 122})  # ENOSPC, EIO, EFBIG, EDQUOT
_CODE_NAMES = {
    2: "usage_error", 70: "internal_error", 76: "protocol_error", 124: "timeout", 126: "cannot_execute", 127: "not_found",
}


def handle(d: Dispatcher, e: BaseException) -> int:
    if isinstance(e, ToolError):
        d.error(e.message)
        json_failure(d, e.code, e.message)
        return e.code
    if isinstance(e, OSError) and e.errno in _RESOURCE_ERRNOS:
        message = f"cannot run the command: out of system resources ({e.strerror}); free some, or raise the limit (ulimit)"
        d.error(message)
        json_failure(d, ExitCode.CANNOT_EXECUTE, message)
        return ExitCode.CANNOT_EXECUTE
    if isinstance(e, OSError) and e.errno in _OUTPUT_ERRNOS:
        silence_stdout()
        message = f"cannot write the output: {e.strerror}"
        d.error(message)
        return ExitCode.FAILURE
    if isinstance(e, BrokenPipeError):
        # Our reader went away (`tool list | head -1`): stop quietly, as a
        # program killed by SIGPIPE would.
        silence_stdout()
        return ExitCode.SIGNAL_BASE + 13
    if d.verbosity > 0:
        import traceback

        traceback.print_exc()
    message = (
        f"internal error: {type(e).__name__}: {e}. This is a bug in {d.prog}; "
        f"please report it (rerun with -v for the traceback)"
    )
    d.error(message)
    json_failure(d, ExitCode.INTERNAL, message)
    return ExitCode.INTERNAL


def json_failure(d: Dispatcher, code: int, message: str) -> None:
    """Under --json a failure of the host still ends stdout with the exit line."""
    opts = getattr(d, "options", None)
    if opts is None or not opts.json:
        return
    from protocol.framing import dumps

    lines = [
        {"type": "error", "code": _CODE_NAMES.get(code, "error"), "message": message},
        {"type": "exit", "code": code},
    ]
    try:
        sys.stdout.write("".join(dumps(m) + "\n" for m in lines))
        sys.stdout.flush()
    except (OSError, ValueError):
        pass


def not_found(
    d: Dispatcher,
    first: str,
    words: Sequence[str],
    valid: Sequence[str],
    sp: resolve.SearchPath,
    table: Sequence[tuple[int, Sequence[str]]],
    env: Mapping[str, str],
) -> Exception:
    """126 naming a file of the right name that cannot run, else 127 with "did you mean"."""
    from dispatch.cli import BUILTINS, _usage_error

    if not words:
        return _usage_error(f"expected a command, got {first!r}; see '{d.prog} --help'")
    misses = resolve.near_misses(sp.dirs, table)
    if misses:
        path, why = misses[0]
        return ToolError(ExitCode.CANNOT_EXECUTE, f"found {path}, but cannot run it: {why}")
    problem = resolve.name_problem(words[0])
    if problem is not None:
        return ToolError(ExitCode.NOT_FOUND, f"{words[0]!r} is not a {d.prog} command: {problem}")
    skipped = _in_skipped_entry(sp, table)
    if skipped is not None:
        var, entry, path = skipped
        return ToolError(
            ExitCode.NOT_FOUND,
            f"{words[0]!r} is not a {d.prog} command here: {path} exists, but the {var} entry {entry!r} is "
            f"relative and {d.prog} skips relative entries (they would make the current directory a plugin "
            f"source); put the directory on {var} as an absolute path, or run {path} directly",
        )
    from dispatch import catalog, suggest

    names = list(BUILTINS) + [p.name for p in catalog.scan(d, sp.dirs, env) if p.runs]
    cfg = getattr(d, "config", None)
    if cfg is not None:
        names += list(cfg.aliases)
    close = suggest.closest("-".join(valid), names)
    message = f"{words[0]!r} is not a {d.prog} command."
    if len(close) == 1:
        message += f" Did you mean {close[0]!r}?"
    elif close:
        message += " Did you mean one of " + ", ".join(repr(c) for c in close) + "?"
    else:
        message += f" See '{d.prog} list' for the plugins on the search path."
    return ToolError(ExitCode.NOT_FOUND, message)


def _in_skipped_entry(
    sp: resolve.SearchPath, table: Sequence[tuple[int, Sequence[str]]]
) -> tuple[str, str, str] | None:
    """(variable, entry, path) when a skipped relative or empty entry holds a file of a wanted name."""
    for var, entry, reason in sp.skipped:
        if reason == "duplicate":
            continue
        for _nwords, names in table:
            for name in names:
                path = os.path.join(entry or ".", name)
                if os.path.lexists(path):
                    return var, entry, path if path.startswith((".", "/")) else "./" + path
    return None


def silence_stdout() -> None:
    # Point fd 1 at /dev/null so the interpreter's final flush cannot fail
    # again and print "Exception ignored ... BrokenPipeError".
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError):
        pass
