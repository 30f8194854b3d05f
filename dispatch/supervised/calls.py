"""The `call` request: another command of the same program, run through the host on a protocol
plugin's behalf, its answer returned as data (the way to compose plugins).

The command runs as `<prog> --json --no-input ARGV...`, so that whatever it is (a builtin, a
plain plugin, a protocol plugin) its output, records, result and exit status arrive as JSON
lines (turned into the answer by protocol/calls.py, as the SDK does when run directly); its
stdin is /dev/null (it asks nobody), its stderr is the user's. It runs alongside the caller,
inside the session's loop, so signals and deadlines act meanwhile. Calls nest at most
MAX_DEPTH deep (a plugin calling itself would otherwise never end).

A sandboxed plugin may call other plugins only, and they run at most as widely confined as it
is (`--sandbox=ITS POLICY`): never a builtin, an alias or host options, which the host would
run outside any sandbox on its behalf (`plugin install`, `-C ~/.ssh`).
"""
from __future__ import annotations

from dispatch.process import poller as events
from dispatch.process import spawn
from dispatch.supervised.loop import Link
from protocol import framing, messages
from protocol.calls import CallOutput
from protocol.digits import decimal
from protocol.errors import ProtocolError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping
    from typing import Any

    from dispatch.context import Invocation
    from dispatch.process.poller import Poller
    from dispatch.process.spawn import Child

MAX_DEPTH = 8


class Call:
    """One command running for the plugin: its pipe in the run's loop, and what it said so far."""

    def __init__(self, rid: object, child: Child, poller: Poller) -> None:
        self.rid = rid
        self.child = child
        self.link = Link(child, poller, stdout_tag=events.CALL)
        self.splitter = framing.LineSplitter()
        self.collected = CallOutput()

    def feed(self, data: bytes) -> bool:
        """Lines of the command's --json output; False once it cannot give an answer any more."""
        try:
            lines = self.splitter.feed(data)
        except ProtocolError:
            self.collected.problem = "its output is not JSON lines"
            return False
        for line in lines:
            self.collected.line(line)
        return self.collected.problem is None

    def finish(self, *, wait: float) -> dict[str, Any]:
        """Stop the command (it has `wait` seconds to exit by itself) and answer the request."""
        self.link.close()
        status = spawn.stop(self.child, wait=wait)
        try:
            return messages.response(self.rid, self.collected.answer(status))
        except ValueError as e:
            return messages.error_response(self.rid, "call_failed", f"the called command failed: {e}")

    def cancel(self, why: str) -> dict[str, Any]:
        self.link.close()
        spawn.stop(self.child, term=True, wait=1.0)
        return messages.error_response(self.rid, "cancelled", why)


def _confined(inv: Invocation, caller: str | None, argv: list[str]) -> list[str] | dict[str, str]:
    """The host options a call from the plugin at `caller` runs with (its sandbox), or why it may not run."""
    if caller is None or not inv.may_confine(caller):
        return []
    from dispatch import commands
    from dispatch.sandbox.policy import of_plugin

    policy = of_plugin(inv, caller)
    if policy is None:
        return []
    word = argv[0]
    if word.startswith(("-", "_")) or commands.is_builtin(word, inv.program) or word in commands.aliases(inv.config, inv.program):
        return {"why": f"a sandboxed plugin may call other plugins only, not {word!r} (it would run outside the sandbox)"}
    return [f"--sandbox={policy.name}"]


def start(
    inv: Invocation, env: Mapping[str, str], rid: object, argv: list[str], poller: Poller, *, caller: str | None = None,
) -> Call | dict[str, Any]:
    """The running call (for the plugin at `caller`), or the error response when it cannot start."""
    var = inv.program.var("CALL_DEPTH")
    given = env.get(var, "0")
    depth = decimal(given, 3) or 0
    if depth >= MAX_DEPTH:
        return messages.error_response(rid, "call_failed", f"calls nest {MAX_DEPTH} deep at most (a plugin calling itself?)")
    if not argv:
        return messages.error_response(rid, "invalid_params", "argv names no command")
    sandbox = _confined(inv, caller, argv)
    if isinstance(sandbox, dict):
        return messages.error_response(rid, "call_failed", sandbox["why"])
    child_env = {k: v for k, v in env.items() if k not in (inv.program.var("PROTOCOL"), inv.program.var("COMMAND"))}
    child_env[var] = str(depth + 1)
    try:
        child = spawn.spawn(inv.bin, ["--json", "--no-input", *sandbox, *argv], child_env, stdin_null=True)
    except Exception as e:
        return messages.error_response(rid, "call_failed", f"cannot run {inv.prog}: {getattr(e, 'message', e)}")
    return Call(rid, child, poller)
