"""The one place where failures become exit codes and `prog:` lines (never a traceback unless -v)."""
from __future__ import annotations

import errno
import os
import sys

from dispatch import signals
from dispatch.context import say
from dispatch.errors import ToolError
from dispatch.exitcodes import JSON_CODES, ExitCode

TYPE_CHECKING = False
if TYPE_CHECKING:
    from dispatch.context import Options

# Not bugs: the machine or the user's limits ran out.
_RESOURCE_ERRNOS = frozenset({errno.ENFILE, errno.EMFILE, errno.ENOMEM, errno.EAGAIN})
# Not bugs either: the output could not be written (a full disk, an I/O error, a quota).
_OUTPUT_ERRNOS = frozenset({errno.ENOSPC, errno.EIO, errno.EFBIG, *([errno.EDQUOT] if hasattr(errno, "EDQUOT") else [])})


def handle(prog: str, options: Options | None, e: BaseException) -> int:
    """The exit status for an exception that ended the invocation, after saying what happened."""
    if isinstance(e, ToolError):
        say(prog, e.message)
        json_failure(options, e.code, e.message)
        return e.code
    if isinstance(e, OSError) and e.errno in _RESOURCE_ERRNOS:
        message = f"cannot run the command: out of system resources ({e.strerror}); free some, or raise the limit (ulimit)"
        say(prog, message)
        json_failure(options, ExitCode.CANNOT_EXECUTE, message)
        return ExitCode.CANNOT_EXECUTE
    if isinstance(e, OSError) and e.errno in _OUTPUT_ERRNOS:
        silence_stdout()
        say(prog, f"cannot write the output: {e.strerror}")
        return ExitCode.FAILURE
    if isinstance(e, BrokenPipeError):
        # Our reader went away (`tool list | head -1`): stop quietly, as a
        # program killed by SIGPIPE would.
        silence_stdout()
        return ExitCode.SIGNAL_BASE + signals.SIGPIPE
    if options is not None and options.verbosity > 0:
        import traceback

        traceback.print_exc()
    message = (
        f"internal error: {type(e).__name__}: {e}. This is a bug in {prog}; "
        f"please report it (rerun with -v for the traceback)"
    )
    say(prog, message)
    json_failure(options, ExitCode.INTERNAL, message)
    return ExitCode.INTERNAL


def json_failure(options: Options | None, code: int, message: str) -> None:
    """Under --json a failure of the host still ends stdout with the exit line."""
    if options is None or not options.json:
        return
    from protocol.framing import encode

    try:
        sys.stdout.flush()
        sys.stdout.buffer.write(
            encode({"type": "error", "code": JSON_CODES.get(code, "error"), "message": message})
            + encode({"type": "exit", "code": code})
        )
        sys.stdout.flush()
    except (OSError, ValueError):
        pass


def silence_stdout() -> None:
    # Point fd 1 at /dev/null so the interpreter's final flush cannot fail
    # again and print "Exception ignored ... BrokenPipeError".
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError):
        pass
