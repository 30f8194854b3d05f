"""What runs first when the package is imported: the library's version, and Ctrl-C noted
(not raised) until the `tool` entry point can report it."""
# No `from __future__ import annotations` here: it imports a module, and these lines run while
# the `tool` command starts, before anything can report a Ctrl-C.
import _signal
import sys

VERSION = "0.1.0"


# Ctrl-C while the `tool` command starts, before its entry point can report it, would print a
# traceback: until then an interrupt is only noted. Only for the `tool` command itself: a
# program importing the library keeps its own Ctrl-C as it was.
def _note(signum: int, frame: object) -> None:
    global interrupted
    interrupted = True


interrupted = False
if (
    sys.argv and sys.argv[0].rpartition("/")[2] == "tool"
    and _signal.getsignal(_signal.SIGINT) is _signal.default_int_handler
):
    _signal.signal(_signal.SIGINT, _note)


def interrupts_raise() -> None:
    """From here on Ctrl-C raises KeyboardInterrupt, which the entry point reports; one that
    came during start-up is raised now."""
    global interrupted
    if _signal.getsignal(_signal.SIGINT) is _note:
        _signal.signal(_signal.SIGINT, _signal.default_int_handler)
    if interrupted:
        interrupted = False
        raise KeyboardInterrupt
