"""Signals by name: what a plugin must get back at their defaults, and dying by a signal the
way a plugin did. On the start-up path: imports only the interpreter's built-in `_signal`
(`signal` imports enum, which costs more than the whole dispatch)."""
from __future__ import annotations

import _signal
import os

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import NoReturn

SIGINT: int = _signal.SIGINT
SIGTERM: int = _signal.SIGTERM
SIGKILL: int = _signal.SIGKILL
SIGPIPE: int = _signal.SIGPIPE
SIGHUP: int = _signal.SIGHUP
SIGQUIT: int = _signal.SIGQUIT

# Python ignores these at start-up; ignored signals survive exec, and a plugin in
# `tool foo | head` must die of SIGPIPE as it would alone.
_RESET_FOR_CHILDREN = ("SIGPIPE", "SIGXFSZ")
# Signals whose default action dumps core: the host dies by them without a core of its own.
_CORE = ("SIGQUIT", "SIGILL", "SIGTRAP", "SIGABRT", "SIGBUS", "SIGFPE", "SIGSEGV", "SIGSYS", "SIGXCPU", "SIGXFSZ")


def interrupts_raise() -> None:
    """From here on Ctrl-C raises KeyboardInterrupt, which the entry point reports; one that came
    while the `tool` command started (noted by the handler dispatch/__init__.py set) is raised now."""
    handler = _signal.getsignal(_signal.SIGINT)
    noted = getattr(handler, "interrupted", None)
    if noted is not None:
        _signal.signal(_signal.SIGINT, _signal.default_int_handler)
        if noted:
            raise KeyboardInterrupt


def for_children() -> list[int]:
    """The signals a plugin gets back at their default actions (posix_spawn's setsigdef)."""
    return [getattr(_signal, name) for name in _RESET_FOR_CHILDREN if hasattr(_signal, name)]


def reset_for_exec() -> None:
    """Before exec: the signals Python changed back at their defaults."""
    for signum in for_children():
        _signal.signal(signum, _signal.SIG_DFL)


def name(signum: int) -> str:
    """`SIGTERM` for 15; `signal 99` for a number without a name here."""
    for attr in dir(_signal):
        if attr.startswith("SIG") and not attr.startswith("SIG_") and getattr(_signal, attr) == signum:
            return attr
    return f"signal {signum}"


def die_by(signum: int) -> NoReturn:
    """Die by `signum`, as the plugin did: the caller sees the same wait status as if it had
    been exec'd (without a core dump of the host's own)."""
    if any(getattr(_signal, core, None) == signum for core in _CORE):
        try:
            import resource

            resource.setrlimit(resource.RLIMIT_CORE, (0, resource.getrlimit(resource.RLIMIT_CORE)[1]))
        except (ImportError, OSError, ValueError):
            pass
    try:
        _signal.signal(signum, _signal.SIG_DFL)
        _signal.pthread_sigmask(_signal.SIG_UNBLOCK, {signum})
    except (OSError, ValueError):
        pass  # SIGKILL cannot be caught or blocked: it needs neither
    os.kill(os.getpid(), signum)
    from dispatch.exitcodes import ExitCode  # only here: every command's start-up imports this module

    os._exit(ExitCode.SIGNAL_BASE + signum)  # a signal whose default is not to kill
