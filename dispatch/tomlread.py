"""TOML read safely (the config, lock files): the nesting depth of arrays and inline tables is
checked before tomllib parses the text, which recurses once per level and would fail with
RecursionError on `x = [[[...5000...]]]`. A bounded scan outside strings and comments."""
from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

MAX_DEPTH = 64  # far beyond any config or lock file; far below Python's recursion limit


class TomlError(ValueError):
    """The text is not TOML this program reads; the message says why (and where)."""


def loads(text: str) -> dict[str, Any]:
    """The TOML document `text`; TomlError when it is not valid TOML or nests too deeply."""
    import tomllib

    line = too_deep(text)
    if line is not None:
        raise TomlError(f"nested more than {MAX_DEPTH} levels deep (line {line})")
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise TomlError(str(e)) from None


def too_deep(text: str, limit: int = MAX_DEPTH) -> int | None:
    """The line at which `[` and `{` outside strings and comments nest deeper than `limit`, or None."""
    depth = 0
    line = 1
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if c == "\n":
            line += 1
        elif c == "#":
            end = text.find("\n", i)
            i = n if end < 0 else end
            continue
        elif c in "\"'":
            i, line = _skip_string(text, i, line)
            continue
        elif c in "[{":
            depth += 1
            if depth > limit:
                return line
        elif c in "]}":
            depth = max(0, depth - 1)
        i += 1
    return None


def _skip_string(text: str, i: int, line: int) -> tuple[int, int]:
    """Past the string that starts at `i` (basic or literal, single or multi-line), and the line there."""
    quote = text[i]
    triple = text.startswith(quote * 3, i)
    delimiter = quote * 3 if triple else quote
    j = i + len(delimiter)
    n = len(text)
    while j < n:
        c = text[j]
        if c == "\\" and quote == '"':
            j += 2
            continue
        if c == "\n":
            line += 1
            if not triple:
                return j, line - 1  # an unterminated string: tomllib says so
        if text.startswith(delimiter, j):
            return j + len(delimiter), line
        j += 1
    return n, line
