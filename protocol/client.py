"""The host's side of the protocol, without I/O: what the host makes of each line a plugin
writes, and what it sends back. One client serves every host: the session of a run, the
probes for describe and complete, `tool plugin check`, and the fake host of protocol.testing;
each brings its own I/O (a poll loop, a blocking read with a deadline, a subprocess).

    client = Client(host={"name": "tool", "version": "1.0"}, plugin="tool-foo")
    version = client.greeted(first_line)       # ProtocolError naming the fix on a mismatch
    send(client.run(argv, interactive=..., ...))
    for line in lines:
        msg = client.message(line)             # checked against the protocol
"""
from __future__ import annotations

from protocol import framing, messages, versions
from protocol.errors import ProtocolError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence
    from typing import Any


class Client:
    """One conversation with one plugin."""

    __slots__ = ("host", "plugin", "offered", "features", "env_prefix", "hello", "version", "seen_result", "seen_error")

    def __init__(
        self,
        *,
        host: Mapping[str, str],
        plugin: str = "the plugin",
        offered: Sequence[int] = versions.SUPPORTED,
        features: Sequence[str] = messages.FEATURES,
        env_prefix: str = "TOOL_",
    ) -> None:
        self.host = dict(host)
        self.features = list(features)  # what this host has (docs/protocol.md, "Features")
        self.plugin = plugin  # how to name the plugin in messages (its file name)
        self.offered = list(offered)
        self.env_prefix = env_prefix
        self.hello: dict[str, Any] | None = None
        self.version: int | None = None
        self.seen_result = False
        self.seen_error = False

    @property
    def offer(self) -> str:
        """The value of PROG_PROTOCOL for the plugin."""
        return versions.format_offer(self.offered)

    # -- plugin -> host ------------------------------------------------------------------------
    def greeted(self, line: bytes) -> int:
        """Take the plugin's first line, its hello: the version spoken from now on."""
        hello = framing.decode(line)
        if hello.get("type") != "hello":
            raise ProtocolError(f"the first message is {hello['type']!r}, not 'hello'", line=line)
        try:
            messages.check_plugin_message(hello)
        except ProtocolError as e:
            e.line = line
            raise
        self.hello = hello
        self.version = self._negotiate(hello)
        requires: list[str] = messages.cast("list[str]", hello.get("requires", []))  # checked above
        missing = [f for f in requires if f not in self.features]
        if missing:
            name, version = self.host.get("name", "the host"), self.host.get("version", "")
            raise ProtocolError(
                f"{self.plugin} requires {', '.join(repr(f) for f in missing)}, which {name} {version} does not have",
                fix=f"upgrade {name} (it has: {', '.join(self.features) or 'none'})",
            )
        return self.version

    def uses(self, feature: str) -> bool:
        """Whether the plugin said it uses `feature` (or needs it)."""
        hello = self.hello or {}
        return feature in hello.get("features", []) or feature in hello.get("requires", [])

    def _negotiate(self, hello: Mapping[str, Any]) -> int:
        name, version = self.host.get("name", "the host"), self.host.get("version", "")
        chosen = hello["protocol"]
        if chosen is None:
            supported = [v for v in hello.get("supported", []) if type(v) is int]
            theirs = ", ".join(str(v) for v in supported) or "none"
            ours = ", ".join(str(v) for v in self.offered)
            newer = max(supported or [0]) > max(self.offered)
            fix = (
                f"upgrade {name} to a version that speaks protocol {theirs}"
                if newer
                else f"upgrade {self.plugin} (or its SDK) to speak protocol {ours}"
            )
            raise ProtocolError(
                f"no protocol version in common: {self.plugin} speaks {theirs}, {name} {version} speaks {ours}", fix=fix
            )
        if chosen not in self.offered:
            raise ProtocolError(
                f"it chose protocol {chosen}, which {name} did not offer "
                f"({self.env_prefix}PROTOCOL={self.offer}); the plugin must pick one of the offered versions",
                fix=f"upgrade {self.plugin} or report this to its author",
            )
        return int(chosen)

    def message(self, line: bytes) -> dict[str, Any]:
        """A later line of the plugin, checked: the message, or ProtocolError quoting the line."""
        try:
            msg = framing.decode(line)
        except ProtocolError as e:
            if e.message == "line is not valid JSON" and not line.startswith(b"{"):
                e.message = "a line on stdout is not a protocol message (a stray print? plugins must write diagnostics to stderr)"
            raise
        try:
            messages.check_plugin_message(msg)
        except ProtocolError as e:
            e.line = line
            raise
        kind = msg["type"]
        if kind == "hello":
            raise ProtocolError("a second 'hello' message", line=line)
        if kind == "result":
            if self.seen_result:
                raise ProtocolError("a second 'result' message (at most one is allowed)", line=line)
            self.seen_result = True
        elif kind == "error":
            self.seen_error = True
        return msg

    # -- host -> plugin ------------------------------------------------------------------------
    def run(
        self, argv: Sequence[str], *, interactive: bool, output: str = "text", color: bool = False,
        width: int = 80, verbosity: int = 0, stdin_fd: int | None = None,
    ) -> dict[str, Any]:
        return messages.run_request(
            argv, interactive=interactive, output=output, color=color, width=width, verbosity=verbosity,
            host=self.host, features=self.features, stdin_fd=stdin_fd,
        )

    def describe(self) -> dict[str, Any]:
        return messages.describe_request(self.host, self.features)

    def complete(self, words: Sequence[str], current: str) -> dict[str, Any]:
        return messages.complete_request(words, current, self.host, self.features)

    def unanswered(self, request: Mapping[str, Any]) -> dict[str, Any]:
        """The response to a request with nobody to ask and no input, as a script gets it."""
        rid, method = request.get("id"), request.get("method")
        if method == "read_input":
            return messages.response(rid, {"base64": "", "eof": True})
        from protocol.questions import METHODS  # only for the hosts that ask nobody: probes, plugin check

        if method in METHODS or method == "terminal":
            return messages.error_response(rid, "interaction_unavailable", "there is nobody to ask here")
        return messages.error_response(rid, "unknown_method", f"{self.host.get('name')} has no method {method!r}")
