"""The Linux system calls the sandbox makes (syscall(2), prctl(2)), through `_ctypes`: the
`ctypes` package costs 2 ms to import, this binding a quarter of that, on the start-up path of
every sandboxed command. Errors come back as OSError with the errno."""
from __future__ import annotations

import _ctypes
import os

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Final

# The generic system call table (every architecture): Landlock's calls.
LANDLOCK_CREATE_RULESET: Final = 444
LANDLOCK_ADD_RULE: Final = 445
LANDLOCK_RESTRICT_SELF: Final = 446
PR_SET_NO_NEW_PRIVS: Final = 38
PR_SET_SECCOMP: Final = 22
SECCOMP_MODE_FILTER: Final = 2


class _Long(_ctypes._SimpleCData):  # type: ignore[type-arg]  # the typeshed generic, unparameterised at run time
    _type_ = "l"


class _Char(_ctypes._SimpleCData):  # type: ignore[type-arg]
    _type_ = "c"


class _Function(_ctypes.CFuncPtr):
    _flags_ = _ctypes.FUNCFLAG_CDECL | _ctypes.FUNCFLAG_USE_ERRNO
    _restype_ = _Long


_functions: dict[str, _Function] = {}


def _function(name: str, nargs: int) -> _Function:
    found = _functions.get(name)
    if found is None:
        libc = _ctypes.dlopen(None, 0)  # type: ignore[arg-type]  # None: the program itself, libc with it
        found = _Function(_ctypes.dlsym(libc, name))
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
    return _checked(_function("prctl", 5)(option, *args, *(0,) * (4 - len(args))))
