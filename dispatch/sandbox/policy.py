"""The sandbox policies, by name, and how they combine: `read-only` (read the system, the
plugin's own files and the working directory; write only a private TMPDIR; no network) and
`workdir` (the same, and write inside the working directory); `,net` allows the network.

Where a plugin's policy comes from (`of_plugin`): the run's (`--sandbox`, `TOOL_SANDBOX`:
`Options.sandbox`), the config's (the plugin's entry in [sandbox.plugins], else the table's
`default`), and what it was installed with. The narrowest wins: the result allows only what
every source allows, so no source, and nothing the plugin says about itself, can widen another.

What a policy gives a run (`Rules`, `build`), decided before it starts: the paths it may read
(and run), write, and use as devices. The mechanisms (Landlock, Seatbelt) are told exactly
this list; `-v` shows it.

Read: the system (`/usr`, `/etc`, `/lib`..., `/proc`, `/sys`), the plugin's own files (its
installed version's directory; else the directory it is in, or inside home its file alone),
the interpreter its `#!` line names (and the installation it belongs to, below), the host
itself (its program, its packages, its Python), the working directory, the config's extra
paths. Write: the private TMPDIR; the working directory tree under `workdir` (unless it holds
the host's config or installed plugins, which would let the plugin widen its next run); the
config's extra paths. Devices: /dev/null, zero, full, random, urandom, tty and the terminal
the host was started on.

Nothing that contains the user's home is ever granted on the plugin's account (the working
directory when it is `~` or `/`), and inside home an interpreter is granted only within a
Python virtual environment: the `#!` line is the plugin's own word (`#!/home/me/.ssh/id_rsa`),
which must not widen what it reads. What the user names in the config is granted as named.
"""
from __future__ import annotations

import os
import sys

from dispatch import dirs, shebang
from dispatch.context import Frozen

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping
    from typing import Final, Literal

    from dispatch.context import Grant, Invocation

    Kind = Literal["read", "write", "device"]

READ_ONLY: Final = "read-only"
WORKDIR: Final = "workdir"
NET: Final = ",net"
NAMES: Final = (READ_ONLY, WORKDIR, READ_ONLY + NET, WORKDIR + NET)


class Policy(Frozen):
    """A policy: whether it writes the working directory (`workdir`), whether it has the network."""

    __slots__ = ("workdir", "net")
    workdir: bool
    net: bool

    def __init__(self, *, workdir: bool, net: bool) -> None:
        self._freeze(workdir=workdir, net=net)

    @property
    def name(self) -> str:
        return (WORKDIR if self.workdir else READ_ONLY) + (NET if self.net else "")

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Policy) and (self.workdir, self.net) == (other.workdir, other.net)

    def __hash__(self) -> int:
        return hash((self.workdir, self.net))

    def __repr__(self) -> str:
        return f"Policy({self.name!r})"


def parse(text: str, where: str = "--sandbox") -> Policy:
    """The policy a name gives (`read-only`, `workdir`, either with `,net`); a usage error (2)
    naming `where` it came from otherwise."""
    base, comma, suffix = text.strip().partition(",")
    if base in (READ_ONLY, WORKDIR) and (not comma or suffix == "net"):
        return Policy(workdir=base == WORKDIR, net=bool(comma))
    from dispatch.errors import usage_error  # only for a mistake

    raise usage_error(f"{where}: unknown sandbox policy {text!r}; the policies are {', '.join(NAMES)}")


def narrowest(policies: Iterable[Policy]) -> Policy | None:
    """What every one of `policies` allows (None when there are none: not confined)."""
    found = list(policies)
    if not found:
        return None
    return Policy(workdir=all(p.workdir for p in found), net=all(p.net for p in found))


def plugin_name(prog: str, path: str) -> str:
    """The name a plugin file is known by in the config's [sandbox.plugins] (`tool-foo_bar` is
    `foo-bar`: the words the user types; its completion sidecar `tool_complete-foo_bar` too)."""
    base = path.rpartition("/")[2]
    for prefix in (prog + "-", prog + "_complete-"):
        if base.startswith(prefix):
            return base[len(prefix) :].replace("_", "-")
    return base


