"""macOS: the rules as a Seatbelt profile (SBPL), and the command that applies it: the plugin
runs under `/usr/bin/sandbox-exec -p PROFILE`, which confines itself and then execs the plugin
(same pid), as Codex CLI and Anthropic's sandbox-runtime do. Pure text here, unit-tested with
the rules given: nothing in this module needs a Mac.
"""
from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from dispatch.sandbox.policy import Rules

SANDBOX_EXEC = "/usr/bin/sandbox-exec"

# What every process needs to start on macOS, and nothing that reaches another user's data.
_BASE = """(version 1)
(deny default)
(allow process-exec process-fork)
(allow signal (target same-sandbox))
(allow sysctl-read)
(allow file-read-metadata)
(allow ipc-posix-sem)
(allow mach-lookup
  (global-name "com.apple.system.opendirectoryd.libinfo")
  (global-name "com.apple.system.notification_center")
  (global-name "com.apple.logd")
  (global-name "com.apple.trustd.agent")
  (global-name "com.apple.coreservices.launchservicesd"))
"""


def quote(path: str) -> str:
    """A string literal of SBPL: backslashes and double quotes escaped, control characters refused."""
    if any(ord(c) < 0x20 or c == "\x7f" for c in path):
        raise ValueError(f"a path with a control character cannot be put in a profile: {path!r}")
    return '"' + path.replace("\\", "\\\\").replace('"', '\\"') + '"'


def profile(rules: Rules) -> str:
    """The profile for these rules."""
    out = [_BASE]
    for kind, allowed in (("read", "file-read*"), ("write", "file-read* file-write*"), ("device", "file-read* file-write* file-ioctl")):
        paths = rules.of_kind(kind)  # type: ignore[arg-type]
        if paths:
            out.append(f"(allow {allowed}\n" + "".join(f"  (subpath {quote(p)})\n" for p in paths) + ")\n")
    if rules.policy.net:
        out.append("(allow network*)\n(allow system-socket)\n(allow mach-lookup (global-name \"com.apple.dnssd.service\"))\n")
    return "".join(out)


def wrap(rules: Rules, argv: list[str]) -> list[str]:
    """The command line that runs `argv` confined by these rules."""
    return [SANDBOX_EXEC, "-p", profile(rules), *argv]
