"""Where a compiled executable keeps its constants: the byte ranges of an ELF, Mach-O or PE
file's data sections, in which the declaration of a compiled plugin lives.

A compiled plugin declares the protocol because it reads `TOOL_PROTOCOL`, and a string
literal is kept in a data section (`.rodata`, `.data`; Mach-O's `__cstring`, `__const`,
`__rodata`; PE's `.rdata`, `.data`), never in code, symbol tables or debug information. Reading
only those sections is what makes the declaration of a 60 MB binary cost a few milliseconds
(docs/protocol.md). Imported only for files that start like an executable; imports nothing.
Every header value is checked against the file's size: a damaged or hostile header gives
None (not a format read here), never an exception or an unbounded read.
"""
from __future__ import annotations

import os

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable

Ranges = list[tuple[int, int]]  # (offset, length) in the file

# Headers and tables read to find the sections: never more than this.
_TABLE_MAX = 1 << 20
_SECTIONS_MAX = 4096
# Go's table of function names and line numbers: read-only data, but never a literal of the program.
_SKIPPED = {b".gopclntab", b"__gopclntab"}

_ELF = b"\x7fELF"
_MACHO = {b"\xfe\xed\xfa\xce", b"\xce\xfa\xed\xfe", b"\xfe\xed\xfa\xcf", b"\xcf\xfa\xed\xfe"}
_FAT = {b"\xca\xfe\xba\xbe", b"\xca\xfe\xba\xbf"}


def data_ranges(fd: int, size: int, head: bytes) -> Ranges | None:
    """The data sections of the executable open at `fd` (`size` bytes, starting with `head`),
    sorted and merged; None when it is not an executable this module can read."""
    if head[:4] == _ELF:
        found = _elf(_Reader(fd, size))
    elif head[:4] in _MACHO:
        found = _macho(_Reader(fd, size), 0, size)
    elif head[:4] in _FAT:
        found = _fat(_Reader(fd, size))
    elif head[:2] == b"MZ":
        found = _pe(_Reader(fd, size))
    else:
        return None
    return None if found is None else _merged(found, size)


class _Reader:
    """Bounded reads of header fields at absolute offsets; None past the end of the file."""

    __slots__ = ("fd", "size")

    def __init__(self, fd: int, size: int) -> None:
        self.fd = fd
        self.size = size

    def read(self, offset: int, length: int) -> bytes | None:
        if offset < 0 or length > _TABLE_MAX or offset + length > self.size:
            return None
        data = os.pread(self.fd, length, offset)
        return data if len(data) == length else None


def _field(order: str) -> Callable[[bytes, int, int], int]:
    little = order == "little"

    def get(data: bytes, at: int, width: int) -> int:
        return int.from_bytes(data[at:at + width], "little" if little else "big")

    return get


def _elf(r: _Reader) -> Ranges | None:
    """Sections that are loaded, hold data (PROGBITS) and are not code (ELF32 and ELF64)."""
    ident = r.read(0, 64)
    if ident is None or ident[4] not in (1, 2) or ident[5] not in (1, 2):
        return None
    wide = ident[4] == 2
    get = _field("little" if ident[5] == 1 else "big")
    if wide:
        shoff, entsize, count, names = get(ident, 0x28, 8), get(ident, 0x3A, 2), get(ident, 0x3C, 2), get(ident, 0x3E, 2)
    else:
        shoff, entsize, count, names = get(ident, 0x20, 4), get(ident, 0x2E, 2), get(ident, 0x30, 2), get(ident, 0x32, 2)
    if shoff == 0 or count == 0 or count > _SECTIONS_MAX or entsize < (64 if wide else 40):
        return None  # no section table (stripped of it): not read here, the file is scanned whole
    table = r.read(shoff, entsize * count)
    if table is None:
        return None
    headers = []
    for i in range(count):
        at = i * entsize
        if wide:
            flags, offset, length = get(table, at + 8, 8), get(table, at + 24, 8), get(table, at + 32, 8)
        else:
            flags, offset, length = get(table, at + 8, 4), get(table, at + 16, 4), get(table, at + 20, 4)
        headers.append((get(table, at, 4), get(table, at + 4, 4), flags, offset, length))
    strtab = headers[names] if names < count else None
    name_table = r.read(strtab[3], min(strtab[4], _TABLE_MAX)) if strtab else None
    ranges: Ranges = []
    for name, kind, flags, offset, length in headers:
        # SHT_PROGBITS, SHF_ALLOC and not SHF_EXECINSTR
        if kind != 1 or not flags & 2 or flags & 4 or length == 0:
            continue
        if name_table is not None and _c_string(name_table, name) in _SKIPPED:
            continue
        ranges.append((offset, length))
    return ranges


def _c_string(table: bytes, at: int) -> bytes:
    end = table.find(b"\0", at)
    return table[at:end if end >= 0 else len(table)]


