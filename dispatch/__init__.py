"""tool: a git/kubectl-style exec-subcommand dispatcher, usable as a library.

    from dispatch import Dispatcher
    Dispatcher(prog="mycli").run()

runs `mycli-foo` for `mycli foo`, with MYCLI_DISPATCH_PLUGIN_PATH, MYCLI_DISPATCH_BIN, ...
The public names are in `__all__` (docs/library.md says what is stable).
"""
# No `from __future__ import annotations` here: it imports a module, and these lines run while
# the `tool` command starts, before anything can report a Ctrl-C.
import _signal
import sys


# Ctrl-C while the `tool` command starts, before its entry point can report it, would print a
# traceback: until then an interrupt is only noted, on this handler (dispatch.signals raises
# it once the entry point can report it). Only for the `tool` command itself: a program
# importing the library keeps its own Ctrl-C as it was.
def _note_interrupt(signum: int, frame: object) -> None:
    _note_interrupt.interrupted = True  # type: ignore[attr-defined]


if (
    sys.argv and sys.argv[0].rpartition("/")[2] == "tool"
    and _signal.getsignal(_signal.SIGINT) is _signal.default_int_handler
):
    _note_interrupt.interrupted = False  # type: ignore[attr-defined]
    _signal.signal(_signal.SIGINT, _note_interrupt)

from dispatch.cli import VERSION as __version__  # noqa: E402 - after the handler, on purpose
from dispatch.cli import Dispatcher  # noqa: E402
from dispatch.context import Builtin, Invocation, Option  # noqa: E402

__all__ = ["Builtin", "Dispatcher", "ExitCode", "Invocation", "Option", "ToolError", "__version__"]

TYPE_CHECKING = False
if TYPE_CHECKING:
    # What checkers see: the two names below as they are, and no module `__getattr__`, so that
    # a misspelt `dispatch.Dispatchr` is an error rather than an `object`.
    from dispatch.errors import ToolError
    from dispatch.exitcodes import ExitCode
else:
    def __getattr__(name: str) -> object:
        # ToolError and ExitCode are imported when first used: the start-up path of every
        # command does without them.
        if name == "ToolError":
            from dispatch.errors import ToolError

            return ToolError
        if name == "ExitCode":
            from dispatch.exitcodes import ExitCode

            return ExitCode
        raise AttributeError(f"module 'dispatch' has no attribute {name!r}")
