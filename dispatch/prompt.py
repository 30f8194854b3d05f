"""Asking the person at the terminal, for a plugin's `prompt` request."""
from __future__ import annotations

import os
import sys


def ask(message: str, *, default: str | None = None, secret: bool = False) -> str | None:
    """The answer typed on the terminal (the default for an empty answer); None at end of input."""
    text = message.rstrip()
    if default is not None and not secret:
        text += f" [{default}]"
    text += " "
    if secret:
        import getpass

        try:
            answer = getpass.getpass(text, stream=sys.stderr)
        except EOFError:
            return None
    else:
        sys.stderr.write(text)
        sys.stderr.flush()
        line = _read_line()
        if line is None:
            sys.stderr.write("\n")
            return None
        answer = line
    if not answer and default is not None:
        return default
    return answer


def _read_line() -> str | None:
    # Unbuffered, so that nothing past the answer is taken from stdin.
    data = bytearray()
    while True:
        b = os.read(0, 1)
        if not b:
            return None if not data else data.decode("utf-8", "replace")
        if b == b"\n":
            return data.decode("utf-8", "replace").rstrip("\r")
        data += b
