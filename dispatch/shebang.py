"""What a plugin file's `#!` line asks for: read safely, checked before a plugin starts, and
explained when it cannot. On the start-up path (preflight): imports nothing beyond `os`."""
from __future__ import annotations

import os

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

# Linux reads at most this much of the #! line (BINPRM_BUF_SIZE).
_MAX_LINE = 256
# What runs a text file without a #! line, as execvp(3) and git do.
SH = "/bin/sh"


def read_head(path: str, size: int) -> bytes | None:
    """The first `size` bytes of a regular file; None for anything else. Opened without
    blocking, so that a FIFO swapped in for the plugin cannot hang the host."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC | os.O_NONBLOCK | getattr(os, "O_NOCTTY", 0))
    except (OSError, ValueError):
        return None
    try:
        if (os.fstat(fd).st_mode & 0o170000) != 0o100000:
            return None
        return os.read(fd, size)
    except OSError:
        return None
    finally:
        os.close(fd)


def preflight(path: str, env: Mapping[str, str]) -> None:
    """Refuse, with the reason, a script whose `#!/usr/bin/env prog` names a missing prog.

    Once exec'd, env would print its own error and exit 127, which a script
    would read as "no such command"; this costs one read of the file's head.
    """
    head = read_head(path, 256)
    if head is None:
        return
    if not head.startswith(b"#!") or b"env" not in head.split(b"\n", 1)[0]:
        return  # not an env line: a missing interpreter shows as ENOENT from exec, explained then
    words = parse(head)
    program = env_program(words or [])
    if program is not None and not on_path(program, env.get("PATH")):
        from dispatch.errors import cannot_execute

        raise cannot_execute(
            path,
            f"its #! line asks for {program!r}, which is not on PATH; "
            f"install it or change the first line of the file",
        )




def read(path: str) -> list[str] | None:
    """The words of the file's `#!` line, or None when it has none (or cannot be read)."""
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
    return find_on_path(program, path_value) is not None


def find_on_path(program: str, path_value: str | None) -> str | None:
    """What `env` would run for `program` on this PATH value (None: nothing)."""
    if "/" in program:
        return program if os.access(program, os.X_OK) else None
    for d in (path_value or "").split(os.pathsep):
        candidate = os.path.join(d or ".", program)
        if os.path.isfile(candidate) and os.access(candidate, os.X_OK):
            return candidate
    return None


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