def of_plugin(inv: Invocation, path: str) -> Policy | None:
    """The policy the plugin file at `path` runs under, from all its sources: the run's
    (`Options.sandbox`), the config's entry for it, and the policy it was installed with
    (`plugin install --sandbox`). None: it runs unconfined."""
    found = [parse(name, where) for name, where in ((inv.options.sandbox, "the sandbox policy"),
                                                    (grant(inv, path).policy, "the config's sandbox policy")) if name]
    installed = inv.installed_policy(path)
    if installed is not None:
        if installed not in NAMES:  # not the user's mistake: this version cannot honour it, so it does not run
            from dispatch.errors import ToolError
            from dispatch.exitcodes import ExitCode

            raise ToolError(ExitCode.CANNOT_EXECUTE, f"{path} was installed with the sandbox policy {installed!r}, which this "
                            f"version of {inv.prog} does not know; it does not run unconfined: install it again "
                            f"with one of {', '.join(NAMES)}")
        found.append(parse(installed))
    return narrowest(found)


def grant(inv: Invocation, path: str) -> Grant:
    """What the config gives the plugin at `path`: its policy (its own entry's, else the
    default) and its extra paths, with the paths the config gives every sandboxed plugin."""
    from dispatch.context import Grant

    table = inv.config.sandbox if inv.config is not None else {}
    every, own = table.get(""), table.get(plugin_name(inv.prog, path))
    found = [g for g in (every, own) if g is not None]
    return Grant(
        own.policy if own is not None and own.policy is not None else every.policy if every is not None else None,
        tuple(p for g in found for p in g.read),
        tuple(p for g in found for p in g.write),
    )


# -- what a confined run may touch -------------------------------------------------------------

SYSTEM_LINUX = ("/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32", "/etc", "/opt", "/nix/store", "/proc", "/sys")
SYSTEM_DARWIN = ("/usr", "/bin", "/sbin", "/System", "/Library", "/etc", "/private/etc", "/opt", "/Applications", "/dev")
DEVICES = ("/dev/null", "/dev/zero", "/dev/full", "/dev/random", "/dev/urandom", "/dev/tty")
_HERE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))  # the dispatch package


class Rules(Frozen):
    """A confined run: its policy, each path it is given (path, kind, why), its private
    TMPDIR, and what was not granted and why (`notes`)."""

    __slots__ = ("policy", "paths", "tmpdir", "notes")
    policy: Policy
    paths: tuple[tuple[str, Kind, str], ...]
    tmpdir: str
    notes: tuple[str, ...]

    def __init__(self, policy: Policy, paths: tuple[tuple[str, Kind, str], ...], tmpdir: str, notes: tuple[str, ...]) -> None:
        self._freeze(policy=policy, paths=paths, tmpdir=tmpdir, notes=notes)

    def of_kind(self, kind: Kind) -> list[str]:
        return [p for p, k, _ in self.paths if k == kind]

    def describe(self) -> list[str]:
        """What -v says: the rules, one line a kind."""
        lines = [f"sandbox {self.policy.name}: network {'allowed' if self.policy.net else 'denied (every socket but a socketpair)'}"]
        kinds: tuple[Kind, ...] = ("read", "write", "device")
        for kind in kinds:
            paths = self.of_kind(kind)
            if paths:
                lines.append(f"sandbox {kind}: " + ", ".join(paths))
        return lines + [f"sandbox: {note}" for note in self.notes]


def _inside(path: str, root: str) -> bool:
    return path == root or path.startswith(root.rstrip("/") + "/")


class _Builder:
    def __init__(self, home: str | None, system: tuple[str, ...]) -> None:
        self.home = home
        self.system = tuple(d + "/" for d in system if self.home is None or not _inside(self.home, d))
        self.paths: dict[str, tuple[Kind, str]] = {}
        self.notes: list[str] = []

    def add(self, path: str, kind: Kind, why: str, *, guarded: bool = True) -> None:
        """Grant `path` (the wider kind wins); a guarded grant that contains home is left out."""
        if guarded and self.home is not None and _inside(self.home, path):
            self.notes.append(f"{why} {path} is not granted: it contains your home directory")
            return
        old = self.paths.get(path)
        if old is None and kind == "read" and path.startswith(self.system):
            return  # beneath a system directory (the interpreter in /usr/bin): one rule less
        if old is None or (old[0] == "read" and kind == "write"):
            self.paths[path] = (kind, why)

    def in_home(self, path: str) -> bool:
        return self.home is not None and _inside(path, self.home)

    def interpreter(self, named: str) -> None:
        """The interpreter a `#!` line names: the file, and its installation (`P` for `P/bin/x`)."""
        real = os.path.realpath(named)
        granted = []
        for candidate in dict.fromkeys((os.path.abspath(named), real)):
            bin_dir = os.path.dirname(candidate)
            prefix = os.path.dirname(bin_dir)
            venv = os.path.basename(bin_dir) == "bin" and os.path.isfile(os.path.join(prefix, "pyvenv.cfg"))
            if self.in_home(candidate) and not venv:
                continue
            granted.append(candidate)
            if os.path.basename(bin_dir) == "bin" and prefix != "/":
                self.add(prefix, "read", "the interpreter's installation")
        if real in granted or (granted and not self.in_home(real)):
            self.add(real, "read", "the interpreter", guarded=False)
        else:
            self.notes.append(f"the interpreter {named} is not granted: it is in your home and not in a Python "
                              "virtual environment (grant it in the config's [sandbox] read)")

    def own(self, real: str, store: str | None) -> None:
        """The plugin's own files: its installed version's directory, else its directory (its file
        alone when that is in home: ~/bin holds other programs, and their secrets)."""
        plugins = os.path.join(os.path.realpath(store), "plugins") if store else None
        if plugins is not None and _inside(real, plugins):
            parts = real[len(plugins) + 1 :].split("/")
            if len(parts) >= 3:
                self.add(os.path.join(plugins, parts[0], parts[1]), "read", "the plugin's installed version")
                return
        own = os.path.dirname(real)
        if self.in_home(own):
            self.add(real, "read", "the plugin's file", guarded=False)
        else:
            self.add(own, "read", "the plugin's directory")


