"""A number written in text (a typed answer, an environment variable, a header, a file name):
ASCII digits only, and not too many of them. `str.isdigit()` and `int()` also take "²" or
"١٠", which `int()` may then refuse or read as a number nobody meant; this is the one place
that decides what counts as a number, for the host and the SDK."""
from __future__ import annotations


def decimal(text: str, most: int = 9) -> int | None:
    """The non-negative integer `text` spells with 1 to `most` ASCII digits; else None."""
    if 0 < len(text) <= most and text.isascii() and text.isdigit():
        return int(text)
    return None
