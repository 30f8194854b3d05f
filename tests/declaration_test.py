"""Where a declaration counts: a compiled plugin's data sections, any other file's first 64 MiB.

Compiled plugins are built with the machine's C compiler and run through the real `tool`;
the header parsing of the formats this machine cannot build (Mach-O, PE, big-endian ELF) is
checked in-process on files written here byte by byte.
"""
from __future__ import annotations

import json
import os
import shutil
import struct
import subprocess
from pathlib import Path

import pytest

from dispatch import declaration, sections
from tests.conftest import HANG_BOUND, Env

NEEDLE = b"TOOL_PROTOCOL"
CC = shutil.which("cc") or shutil.which("gcc")
needs_cc = pytest.mark.skipif(CC is None, reason="no C compiler on this machine")

# A protocol plugin in C: it reads the variable, so its binary keeps the literal in .rodata.
SPEAKS = r"""
#include <stdio.h>
#include <stdlib.h>
int main(void) {
    const char *offered = getenv("TOOL_PROTOCOL");
    if (!offered) { puts("plain run"); return 0; }
    printf("{\"type\":\"hello\",\"protocol\":1}\n{\"type\":\"output\",\"text\":\"spoke\\n\"}\n");
    return 0;
}
"""
# A plain program with the name only where no literal lives (a function's symbol, debug
# strings); it says whether the host offered it the protocol, without the name as one literal.
SILENT = r"""
#include <stdio.h>
#include <string.h>
extern char **environ;
int TOOL_PROTOCOL_unused(void) { return 1; }
int main(void) {
    int offered = 0;
    for (char **e = environ; *e; e++)
        if (!strncmp(*e, "TOOL_", 5) && !strncmp(*e + 5, "PROTOCOL=", 9)) offered = 1;
    puts(offered ? "offered" : "plain run");
    return 0;
}
"""


def _compile(tenv: Env, name: str, source: str, *extra: str) -> Path:
    src = tenv.root / f"{name}.c"
    src.write_text(source)
    out = tenv.bin / name
    subprocess.run([CC, "-O1", "-o", str(out), str(src), *extra], check=True, timeout=HANG_BOUND, capture_output=True)
    return out


def _add_section(binary: Path, name: str, data: bytes, flags: str) -> None:
    blob = binary.with_suffix(".blob")
    blob.write_bytes(data)
    subprocess.run(["objcopy", "--add-section", f"{name}={blob}", "--set-section-flags", f"{name}={flags}", str(binary)],
                   check=True, timeout=HANG_BOUND, capture_output=True)


def _padding(size: int, needle_at: int | None = None) -> bytes:
    data = bytearray(os.urandom(size))
    for at in range(0, size - len(NEEDLE), 4096):
        data[at:at + 2] = b"TO"  # near misses everywhere
    if needle_at is not None:
        data[needle_at:needle_at + len(NEEDLE)] = NEEDLE
    return bytes(data)


@needs_cc
def test_a_compiled_protocol_plugin_is_declared_by_the_literal_it_reads(tenv: Env) -> None:
    _compile(tenv, "tool-cproto", SPEAKS)
    proc = tenv.run("cproto")
    assert (proc.returncode, proc.stdout) == (0, b"spoke\n")


@needs_cc
def test_a_name_in_symbols_or_debug_information_is_no_declaration(tenv: Env) -> None:
    """The bytes are in the file (a function's symbol, the debug strings) but in no data
    section: the program does not read the variable, and it is exec'd as plain."""
    binary = _compile(tenv, "tool-csym", SILENT, "-g")
    assert NEEDLE in binary.read_bytes()
    proc = tenv.run("csym")
    assert (proc.returncode, proc.stdout) == (0, b"plain run\n")
    assert declaration.scan(str(binary), NEEDLE)[0] is False


@needs_cc
@pytest.mark.skipif(shutil.which("objcopy") is None, reason="no objcopy on this machine")
@pytest.mark.parametrize("where", ["code", "debug", "rodata-across-chunks"])
def test_a_large_binary_is_decided_by_its_data_sections(tenv: Env, where: str) -> None:
    """A 24 MB binary: the name in a large code or debug section does not declare; in a large
    read-only data section it does, wherever it lies (here across a 1 MiB read boundary)."""
    binary = _compile(tenv, "tool-cbig", SILENT)
    if where == "code":
        _add_section(binary, ".text.big", _padding(24 << 20, (24 << 20) - 100), "alloc,code,readonly")
    elif where == "debug":
        _add_section(binary, ".debug_big", _padding(24 << 20, 12 << 20), "readonly")
    else:
        _add_section(binary, ".rodata.big", _padding(24 << 20, (3 << 20) - 5), "alloc,readonly,data")
    declared = where == "rodata-across-chunks"
    assert declaration.scan(str(binary), NEEDLE)[0] is declared
    # Through tool with no usable cache (every run a first run), and with one.
    blocker = tenv.root / "no-cache"
    blocker.write_text("")
    for env in ({"XDG_CACHE_HOME": str(blocker)}, {}):
        proc = tenv.run("--json", "cbig", env=env)
        lines = [json.loads(line) for line in proc.stdout.splitlines()]
        # A declared plugin is offered the protocol (this one then does not greet, and is relayed).
        assert lines[0] == {"type": "output", "text": "offered\n" if declared else "plain run\n"}, (where, lines)
        assert lines[-1] == {"type": "exit", "code": 0}


