"""A question a plugin asks the person at the terminal (`prompt`, `confirm`, `choose`): how it
is shown, and what a typed answer means. One code path for every asker: the host (for a
protocol plugin), the SDK run directly (on its own terminal), the SDK's fallback for an older
host, and the fake host of protocol.testing."""
from __future__ import annotations

from protocol.digits import decimal

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Mapping
    from typing import Any

METHODS = ("prompt", "confirm", "choose")


def _as_is(text: str) -> str:
    return text


class Question:
    """The request's `method` and `params`: its message, default, whether the answer is secret
    (a prompt's), and the choices (a choose's)."""

    __slots__ = ("method", "message", "default", "secret", "choices")

    def __init__(self, method: str, params: Mapping[str, Any]) -> None:
        self.method = method
        self.message = str(params.get("message", "")).rstrip()
        self.default = params.get("default")
        self.secret = method == "prompt" and bool(params.get("secret", False))
        choices = params.get("choices", []) if method == "choose" else []
        self.choices = [str(c) for c in choices] if isinstance(choices, list) else []

    def problem(self) -> str | None:
        """Why the question cannot be asked at all, or None."""
        if self.method not in METHODS:
            return f"{self.method!r} is not a question"
        if self.method == "choose" and not self.choices:
            return "a choose request needs at least one choice"
        if self.method == "choose" and self.default is not None and self.default not in self.choices:
            return "the default of a choose request must be one of its choices"
        return None

    def text(self, show: Callable[[str], str] = _as_is) -> str:
        """What to show before the cursor; `show` makes the plugin's text safe for a terminal
        (the host's `visible`), or leaves it as it is (the plugin's own terminal)."""
        message = show(self.message)
        if self.method == "confirm":
            hint = "[Y/n]" if self.default is True else "[y/N]" if self.default is False else "[y/n]"
            return f"{message} {hint} "
        if self.method == "choose":
            lines = [message] + [f"  {i}) {show(c)}" for i, c in enumerate(self.choices, 1)]
            default = f" [{show(str(self.default))}]" if self.default is not None else ""
            return "\n".join(lines) + f"\nChoose 1-{len(self.choices)}{default}: "
        default = f" [{show(str(self.default))}]" if self.default is not None and not self.secret else ""
        return f"{message}{default} "

    def answer(self, line: str) -> tuple[bool, object]:
        """(whether the typed `line` answers the question, the value to send back)."""
        if self.method == "prompt":
            return True, line if line or self.default is None else str(self.default)
        line = line.strip()
        if not line and self.default is not None:
            return True, self.default
        if self.method == "confirm":
            word = line.lower()
            if word in ("y", "yes"):
                return True, True
            if word in ("n", "no"):
                return True, False
            return False, None
        number = decimal(line)
        if number is not None and 1 <= number <= len(self.choices):
            return True, self.choices[number - 1]
        if line in self.choices:
            return True, line
        return False, None

    def again(self) -> str:
        """What to say when an answer does not fit."""
        if self.method == "confirm":
            return "Please answer y or n: "
        return f"Please choose a number from 1 to {len(self.choices)}: "
