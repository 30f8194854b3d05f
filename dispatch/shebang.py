"""What a script's `#!` line asks for, to explain why a plugin cannot start."""
from __future__ import annotations

import os

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Sequence

# Linux reads at most this much of the #! line (BINPRM_BUF_SIZE).
_MAX_LINE = 256


def read(path: str) -> list[str] | None:
    """The words of the file's `#!` line, or None when it has none (or cannot be read)."""
    from dispatch.launch import read_head

    head = read_head(path, _MAX_LINE)
    return None if head is None else parse(head)


def parse(head: bytes) -> list[str] | None:
    """The words of the `#!` line at the start of `head`, or None."""
    if not head.startswith(b"#!"):
        return None
    line = head[2:].split(b"\n", 1)[0].rstrip(b"\r")
    return os.fsdecode(line).split()


def env_program(words: Sequence[str]) -> str | None:
    """For `#!/usr/bin/env [-S] [VAR=x] prog ...`: prog. None for any other #! line."""
    if not words or os.path.basename(words[0]) != "env":
        return None
    rest: list[str] = []
    for word in words[1:]:
        rest.extend(word.split())  # `env -S "python3 -u"` arrives as one word
    for word in rest:
        if word.startswith("-") or "=" in word:
            continue
        return word
    return None


def on_path(program: str, path_value: str | None) -> bool:
    """Whether `env` would find `program` on this PATH value."""
    if "/" in program:
        return os.access(program, os.X_OK)
    for d in (path_value or "").split(os.pathsep):
        candidate = os.path.join(d or ".", program)
        if os.path.isfile(candidate) and os.access(candidate, os.X_OK):
            return True
    return False


def missing_interpreter(path: str, path_value: str | None) -> str | None:
    """The interpreter the #! line names when it does not exist, else None."""
    words = read(path)
    if not words:
        return None
    interpreter = words[0]
    if not os.path.exists(interpreter):
        return interpreter
    program = env_program(words)
    if program is not None and not on_path(program, path_value):
        return program
    return None
