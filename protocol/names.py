"""The environment variables a dispatcher and its plugins share, and the rule that names them.

Every variable is the program's prefix followed by a fixed name: BIN, COMMAND and PROTOCOL
(set for plugins), CALL_DEPTH (set for the commands a `call` runs), and CONFIG, PLUGIN_PATH,
TIMEOUT and HANDSHAKE_TIMEOUT (read by the dispatcher). `tool` uses `TOOL_`. Any other
program uses `PROG_DISPATCH_` (`git` -> `GIT_DISPATCH_PROTOCOL`), because a dispatcher often
stands in for a real program whose own variables share its name (`GIT_CONFIG`,
`GIT_PROTOCOL`, `DOCKER_CONFIG`): the dispatcher must never read or replace those.
"""
from __future__ import annotations

# The names after the prefix, for docs and tests: what an embedder's program reads and sets.
SET_FOR_PLUGINS = ("BIN", "COMMAND", "PROTOCOL", "CALL_DEPTH")
READ_BY_THE_HOST = ("CONFIG", "PLUGIN_PATH", "TIMEOUT", "HANDSHAKE_TIMEOUT")


def env_prefix(prog: str) -> str:
    """The prefix of a program's variables: `TOOL_` for `tool`, `PROG_DISPATCH_` otherwise
    (upper-cased, other characters than letters and digits as `_`: `my-cli` -> `MY_CLI_DISPATCH_`)."""
    base = "".join(c if c.isalnum() else "_" for c in prog).upper()
    return "TOOL_" if prog == "tool" else base + "_DISPATCH_"