def test_a_sparse_file_of_8_gib_is_decided_in_bounded_time(tenv: Env) -> None:
    """Not an executable format: the first 64 MiB count, the rest is never read."""
    big = tenv.bin / "tool-big"
    with big.open("wb") as f:
        f.truncate(8 << 30)
        f.seek(100 << 20)
        f.write(b"# " + NEEDLE + b"\n")  # past the first 64 MiB: does not count
    big.chmod(0o755)
    assert declaration.scan(str(big), NEEDLE)[0] is False
    listed = tenv.run("list", "--json")
    (entry,) = [e for e in json.loads(listed.stdout)["plugins"] if e["name"] == "big"]
    assert entry["kind"] == "plain"
    inside = tenv.bin / "tool-inside"
    with inside.open("wb") as f:
        f.truncate(8 << 30)
        f.seek((63 << 20) - 5)
        f.write(NEEDLE)  # across a read boundary, within the limit: counts
    assert declaration.scan(str(inside), NEEDLE)[0] is True


# -- header parsing, in-process, on files written byte by byte ----------------------------------

def _elf(sections_: list[tuple[bytes, int, int, bytes]], *, wide: bool = True, order: str = "<") -> bytes:
    """An ELF file with these sections (name, type, flags, data) and a section-name table."""
    names = b"\0" + b"".join(n + b"\0" for n, *_ in sections_) + b".shstrtab\0"
    header_size = 64 if wide else 52
    entry = 64 if wide else 40
    body = bytearray()
    placed = []
    offset = header_size
    name_at = 1
    for name, kind, flags, data in sections_:
        placed.append((name_at, kind, flags, offset + len(body), len(data)))
        body += data
        name_at += len(name) + 1
    placed.append((name_at, 3, 0, offset + len(body), len(names)))
    body += names
    shoff = offset + len(body)
    count = len(placed) + 1
    ident = b"\x7fELF" + bytes([2 if wide else 1, 1 if order == "<" else 2, 1]) + b"\0" * 9
    if wide:
        header = ident + struct.pack(order + "HHIQQQIHHHHHH", 2, 62, 1, 0, 0, shoff, 0, 64, 56, 0, entry, count, count - 1)
        table = b"\0" * entry + b"".join(struct.pack(order + "IIQQQQIIQQ", n, k, f, 0, o, s, 0, 0, 1, 0) for n, k, f, o, s in placed)
    else:
        header = ident + struct.pack(order + "HHIIIIIHHHHHH", 2, 3, 1, 0, 0, shoff, 0, 52, 32, 0, entry, count, count - 1)
        table = b"\0" * entry + b"".join(struct.pack(order + "IIIIIIIIII", n, k, f, 0, o, s, 0, 0, 1, 0) for n, k, f, o, s in placed)
    return header + bytes(body) + table


PROGBITS, ALLOC, EXEC = 1, 2, 4


def _scan(tmp_path: Path, data: bytes) -> bool:
    path = tmp_path / "tool-x"
    path.write_bytes(data)
    return declaration.scan(str(path), NEEDLE)[0]


@pytest.mark.parametrize(("wide", "order"), [(True, "<"), (False, "<"), (True, ">"), (False, ">")])
def test_elf_sections_of_both_widths_and_byte_orders(tmp_path: Path, wide: bool, order: str) -> None:
    literal = b"x" * 100 + NEEDLE + b"\0"
    assert _scan(tmp_path, _elf([(b".text", PROGBITS, ALLOC | EXEC, b"\x90" * 64), (b".rodata", PROGBITS, ALLOC, literal)],
                                wide=wide, order=order))
    for name, kind, flags in [(b".text", PROGBITS, ALLOC | EXEC), (b".comment", PROGBITS, 0), (b".strtab", 3, 0),
                              (b".gopclntab", PROGBITS, ALLOC), (b".bss", 8, ALLOC | 1)]:
        assert not _scan(tmp_path, _elf([(name, kind, flags, literal)], wide=wide, order=order)), name


