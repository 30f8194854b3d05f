"""What a supervised run was started with, decided before the plugin started: the one value
the session and its conversation share."""
from __future__ import annotations

import os

from dispatch.context import Frozen

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping
    from typing import Literal

    from dispatch.context import Invocation

    # protocol: it declares the protocol, so it runs with pipes and must greet;
    # relay: a plain plugin whose stdout the host must see (--json, --max-output);
    # direct: a plain plugin on the user's own stdio, supervised for a timeout or limits.
    Mode = Literal["protocol", "relay", "direct"]


class Plan(Frozen):
    """`path` and `args` of the plugin, the environment it got, how it runs (`mode`), how long a
    declared plugin has to greet (`window`), the stat of its file when found (for what
    `list` and `doctor` learn of it), and where it has the user's stdin as well, if it has."""

    __slots__ = ("inv", "path", "name", "args", "env", "mode", "window", "stat", "stdin_fd", "label")
    inv: Invocation
    path: str
    name: str  # the plugin's file name, for messages
    args: list[str]
    env: Mapping[str, str]
    mode: Mode
    window: float
    stat: os.stat_result
    stdin_fd: int | None
    label: str  # "tool greet": whose words a line of the plugin's is

    def __init__(
        self, inv: Invocation, path: str, args: list[str], env: Mapping[str, str], *, mode: Mode, window: float,
        stat: os.stat_result, stdin_fd: int | None,
    ) -> None:
        label = f"{inv.prog} {env.get(inv.program.var('COMMAND'), '')}".rstrip()
        self._freeze(inv=inv, path=path, name=os.path.basename(path), args=args, env=env, mode=mode, window=window,
                     stat=stat, stdin_fd=stdin_fd, label=label)
