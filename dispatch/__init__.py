"""tool: a git/kubectl-style exec-subcommand dispatcher, usable as a library.

    from dispatch import Dispatcher
    Dispatcher(prog="mycli").run()

runs `mycli-foo` for `mycli foo`, with MYCLI_PLUGIN_PATH, MYCLI_BIN, ...
"""
# No `from __future__ import annotations` here: it imports a module, and the first lines of
# this file run while the `tool` command starts, before anything can report a Ctrl-C.
import _signal
import sys

__version__ = "0.1.0"


# Ctrl-C while the `tool` command starts, before its entry point can report it, would print
# a traceback: until then an interrupt is only noted (dispatch.cli acts on it as soon as it
# can). Only for the `tool` command itself: a program importing the library keeps its own
# Ctrl-C as it was.
def note_interrupt(signum: int, frame: object) -> None:
    global interrupted
    interrupted = True


interrupted = False
if (
    sys.argv and sys.argv[0].rpartition("/")[2] == "tool"
    and _signal.getsignal(_signal.SIGINT) is _signal.default_int_handler
):
    _signal.signal(_signal.SIGINT, note_interrupt)
__all__ = ["Dispatcher", "ExitCode", "ToolError", "__version__"]


def __getattr__(name: str) -> object:
    # Lazy, so that `import dispatch.x` stays as cheap as the module itself.
    if name == "Dispatcher":
        from dispatch.cli import Dispatcher

        return Dispatcher
    if name == "ExitCode":
        from dispatch.exitcodes import ExitCode

        return ExitCode
    if name == "ToolError":
        from dispatch.errors import ToolError

        return ToolError
    raise AttributeError(f"module 'dispatch' has no attribute {name!r}")
