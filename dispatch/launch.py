"""Running a plugin: in place of the host (exec), as git, kubectl and cargo do, when its file
does not declare the protocol and nothing needs the host to stay; otherwise supervised
(dispatch/start.py).

This is the start-up path of every command that runs a plain plugin, so it
is kept small: failures are explained in dispatch/explain.py and plugins the
host supervises are started by dispatch/start.py and dispatch/spawn.py.
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
    from dispatch.sandbox.confine import Confinement


def run_plugin(inv: Invocation, found: Found, words: Sequence[str], rest: Sequence[str]) -> int:
    """Run the plugin found for `rest`: its status, or -N when the host must die by signal N."""
    from dispatch import declaration

    program = inv.program
    args = list(rest[found.nwords :])
    child_env = inv.plugin_env(" ".join(words[: found.nwords]))
    sandbox: Confinement | None = None
    if inv.may_confine(found.path):
        from dispatch.sandbox import confine  # only when a policy may apply

        sandbox = confine.of_plugin(inv, found.path)
        if sandbox is not None:
            child_env = sandbox.environ(child_env)
    if program.windows:
        from dispatch.supervised import start

        if sandbox is not None:
            sandbox.exec_argv([found.path])  # refused: Windows has no sandbox
        return start.waited(found.path, args, child_env)
    declared = declaration.declares(found.path, found.stat, program.var("PROTOCOL").encode(), inv.environ, program.prog)
    if inv.options.verbosity > 0:
        inv.trace(f"running ({'declares the protocol' if declared else 'plain'}): "
                  + command_line(inv.environ, child_env, found.path, args))
    options = inv.options
    if not declared and not options.json and program.use_exec and _exec_anyway(inv):
        # Plain: it replaces the host on the user's terminal, as under git, every run.
        exec_plugin(found.path, args, child_env, sandbox)
    from dispatch.supervised import start

    try:
        return start.supervised(inv, found, args, child_env, declared=declared, sandbox=sandbox)
    finally:
        if sandbox is not None:
            sandbox.close()


def command_line(environ: Mapping[str, str], env: Mapping[str, str], path: str, args: Sequence[str]) -> str:
    """The plugin's command line as sh would take it, quoted to be pasted, as git's GIT_TRACE
    shows it: the variables the host set or changed (`env -u` for those it removed), the file,
    the arguments. (Control characters are escaped as every trace line is: dispatch/context.py.)"""
    import shlex

    removed = [f"-u {shlex.quote(k)}" for k in sorted(environ) if k not in env]
    changed = [f"{k}={shlex.quote(v)}" for k, v in sorted(env.items()) if environ.get(k) != v]
    return " ".join([*(["env", *removed] if removed else []), *changed, shlex.quote(path), *map(shlex.quote, args)])


def _exec_anyway(inv: Invocation) -> bool:
    """Whether a plain plugin is exec'd: when no limit needs the host to stay, or when the only
    limits are the config file's and the plugin runs at a terminal (an editor, a pager, a REPL
    must not lose their terminal or be killed after the config's timeout: docs/usage.md)."""
    limits = inv.options.limits
    if not limits:
        return True
    if limits <= inv.options.config_limits and (os.isatty(0) or os.isatty(1)):
        inv.trace(f"the config's {', '.join(sorted(limits))} not applied: a plain plugin at a terminal runs as under git")
        return True
    return False


def exec_plugin(path: str, args: Sequence[str], env: Mapping[str, str], sandbox: Confinement | None = None) -> NoReturn:
    """Replace the host with the plugin (POSIX), as kubectl and cargo do; confined first, when
    it runs in a sandbox (the plugin inherits it: same pid, terminal and job control)."""
    from dispatch.shebang import SH, preflight

    preflight(path, env)
    from dispatch import signals

    sys.stdout.flush()
    sys.stderr.flush()
    argv = [path, *args]
    if sandbox is not None:
        argv = sandbox.exec_argv(argv)
    signals.reset_for_exec()
    try:
        os.execve(argv[0], argv, env)
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


