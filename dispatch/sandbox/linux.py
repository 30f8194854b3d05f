"""The Linux mechanism: Landlock and a seccomp filter, applied to the calling thread (and all
it starts), through syscall(2) and prctl(2) called with `_ctypes` (the `ctypes` package costs
2 ms to import, more than this whole module, on the start-up path of every sandboxed command).

Landlock (5.13+): the thread loses every file right but those its rules give, TCP bind and
connect (ABI 4) unless the policy has the network, and (ABI 6) signals to and abstract Unix
sockets of processes outside it. A rule names an existing path (opened O_PATH) and what may be
done beneath it; a path that does not exist is left out. Domains stack: a confined process
confining itself again only loses more.

The seccomp filter (a classic BPF program, built here as bytes) does what Landlock does not:
no socket but AF_INET and AF_INET6 ones under `,net` and none at all without it (UDP, raw,
packet and Unix sockets included: a Unix socket reaches daemons outside the sandbox), no
io_uring (its operations would go round the socket check), no TIOCSTI or TIOCLINUX (typing
into the user's terminal, to run after the plugin exits), no open_by_handle_at (a file by
handle, not by path), no kernel keyrings. A system call of another architecture's table
(i386, x32) kills the process: the filter knows only the native numbers.

Both apply to the calling thread only (no TSYNC), with no_new_privs set first. Errors come back
as OSError with the errno.
"""
from __future__ import annotations

import _ctypes
import errno
import os
import sys

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterable
    from typing import Any, Final


# -- the system calls -------------------------------------------------------------------------

# The generic system call table (every architecture): Landlock's calls.
LANDLOCK_CREATE_RULESET: Final = 444
LANDLOCK_ADD_RULE: Final = 445
LANDLOCK_RESTRICT_SELF: Final = 446
PR_SET_NO_NEW_PRIVS: Final = 38
PR_SET_SECCOMP: Final = 22
SECCOMP_MODE_FILTER: Final = 2


class _Long(_ctypes._SimpleCData):  # type: ignore[type-arg]  # the typeshed generic, unparameterised at run time
    _type_ = "l"


class _Int(_ctypes._SimpleCData):  # type: ignore[type-arg]
    _type_ = "i"


class _Char(_ctypes._SimpleCData):  # type: ignore[type-arg]
    _type_ = "c"


class _ReturnsLong(_ctypes.CFuncPtr):
    _flags_ = _ctypes.FUNCFLAG_CDECL | _ctypes.FUNCFLAG_USE_ERRNO
    _restype_ = _Long


class _ReturnsInt(_ctypes.CFuncPtr):
    # prctl(2) returns an int: read as a long, its -1 would be 4294967295, and every error missed.
    _flags_ = _ctypes.FUNCFLAG_CDECL | _ctypes.FUNCFLAG_USE_ERRNO
    _restype_ = _Int


_functions: dict[str, Any] = {}


def _function(name: str, nargs: int, kind: type = _ReturnsLong) -> Any:
    found = _functions.get(name)
    if found is None:
        libc = _ctypes.dlopen(None, 0)  # type: ignore[arg-type]  # None: the program itself, libc with it
        found = kind(_ctypes.dlsym(libc, name))
        found.argtypes = (_Long,) * nargs
        _functions[name] = found
    return found


class Buffer:
    """Bytes at a fixed address for the kernel to read (kept alive as long as this is)."""

    __slots__ = ("array", "address")

    def __init__(self, data: bytes) -> None:
        size = max(1, len(data))
        array_type: Any = _arrays.get(size)
        if array_type is None:
            array_type = _arrays[size] = type("Bytes", (_ctypes.Array,), {"_type_": _Char, "_length_": size})
        self.array = array_type.from_buffer_copy(data.ljust(1, b"\0"))
        self.address: int = _ctypes.addressof(self.array)


_arrays: dict[int, Any] = {}


def _checked(result: int) -> int:
    if result < 0:
        err = _ctypes.get_errno()
        raise OSError(err, os.strerror(err))
    return result


def syscall(number: int, *args: int) -> int:
    """syscall(2) with integer (or address) arguments; its result, or OSError."""
    _ctypes.set_errno(0)
    return _checked(_function("syscall", 6)(number, *args, *(0,) * (5 - len(args))))


def prctl(option: int, *args: int) -> int:
    """prctl(2); its result, or OSError."""
    _ctypes.set_errno(0)
    return _checked(_function("prctl", 5, _ReturnsInt)(option, *args, *(0,) * (4 - len(args))))


# -- Landlock ----------------------------------------------------------------------------------

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


def landlock_abi() -> int:
    """The Landlock ABI of this kernel (0: none: not built in, or disabled at boot)."""
    try:
        return syscall(LANDLOCK_CREATE_RULESET, 0, 0, _CREATE_RULESET_VERSION)
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
    buffer = Buffer(attr)
    ruleset = syscall(LANDLOCK_CREATE_RULESET, buffer.address, len(attr), 0)
    missing = []
    try:
        for path, rights in rules:
            if not _add(ruleset, path, rights & handled):
                missing.append(path)
        syscall(LANDLOCK_RESTRICT_SELF, ruleset, 0)
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
        attr = Buffer(rights.to_bytes(8, sys.byteorder) + fd.to_bytes(4, sys.byteorder, signed=True))
        syscall(LANDLOCK_ADD_RULE, ruleset, _RULE_PATH_BENEATH, attr.address, 0)
    finally:
        os.close(fd)
    return True


# -- the seccomp filter ------------------------------------------------------------------------

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


def filter_table(machine: str | None = None) -> tuple[int, int, int, tuple[int, ...]] | None:
    """This machine's table (None: an architecture the filter does not know)."""
    if sys.byteorder != "little":
        return None
    return TABLES.get(machine or os.uname().machine)


def _op(code: int, k: int, jt: int = 0, jf: int = 0) -> bytes:
    # struct sock_filter: __u16 code; __u8 jt; __u8 jf; __u32 k.
    return code.to_bytes(2, "little") + bytes((jt, jf)) + (k & 0xFFFFFFFF).to_bytes(4, "little")


def filter_program(net: bool, machine: str | None = None) -> bytes:
    """The filter, as the kernel takes it (an array of struct sock_filter)."""
    found = filter_table(machine)
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


def install_filter(filter_program: bytes) -> None:
    """Install the seccomp filter on the calling thread (no_new_privs must be set)."""
    code = Buffer(filter_program)
    # struct sock_fprog: unsigned short len; (padding); struct sock_filter *filter.
    pointer_size = 8 if sys.maxsize > 1 << 32 else 4
    fprog = (len(filter_program) // 8).to_bytes(pointer_size, "little") + code.address.to_bytes(pointer_size, "little")
    header = Buffer(fprog)  # both kept alive until the kernel has copied them
    prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, header.address)