def _macho(sections_: list[tuple[bytes, int, bytes]], *, wide: bool = True) -> bytes:
    """A Mach-O file (little-endian) with one segment holding these sections (name, flags, data)."""
    header_size = 32 if wide else 28
    segment_size, section_size = (72, 80) if wide else (56, 68)
    commands_size = segment_size + section_size * len(sections_)
    data_at = header_size + commands_size
    headers = b""
    body = b""
    for name, flags, data in sections_:
        offset = data_at + len(body)
        if wide:
            headers += struct.pack("<16s16sQQIIIIIIII", name, b"__TEXT", 0, len(data), offset, 0, 0, 0, flags, 0, 0, 0)
        else:
            headers += struct.pack("<16s16sIIIIIIIII", name, b"__TEXT", 0, len(data), offset, 0, 0, 0, flags, 0, 0)
        body += data
    if wide:
        magic, cmd = 0xFEEDFACF, 0x19
        segment = struct.pack("<II16sQQQQiiII", cmd, commands_size, b"__TEXT", 0, 0, 0, 0, 7, 5, len(sections_), 0)
        header = struct.pack("<IiiIIIII", magic, 7, 3, 2, 1, commands_size, 0, 0)
    else:
        magic, cmd = 0xFEEDFACE, 0x1
        segment = struct.pack("<II16sIIIIiiII", cmd, commands_size, b"__TEXT", 0, 0, 0, 0, 7, 5, len(sections_), 0)
        header = struct.pack("<IiiIIII", magic, 7, 3, 2, 1, commands_size, 0)
    return header + segment + headers + body


@pytest.mark.parametrize("wide", [True, False])
def test_macho_sections_and_universal_binaries(tmp_path: Path, wide: bool) -> None:
    literal = NEEDLE + b"\0"
    code = 0x80000400
    assert _scan(tmp_path, _macho([(b"__text", code, b"\x90" * 32), (b"__cstring", 0x2, literal)], wide=wide))
    assert not _scan(tmp_path, _macho([(b"__text", code, literal), (b"__cstring", 0x2, b"other\0")], wide=wide))
    assert not _scan(tmp_path, _macho([(b"__gopclntab", 0, literal)], wide=wide))
    # A universal binary: two slices, the literal in the second one's data.
    first = _macho([(b"__cstring", 0x2, b"nothing\0")], wide=wide)
    second = _macho([(b"__text", code, b"\x90" * 8), (b"__const", 0, literal)], wide=wide)
    at = 4096
    fat = struct.pack(">II", 0xCAFEBABE, 2) + struct.pack(">iiIII", 7, 3, at, len(first), 12)
    fat += struct.pack(">iiIII", 0x100000C, 0, at * 2, len(second), 12)
    fat = fat.ljust(at, b"\0") + first.ljust(at, b"\0") + second
    assert _scan(tmp_path, fat)
    assert not _scan(tmp_path, fat.replace(literal, b"X" * len(literal)))


def _pe(sections_: list[tuple[bytes, int, bytes]]) -> bytes:
    """A PE file with these sections (name, characteristics, data)."""
    pe_at = 0x80
    optional = 240
    table_at = pe_at + 24 + optional
    data_at = table_at + 40 * len(sections_)
    table = b""
    body = b""
    for name, flags, data in sections_:
        table += struct.pack("<8sIIIIIIHHI", name, len(data), 0x1000, len(data), data_at + len(body), 0, 0, 0, 0, flags)
        body += data
    dos = b"MZ".ljust(0x3C, b"\0") + struct.pack("<I", pe_at)
    coff = b"PE\0\0" + struct.pack("<HHIIIHH", 0x8664, len(sections_), 0, 0, 0, optional, 0x22)
    return dos.ljust(pe_at, b"\0") + coff + b"\0" * optional + table + body


def test_pe_sections(tmp_path: Path) -> None:
    literal = NEEDLE + b"\0"
    code, rdata = 0x60000020, 0x40000040
    assert _scan(tmp_path, _pe([(b".text", code, b"\xcc" * 16), (b".rdata", rdata, literal)]))
    assert not _scan(tmp_path, _pe([(b".text", code, literal), (b".rdata", rdata, b"other")]))


@pytest.mark.parametrize("damage", ["table past the end", "huge count", "huge entry size", "cut short", "no table"])
def test_a_damaged_header_is_scanned_as_any_file(tmp_path: Path, damage: str) -> None:
    """Whatever a header claims, nothing is read past the file or past the limit, nothing
    raises, and the file is then read as any other (its first 64 MiB)."""
    good = bytearray(_elf([(b".text", PROGBITS, ALLOC | EXEC, NEEDLE)]))
    if damage == "table past the end":
        good[0x28:0x30] = struct.pack("<Q", 1 << 60)
    elif damage == "huge count":
        good[0x3C:0x3E] = struct.pack("<H", 0xFFFF)
    elif damage == "huge entry size":
        good[0x3A:0x3C] = struct.pack("<H", 0xFFFF)
    elif damage == "cut short":
        good = good[:80]
        good += NEEDLE
    else:
        good[0x28:0x30] = bytes(8)
    path = tmp_path / "tool-x"
    path.write_bytes(bytes(good))
    fd = os.open(path, os.O_RDONLY)
    try:
        assert sections.data_ranges(fd, len(good), bytes(good[:64])) is None
    finally:
        os.close(fd)
    assert _scan(tmp_path, bytes(good)), "read as any file: the bytes are in it"
