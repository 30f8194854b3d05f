"""What a shell is offered for the word being typed (completion's one value type, shared by the
builtin that answers the shell and the sidecars it asks; small, so that completing plugin names
imports nothing else)."""
from __future__ import annotations


class Candidates:
    """What a shell is offered for the word being typed: (value, description) pairs, and
    cobra's directive bits (2: no space after the value; 4: no file names instead); `late`:
    a sidecar's answer dropped for coming after TIMEOUT (`plugin check` says so)."""

    __slots__ = ("items", "directive", "late")

    def __init__(self, items: list[tuple[str, str]] | None = None, directive: int = 0, *, late: bool = False) -> None:
        self.items = items if items is not None else []
        self.directive = directive
        self.late = late
