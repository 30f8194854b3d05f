"""tool: a git/kubectl-style exec-subcommand dispatcher, usable as a library.

    from dispatch import Dispatcher
    Dispatcher(prog="mycli").run()

runs `mycli-foo` for `mycli foo`, with MYCLI_PLUGIN_PATH, MYCLI_BIN, ...
"""
from __future__ import annotations

__version__ = "0.1.0"
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
