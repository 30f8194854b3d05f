"""A seccomp filter (a classic BPF program, built here as bytes) for what Landlock does not
cover: no socket but AF_INET and AF_INET6 ones under `,net` and none at all without it (UDP,
raw, packet and Unix sockets included: a Unix socket reaches daemons outside the sandbox),
no io_uring (its operations would go round the socket check), no TIOCSTI or TIOCLINUX
(typing into the user's terminal, to run after the plugin exits), no open_by_handle_at (a
file by handle, not by path), no kernel keyrings. A system call of another architecture's
table (i386, x32) kills the process: the filter knows only the native numbers.

Applies to the calling thread and what it starts (no TSYNC), with no_new_privs set first.
"""
from __future__ import annotations

import errno
import os
import sys

from dispatch.sandbox import kernel

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Final


_LD_W_ABS: Final = 0x20
_JEQ: Final = 0x15
_JGE: Final = 0x35
_RET: Final = 0x06
RET_ALLOW: Final = 0x7FFF0000
RET_KILL_PROCESS: Final = 0x80000000
RET_ERRNO: Final = 0x00050000
_NR, _ARCH, _ARGS = 0, 4, 16  # offsets in struct seccomp_data (the low word of an argument on little-endian)
AF_UNIX, AF_INET, AF_INET6 = 1, 2, 10
TIOCSTI, TIOCLINUX = 0x5412, 0x541C
_X32_BIT: Final = 0x40000000
_IO_URING: Final = (425, 426, 427)  # setup, enter, register: the same on every architecture

# The native system call table, by machine: the audit architecture, socket, ioctl, and the
# calls denied outright (io_uring, open_by_handle_at, add_key, request_key, keyctl).
TABLES: Final = {
    "x86_64": (0xC000003E, 41, 16, (*_IO_URING, 304, 248, 249, 250)),
    "aarch64": (0xC00000B7, 198, 29, (*_IO_URING, 265, 217, 218, 219)),
    "riscv64": (0xC00000F3, 198, 29, (*_IO_URING, 265, 217, 218, 219)),
}


def table(machine: str | None = None) -> tuple[int, int, int, tuple[int, ...]] | None:
    """This machine's table (None: an architecture the filter does not know)."""
    if sys.byteorder != "little":
        return None
    return TABLES.get(machine or os.uname().machine)


def _op(code: int, k: int, jt: int = 0, jf: int = 0) -> bytes:
    # struct sock_filter: __u16 code; __u8 jt; __u8 jf; __u32 k.
    return code.to_bytes(2, "little") + bytes((jt, jf)) + (k & 0xFFFFFFFF).to_bytes(4, "little")


def program(net: bool, machine: str | None = None) -> bytes:
    """The filter, as the kernel takes it (an array of struct sock_filter)."""
    found = table(machine)
    if found is None:
        raise OSError(errno.ENOSYS, "no system call table for this architecture")
    arch, socket, ioctl, denied = found
    ops = [_op(_LD_W_ABS, _ARCH), _op(_JEQ, arch, 1, 0), _op(_RET, RET_KILL_PROCESS), _op(_LD_W_ABS, _NR)]
    if arch == 0xC000003E:
        ops += [_op(_JGE, _X32_BIT, 0, 1), _op(_RET, RET_KILL_PROCESS)]
    for number in denied:
        ops += [_op(_JEQ, number, 0, 1), _op(_RET, RET_ERRNO | (errno.ENOSYS if number in _IO_URING else errno.EPERM))]
    families = (AF_INET, AF_INET6) if net else ()
    block = [_op(_LD_W_ABS, _ARGS)]
    for family in families:
        block += [_op(_JEQ, family, 0, 1), _op(_RET, RET_ALLOW)]
    block.append(_op(_RET, RET_ERRNO | errno.EACCES))
    ops += [_op(_JEQ, socket, 0, len(block)), *block]
    block = [_op(_LD_W_ABS, _ARGS + 8)]
    for command in (TIOCSTI, TIOCLINUX):
        block += [_op(_JEQ, command, 0, 1), _op(_RET, RET_ERRNO | errno.EPERM)]
    block.append(_op(_RET, RET_ALLOW))
    ops += [_op(_JEQ, ioctl, 0, len(block)), *block, _op(_RET, RET_ALLOW)]
    return b"".join(ops)


def install(filter_program: bytes) -> None:
    """Install the filter on the calling thread (no_new_privs must be set)."""
    code = kernel.Buffer(filter_program)
    # struct sock_fprog: unsigned short len; (padding); struct sock_filter *filter.
    pointer_size = 8 if sys.maxsize > 1 << 32 else 4
    fprog = (len(filter_program) // 8).to_bytes(pointer_size, "little") + code.address.to_bytes(pointer_size, "little")
    header = kernel.Buffer(fprog)  # both kept alive until the kernel has copied them
    kernel.prctl(kernel.PR_SET_SECCOMP, kernel.SECCOMP_MODE_FILTER, header.address)
