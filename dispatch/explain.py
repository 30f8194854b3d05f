"""Why a plugin could not be started, in terms of the file the user has to fix.

The exit code is 126 (cannot execute) or 127 (gone), never 70.
"""
from __future__ import annotations

import errno
import os

from dispatch import shebang
from dispatch.errors import ToolError, cannot_execute
from dispatch.exitcodes import ExitCode
from dispatch.shebang import read_head

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping

    from dispatch.errors import ToolError


def is_script(path: str) -> bool:
    """Text without a #! line, which sh may run; not a binary cut short or for another machine."""
    head = read_head(path, 512)
    return head is not None and b"\0" not in head and not head.startswith(b"\x7fELF")


def explain(path: str, err: OSError, env: Mapping[str, str]) -> ToolError:
    """The ToolError for a plugin that could not be started."""
    code = err.errno
    if code == errno.ENOENT:
        if not os.path.lexists(path):
            return ToolError(
                ExitCode.NOT_FOUND,
                f"{path} disappeared before it could be run; run the command again",
            )
        interpreter = shebang.missing_interpreter(path, env.get("PATH"))
        if interpreter is not None:
            return cannot_execute(
                path,
                f"its #! line names the interpreter {interpreter!r}, which does not exist; "
                f"install it or fix the first line of the file",
            )
        return cannot_execute(path, "bad interpreter or missing loader (check its #! line)")
    if code == errno.EACCES:
        words = shebang.read(path)
        if words and not os.access(words[0], os.X_OK):
            return cannot_execute(
                path, f"its interpreter {words[0]!r} (from the #! line) is not executable"
            )
        return cannot_execute(
            path,
            "permission denied (is it executable, and is its file system mounted without noexec?)",
        )
    if code == errno.ENOEXEC:
        return cannot_execute(
            path, "exec format error (a binary for another machine or only partly written, or a broken #! line)"
        )
    if code == errno.ETXTBSY:
        return cannot_execute(path, "the file is being written right now; try again when it is complete")
    if code == errno.E2BIG:
        return cannot_execute(path, "the argument list is too long")
    return cannot_execute(path, err.strerror or str(err))


