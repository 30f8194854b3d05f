"""tool: a git/kubectl-style exec-subcommand dispatcher, usable as a library.

    from dispatch import Dispatcher
    Dispatcher(prog="mycli").run()

runs `mycli-foo` for `mycli foo`, with MYCLI_DISPATCH_PLUGIN_PATH, MYCLI_DISPATCH_BIN, ...
The public names are below (docs/library.md says what is stable).
"""
# No `from __future__ import annotations` here: it imports a module, and these lines run while
# the `tool` command starts. dispatch.startup first: it notes a Ctrl-C until it can be reported.
from dispatch.startup import VERSION as __version__
from dispatch.cli import Dispatcher
from dispatch.context import Builtin, Invocation, Option
from dispatch.errors import ToolError
from dispatch.exitcodes import ExitCode

__all__ = ["Builtin", "Dispatcher", "ExitCode", "Invocation", "Option", "ToolError", "__version__"]