def _macho(r: _Reader, base: int, end: int) -> Ranges | None:
    """Sections that are neither code nor zero-filled, in every segment (32 and 64 bits)."""
    head = r.read(base, 32)
    if head is None:
        return None
    magic = head[:4]
    get = _field("little" if magic in (b"\xce\xfa\xed\xfe", b"\xcf\xfa\xed\xfe") else "big")
    wide = magic in (b"\xfe\xed\xfa\xcf", b"\xcf\xfa\xed\xfe")
    count, commands_size = get(head, 16, 4), get(head, 20, 4)
    commands = r.read(base + (32 if wide else 28), commands_size)
    if commands is None or count > _SECTIONS_MAX:
        return None
    ranges: Ranges = []
    at = 0
    for _ in range(count):
        if at + 8 > len(commands):
            return None
        cmd, cmdsize = get(commands, at, 4), get(commands, at + 4, 4)
        if cmdsize < 8 or at + cmdsize > len(commands):
            return None
        if cmd in (0x1, 0x19):  # LC_SEGMENT, LC_SEGMENT_64
            found = _macho_sections(commands[at:at + cmdsize], get, cmd == 0x19, base, end)
            if found is None:
                return None
            ranges += found
        at += cmdsize
    return ranges


def _macho_sections(segment: bytes, get: Callable[[bytes, int, int], int], wide: bool, base: int, end: int) -> Ranges | None:
    first, size = (72, 80) if wide else (56, 68)
    count = get(segment, first - 8, 4)
    if first + count * size > len(segment):
        return None
    ranges: Ranges = []
    for i in range(count):
        at = first + i * size
        name = segment[at:at + 16].rstrip(b"\0")
        if wide:
            length, offset, flags = get(segment, at + 40, 8), get(segment, at + 48, 4), get(segment, at + 64, 4)
        else:
            length, offset, flags = get(segment, at + 36, 4), get(segment, at + 40, 4), get(segment, at + 56, 4)
        # code (S_ATTR_PURE_INSTRUCTIONS, S_ATTR_SOME_INSTRUCTIONS) and zero-fill types hold no literal
        if flags & 0x80000400 or flags & 0xFF in (0x1, 0xC, 0x12) or offset == 0 or name in _SKIPPED:
            continue
        if base + offset + length <= end:
            ranges.append((base + offset, length))
    return ranges


def _fat(r: _Reader) -> Ranges | None:
    """A universal binary: every architecture's slice. (Java class files share the magic;
    their version number reads as hundreds of slices, which no universal binary has.)"""
    head = r.read(0, 8)
    if head is None:
        return None
    wide = head[3] == 0xBF
    count = int.from_bytes(head[4:8], "big")
    if not 0 < count <= 32:
        return None
    entry = 32 if wide else 20
    table = r.read(8, entry * count)
    if table is None:
        return None
    ranges: Ranges = []
    for i in range(count):
        at = i * entry
        if wide:
            offset, length = int.from_bytes(table[at + 8:at + 16], "big"), int.from_bytes(table[at + 16:at + 24], "big")
        else:
            offset, length = int.from_bytes(table[at + 8:at + 12], "big"), int.from_bytes(table[at + 12:at + 16], "big")
        found = _macho(r, offset, min(offset + length, r.size))
        if found is None:
            return None
        ranges += found
    return ranges


def _pe(r: _Reader) -> Ranges | None:
    """Sections of initialised data that are neither code nor executable."""
    dos = r.read(0, 64)
    if dos is None:
        return None
    pe = int.from_bytes(dos[0x3C:0x40], "little")
    coff = r.read(pe, 24)
    if coff is None or coff[:4] != b"PE\0\0":
        return None
    count, optional = int.from_bytes(coff[6:8], "little"), int.from_bytes(coff[20:22], "little")
    table = r.read(pe + 24 + optional, 40 * count)
    if table is None or count > _SECTIONS_MAX:
        return None
    ranges: Ranges = []
    for i in range(count):
        at = i * 40
        length, offset = int.from_bytes(table[at + 16:at + 20], "little"), int.from_bytes(table[at + 20:at + 24], "little")
        flags = int.from_bytes(table[at + 36:at + 40], "little")
        # IMAGE_SCN_CNT_INITIALIZED_DATA, and neither IMAGE_SCN_CNT_CODE nor IMAGE_SCN_MEM_EXECUTE
        if flags & 0x40 and not flags & 0x20000020 and length and offset:
            ranges.append((offset, length))
    return ranges


def _merged(ranges: Ranges, size: int) -> Ranges:
    """Sorted, clipped to the file, overlapping or touching ranges joined."""
    out: Ranges = []
    for offset, length in sorted(ranges):
        stop = min(offset + length, size)
        if offset >= stop:
            continue
        if out and offset <= out[-1][0] + out[-1][1]:
            last_offset, last_length = out[-1]
            out[-1] = (last_offset, max(last_offset + last_length, stop) - last_offset)
        else:
            out.append((offset, stop - offset))
    return out
