"""Running a plugin: in place of the host (exec), as git, kubectl and cargo do, when its file
does not declare the protocol and nothing needs the host to stay; otherwise supervised
(dispatch/run.py).

This is the start-up path of every command that runs a plain plugin, so it
is kept small: failures are explained in dispatch/explain.py and plugins the
host supervises are started by dispatch/run.py and dispatch/spawn.py.
"""
from __future__ import annotations

import os
import sys

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence
    from typing import NoReturn

    from dispatch.context import Invocation
    from dispatch.resolve import Found



def run_plugin(inv: Invocation, found: Found, words: Sequence[str], rest: Sequence[str]) -> int:
    """Run the plugin found for `rest`: its status, or -N when the host must die by signal N."""
    from dispatch import declaration

    program = inv.program
    args = list(rest[found.nwords :])
    extra = {program.var("BIN"): inv.bin, program.var("COMMAND"): " ".join(words[: found.nwords])}
    # PROG_PROTOCOL is set only where this host listens for a hello: never passed on.
    child_env = plugin_environ(inv.environ, extra, program.var("PROTOCOL"))
    if program.windows:
        from dispatch import run

        return run.waited(found.path, args, child_env)
    declared = declaration.declares(found.path, found.stat, program.var("PROTOCOL").encode(), inv.environ, program.prog)
    inv.trace(
        f"running {found.path} ({'declares the protocol' if declared else 'plain'})"
        + (f" with {len(args)} argument(s)" if args else "")
    )
    options = inv.options
    if not declared and not options.json and not options.supervised and program.use_exec:
        # Plain: it replaces the host on the user's terminal, as under git, every run.
        exec_plugin(found.path, args, child_env)
    from dispatch import run

    return run.supervised(inv, found, args, child_env, declared=declared)


def _reset_signals() -> None:
    # Python ignores SIGPIPE and SIGXFSZ; ignored signals survive exec, and a
    # plugin in `tool foo | head` must die of SIGPIPE like it would alone.
    import _signal

    for name in ("SIGPIPE", "SIGXFSZ"):
        signum = getattr(_signal, name, None)
        if signum is not None:
            _signal.signal(signum, _signal.SIG_DFL)


# What Python's locale coercion (PEP 538) puts in LC_CTYPE when it starts under the C locale.
_COERCION_TARGETS = ("C.UTF-8", "C.utf8", "UTF-8")


def plugin_environ(env: Mapping[str, str], extra: Mapping[str, str], drop: str) -> dict[str, str]:
    """The environment a plugin gets: the user's, plus `extra`, without `drop`.

    The user's means as the user started the host: under the C locale, the
    host's interpreter adds `LC_CTYPE=C.UTF-8` to its own environment at
    start-up, which must not reach the plugin (it would change what `wc -m`
    or `sort` do). Only `os.environ` is corrected; a mapping an embedder
    passes is taken as given.
    """
    child = dict(env)
    ctype = child.get("LC_CTYPE")
    if ctype in _COERCION_TARGETS and not child.get("LC_ALL") and env is os.environ:
        original = _startup_ctype(ctype)
        if original is None:
            del child["LC_CTYPE"]
        else:
            child["LC_CTYPE"] = original
    child.pop(drop, None)
    child.update(extra)
    return child


def _startup_ctype(ctype: str) -> str | None:
    """LC_CTYPE as the process was started with it (None: unset), given that it is now `ctype`."""
    try:
        # Linux: the environment exactly as execve(2) gave it to the process.
        fd = os.open("/proc/self/environ", os.O_RDONLY | os.O_CLOEXEC)
    except OSError:
        # Elsewhere: Python coerces only when the locale it found was C or POSIX.
        return None if os.environ.get("LANG", "") in ("", "C", "POSIX") else ctype
    chunks = []
    try:
        size = 0
        while size < 1 << 24:
            chunk = os.read(fd, 1 << 16)
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
    except OSError:
        return ctype
    finally:
        os.close(fd)
    for entry in b"".join(chunks).split(b"\0"):
        if entry.startswith(b"LC_CTYPE="):
            return os.fsdecode(entry[9:])
    return None


def exec_plugin(path: str, args: Sequence[str], env: Mapping[str, str]) -> NoReturn:
    """Replace the host with the plugin (POSIX), as kubectl and cargo do."""
    from dispatch.shebang import SH, preflight

    preflight(path, env)
    sys.stdout.flush()
    sys.stderr.flush()
    _reset_signals()
    argv = [path, *args]
    try:
        os.execve(path, argv, env)
    except OSError as e:
        err = e
    import errno

    from dispatch.explain import explain, is_script

    if err.errno == errno.ENOEXEC and is_script(path):
        # No #! line: run it with sh, as execvp(3) and git do.
        try:
            os.execve(SH, [SH, path, *args], env)
        except OSError as e:
            err = e
    raise explain(path, err, env)


