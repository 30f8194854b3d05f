"""The `call` request: another command of the same program, run through the host on a protocol
plugin's behalf, its answer returned as data (the way to compose plugins).

The command runs as `<prog> --json --no-input ARGV...`, so that whatever it is (a builtin, a
plain plugin, a protocol plugin) its output, records, result and exit status arrive as JSON
lines; its stdin is /dev/null (it asks nobody), its stderr is the user's. It runs alongside
the caller, inside the session's loop, so signals and deadlines act meanwhile. Calls nest at
most MAX_DEPTH deep (a plugin calling itself would otherwise never end).
"""
from __future__ import annotations

import os

from protocol import framing, messages

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping
    from typing import Any

    from dispatch.context import Invocation
    from dispatch.spawn import Child

MAX_DEPTH = 8
MAX_OUTPUT = 16 << 20


class Call:
    def __init__(self, rid: object, child: Child) -> None:
        self.rid = rid
        self.child = child
        self.splitter = framing.LineSplitter()
        self.output = bytearray()
        self.records: list[Any] = []
        self.result: Any = None
        self.error: Any = None
        self.exit: int | None = None
        self.problem: str | None = None

    @property
    def fd(self) -> int:
        assert self.child.stdout is not None
        return self.child.stdout

    def feed(self, data: bytes) -> None:
        """Lines of the command's --json output."""
        import binascii

        try:
            lines = self.splitter.feed(data)
        except messages.ProtocolError:
            self.problem = "its output is not JSON lines"
            return
        for line in lines:
            try:
                msg = framing.decode(line)
            except messages.ProtocolError:
                self.output += line + b"\n"  # a builtin's JSON document, or a line that is not a message
                continue
            kind = msg["type"]
            if kind == "output":
                text = msg.get("text")
                self.output += text.encode("utf-8", "surrogatepass") if isinstance(text, str) else binascii.a2b_base64(str(msg.get("base64", "")))
            elif kind == "record":
                self.records.append(msg.get("data"))
            elif kind == "result":
                self.result = msg.get("data")
            elif kind == "error":
                self.error = {"code": msg.get("code"), "message": msg.get("message")}
            elif kind == "exit" and type(msg.get("code")) is int:
                self.exit = msg["code"]  # type: ignore[assignment]
        if len(self.output) > MAX_OUTPUT:
            self.problem = f"its output passed {MAX_OUTPUT >> 20} MiB"

    def response(self, status: int | None) -> dict[str, Any]:
        """The answer to the request, once the command ended with `status` (None: it had to be
        stopped)."""
        if self.problem is not None:
            return messages.error_response(self.rid, "call_failed", f"the called command failed: {self.problem}")
        if self.exit is None:  # a builtin, or a run that ended without its exit line
            self.exit = 1 if status is None else status if status >= 0 else 128 - status
        result: dict[str, Any] = {"exit": self.exit, "result": self.result}
        try:
            result["output"] = bytes(self.output).decode("utf-8")
        except UnicodeDecodeError:
            import binascii

            result["output_base64"] = binascii.b2a_base64(bytes(self.output), newline=False).decode("ascii")
        if self.records:
            result["records"] = self.records
        if self.error is not None:
            result["error"] = self.error
        return messages.response(self.rid, result)


def start(inv: Invocation, env: Mapping[str, str], rid: object, argv: list[str]) -> Call | dict[str, Any]:
    """The running call, or the error response when it cannot start."""
    from dispatch import spawn

    var = inv.program.var("CALL_DEPTH")
    depth = int(env.get(var, "0")) if env.get(var, "0").isdigit() else 0
    if depth >= MAX_DEPTH:
        return messages.error_response(rid, "call_failed", f"calls nest {MAX_DEPTH} deep at most (a plugin calling itself?)")
    if not argv:
        return messages.error_response(rid, "invalid_params", "argv names no command")
    child_env = {k: v for k, v in env.items() if k not in (inv.program.var("PROTOCOL"), inv.program.var("COMMAND"))}
    child_env[var] = str(depth + 1)
    try:
        child = spawn.spawn(inv.bin, ["--json", "--no-input", *argv], child_env, stdin_null=True)
    except Exception as e:  # noqa: BLE001 - reported to the plugin, which decides
        return messages.error_response(rid, "call_failed", f"cannot run {inv.prog}: {getattr(e, 'message', e)}")
    os.set_blocking(child.stdout, False)  # type: ignore[arg-type]
    return Call(rid, child)
