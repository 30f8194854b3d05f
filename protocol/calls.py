"""The answer to a `call` request, from the `--json` lines of the command it ran: its output
(the exact bytes: `output_base64` when they are not UTF-8), records, result, error (with its
hint) and exit status. One code path for the host, which runs the command for a protocol
plugin, and for the SDK run directly, which runs it itself."""
from __future__ import annotations

import binascii

from protocol import framing
from protocol.errors import ProtocolError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

MAX_OUTPUT = 16 << 20  # a called command's output is data for the caller: this much at most


class CallOutput:
    """Feed it the lines of `PROG --json --no-input ARGV...`; `answer` is the call's result."""

    __slots__ = ("output", "records", "result", "error", "exit", "problem", "size")

    def __init__(self) -> None:
        self.output = bytearray()
        self.records: list[Any] = []
        self.result: Any = None
        self.error: dict[str, Any] | None = None
        self.exit: int | None = None
        self.problem: str | None = None  # why the output cannot be an answer (too large)
        self.size = 0  # bytes of every line so far: records and results are data kept too

    def line(self, line: bytes) -> None:
        """One line of the command's stdout."""
        self.size += len(line) + 1
        if self.size > MAX_OUTPUT:
            self.problem = f"its output passed {MAX_OUTPUT >> 20} MiB"
            return
        try:
            msg = framing.decode(line)
        except ProtocolError:
            self.output += line + b"\n"  # a builtin's JSON document, or a line that is not a message
            return
        kind = msg["type"]
        if kind == "output":
            self._output(msg)
        elif kind == "record":
            self.records.append(msg.get("data"))
        elif kind == "result":
            self.result = msg.get("data")
        elif kind == "error":
            self.error = {k: msg[k] for k in ("code", "message", "hint") if k in msg}
        elif kind == "exit" and type(msg.get("code")) is int:
            self.exit = msg["code"]  # type: ignore[assignment]

    def _output(self, msg: dict[str, object]) -> None:
        text = msg.get("text")
        if isinstance(text, str):
            self.output += text.encode("utf-8", "surrogatepass")
            return
        try:
            self.output += binascii.a2b_base64(str(msg.get("base64", "")), strict_mode=True)
        except binascii.Error:
            self.problem = "its output has invalid base64"

    def answer(self, status: int | None) -> dict[str, Any]:
        """The call's result, once the command ended with `status` (negative: killed by that
        signal; None: it had to be stopped). A ValueError when the output cannot be one."""
        if self.problem is not None:
            raise ValueError(self.problem)
        code = self.exit
        if code is None:  # a builtin, or a run that ended without its exit line
            code = 1 if status is None else status if status >= 0 else 128 - status
        result: dict[str, Any] = {"exit": code, "result": self.result}
        try:
            result["output"] = bytes(self.output).decode("utf-8")
        except UnicodeDecodeError:
            result["output_base64"] = binascii.b2a_base64(bytes(self.output), newline=False).decode("ascii")
        if self.records:
            result["records"] = self.records
        if self.error is not None:
            result["error"] = self.error
        return result