def _home(environ: Mapping[str, str]) -> str | None:
    home = environ.get("HOME", "")
    return os.path.realpath(home) if os.path.isabs(home) else None


def build(inv: Invocation, policy: Policy, path: str, env: Mapping[str, str], tmpdir: str, *, platform: str = sys.platform) -> Rules:
    """The rules for running the plugin file at `path` in the environment `env` under `policy`."""
    systems = SYSTEM_DARWIN if platform == "darwin" else SYSTEM_LINUX
    b = _Builder(_home(inv.environ), systems)
    for system in systems:
        b.add(system, "read", "the system directory")
    for device in DEVICES:
        b.add(device, "device", "a device", guarded=False)
    for fd in (0, 1, 2):
        try:
            if os.isatty(fd):
                b.add(os.ttyname(fd), "device", "the terminal", guarded=False)
        except OSError:
            pass  # a terminal with no name here (another mount namespace's): reached through the fd only
    real = os.path.realpath(path)
    b.own(real, dirs.data_dir(inv.environ, inv.prog))
    words = shebang.read(real)
    if words:
        b.interpreter(words[0])
        program = shebang.env_program(words)
        found = shebang.find_on_path(program, env.get("PATH")) if program else None
        if found is not None:
            b.interpreter(found)
    _host(b, inv)
    cwd = os.getcwd()
    b.add(cwd, "write" if policy.workdir and _writable(b, inv, cwd) else "read", "the working directory")
    if policy.net and os.path.exists("/etc/resolv.conf"):
        b.add(os.path.realpath("/etc/resolv.conf"), "read", "the resolver's configuration", guarded=False)
    given = grant(inv, path)
    for extra in given.read:
        b.add(extra, "read", "the config's", guarded=False)
    for extra in given.write:
        b.add(extra, "write", "the config's", guarded=False)
    b.add(tmpdir, "write", "the private TMPDIR", guarded=False)
    return Rules(policy, tuple((p, k, why) for p, (k, why) in b.paths.items()), tmpdir, tuple(b.notes))


def _writable(b: _Builder, inv: Invocation, cwd: str) -> bool:
    """Whether the working directory may be written: not when the host's config, installed
    plugins or cache, or a directory plugins are found in, is beneath it (the plugin could widen
    its next run, or replace a plugin that runs unconfined)."""
    from dispatch import lookup

    config = inv.config.path if inv.config is not None else None
    own = [config, dirs.data_dir(inv.environ, inv.prog), dirs.cache_dir(inv.environ, inv.prog)]
    for found in (*own, *lookup.search_path(inv).dirs):
        if found and _inside(os.path.realpath(found), cwd):
            b.notes.append(f"the working directory {cwd} is not writable: {found} is in it")
            return False
    return True


def _host(b: _Builder, inv: Invocation) -> None:
    """The host itself, for a plugin calling it back ($TOOL_BIN) or using its SDK."""
    b.add(os.path.realpath(inv.bin), "read", "the host's program", guarded=False)
    # Where the dispatch and protocol packages are imported from (site-packages, or the source
    # tree of an editable install): Python lists the directory to import from it.
    b.add(os.path.dirname(_HERE), "read", "the host's packages")
    for prefix in dict.fromkeys((sys.prefix, sys.base_prefix)):
        b.add(prefix, "read", "the host's Python")
