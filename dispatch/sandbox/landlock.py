"""Landlock (Linux 5.13+): the calling thread, and everything it starts, loses every file
right but those its rules give, TCP bind and connect (ABI 4) unless the policy has the
network, and (ABI 6) signals to and abstract Unix sockets of processes outside it.

A rule names an existing path (opened O_PATH) and what may be done beneath it; a path that
does not exist is left out. Domains stack: a confined process confining itself again only
loses more.
"""
from __future__ import annotations

import errno
import os
import sys

from dispatch.sandbox import kernel

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterable
    from typing import Final

EXECUTE: Final = 1 << 0
WRITE_FILE: Final = 1 << 1
READ_FILE: Final = 1 << 2
READ_DIR: Final = 1 << 3
REMOVE_DIR: Final = 1 << 4
REMOVE_FILE: Final = 1 << 5
MAKE_CHAR: Final = 1 << 6
MAKE_DIR: Final = 1 << 7
MAKE_REG: Final = 1 << 8
MAKE_SOCK: Final = 1 << 9
MAKE_FIFO: Final = 1 << 10
MAKE_BLOCK: Final = 1 << 11
MAKE_SYM: Final = 1 << 12
REFER: Final = 1 << 13  # ABI 2
TRUNCATE: Final = 1 << 14  # ABI 3
IOCTL_DEV: Final = 1 << 15  # ABI 5
NET_BIND_TCP: Final = 1 << 0  # ABI 4
NET_CONNECT_TCP: Final = 1 << 1
SCOPE_ABSTRACT_UNIX_SOCKET: Final = 1 << 0  # ABI 6
SCOPE_SIGNAL: Final = 1 << 1
_RULE_PATH_BENEATH: Final = 1
_CREATE_RULESET_VERSION: Final = 1 << 0

# What a rule may give: to read (and run) what is beneath, to write there too (never to make
# a device node: a block device made in TMPDIR would read the whole disk), to use a device.
READ: Final = EXECUTE | READ_FILE | READ_DIR
WRITE: Final = READ | WRITE_FILE | REMOVE_DIR | REMOVE_FILE | MAKE_DIR | MAKE_REG | MAKE_SYM | MAKE_FIFO | REFER | TRUNCATE
DEVICE: Final = READ_FILE | WRITE_FILE | TRUNCATE | IOCTL_DEV
_FILE_RIGHTS: Final = EXECUTE | WRITE_FILE | READ_FILE | TRUNCATE | IOCTL_DEV  # the rights a rule on a non-directory may give
# The least ABI that confines files fully: without TRUNCATE (ABI 3), truncate(2) is not checked.
MIN_ABI: Final = 3


def abi() -> int:
    """The Landlock ABI of this kernel (0: none: not built in, or disabled at boot)."""
    try:
        return kernel.syscall(kernel.LANDLOCK_CREATE_RULESET, 0, 0, _CREATE_RULESET_VERSION)
    except OSError as e:
        if e.errno in (errno.ENOSYS, errno.EOPNOTSUPP, errno.EPERM):
            return 0
        raise


def handled_fs(version: int) -> int:
    """The file rights this ABI knows, all of them denied unless a rule gives them."""
    rights = (1 << 13) - 1
    if version >= 2:
        rights |= REFER
    if version >= 3:
        rights |= TRUNCATE
    if version >= 5:
        rights |= IOCTL_DEV
    return rights


def restrict(version: int, rules: Iterable[tuple[str, int]], *, net: bool) -> list[str]:
    """Confine the calling thread: only the rights `rules` give (path, rights) on files, TCP
    only with `net`, no signals or abstract sockets out of the domain. The paths that were
    left out (they do not exist). The thread must have no_new_privs set."""
    handled = handled_fs(version)
    attr = handled.to_bytes(8, sys.byteorder)
    if version >= 4:
        attr += (0 if net else NET_BIND_TCP | NET_CONNECT_TCP).to_bytes(8, sys.byteorder)
    if version >= 6:
        attr += (SCOPE_ABSTRACT_UNIX_SOCKET | SCOPE_SIGNAL).to_bytes(8, sys.byteorder)
    buffer = kernel.Buffer(attr)
    ruleset = kernel.syscall(kernel.LANDLOCK_CREATE_RULESET, buffer.address, len(attr), 0)
    missing = []
    try:
        for path, rights in rules:
            if not _add(ruleset, path, rights & handled):
                missing.append(path)
        kernel.syscall(kernel.LANDLOCK_RESTRICT_SELF, ruleset, 0)
    finally:
        os.close(ruleset)
    return missing


def _add(ruleset: int, path: str, rights: int) -> bool:
    """One rule; False when the path does not exist."""
    try:
        fd = os.open(path, os.O_PATH | os.O_CLOEXEC)
    except (FileNotFoundError, NotADirectoryError):
        return False
    try:
        if (os.fstat(fd).st_mode & 0o170000) != 0o040000:
            rights &= _FILE_RIGHTS
        # struct landlock_path_beneath_attr, packed: __u64 allowed_access; __s32 parent_fd.
        attr = kernel.Buffer(rights.to_bytes(8, sys.byteorder) + fd.to_bytes(4, sys.byteorder, signed=True))
        kernel.syscall(kernel.LANDLOCK_ADD_RULE, ruleset, _RULE_PATH_BENEATH, attr.address, 0)
    finally:
        os.close(fd)
    return True
