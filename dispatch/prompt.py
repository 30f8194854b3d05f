"""A question a protocol plugin asks the person at the terminal (`prompt`, `confirm`, `choose`):
how it is shown, and what an answer means. The host reads the answer inside its event loop
(dispatch/conversation.py); this module only knows questions and answers."""
from __future__ import annotations

from dispatch.text import visible

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping
    from typing import Any

METHODS = ("prompt", "confirm", "choose")


class Question:
    __slots__ = ("rid", "method", "message", "default", "secret", "choices", "typed", "saved")

    def __init__(self, rid: object, method: str, params: Mapping[str, Any]) -> None:
        self.rid = rid
        self.method = method
        self.message = visible(str(params.get("message", "")).rstrip())
        self.default = params.get("default")
        self.secret = method == "prompt" and bool(params.get("secret", False))
        self.choices = [str(c) for c in params.get("choices", [])] if method == "choose" else []
        self.typed = bytearray()  # what was typed so far (a line arrives in pieces)
        self.saved: list[Any] | None = None  # the terminal's settings while echo is off

    def problem(self) -> str | None:
        """Why the question cannot be asked at all, or None."""
        if self.method == "choose" and not self.choices:
            return "a choose request needs at least one choice"
        if self.method == "choose" and self.default is not None and self.default not in self.choices:
            return "the default of a choose request must be one of its choices"
        return None

    def text(self) -> str:
        """What to show before the cursor."""
        if self.method == "confirm":
            hint = "[Y/n]" if self.default is True else "[y/N]" if self.default is False else "[y/n]"
            return f"{self.message} {hint} "
        if self.method == "choose":
            lines = [self.message] + [f"  {i}) {visible(c)}" for i, c in enumerate(self.choices, 1)]
            default = f" [{visible(str(self.default))}]" if self.default is not None else ""
            return "\n".join(lines) + f"\nChoose 1-{len(self.choices)}{default}: "
        default = f" [{visible(str(self.default))}]" if self.default is not None and not self.secret else ""
        return f"{self.message}{default} "

    def answer(self, line: str) -> tuple[bool, object]:
        """(whether `line` answers the question, the value to send)."""
        line = line.strip() if self.method != "prompt" else line
        if self.method == "prompt":
            return True, line if line or self.default is None else str(self.default)
        if not line and self.default is not None:
            return True, self.default
        if self.method == "confirm":
            word = line.lower()
            if word in ("y", "yes"):
                return True, True
            if word in ("n", "no"):
                return True, False
            return False, None
        if line.isdigit() and 1 <= int(line) <= len(self.choices):
            return True, self.choices[int(line) - 1]
        if line in self.choices:
            return True, line
        return False, None

    def again(self) -> str:
        """What to say when an answer does not fit."""
        if self.method == "confirm":
            return "Please answer y or n: "
        return f"Please choose a number from 1 to {len(self.choices)}: "
