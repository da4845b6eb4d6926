"""The memory map a core file holds, for when there is no /proc: its load segments (which
cover the heap, the stacks and anonymous memory, dumped or not) and its NT_FILE note (the
file-backed mappings: start, end, file offset, path), merged into Regions.

Nothing is guessed: a core knows no RSS, PSS or swap (the Regions have no smaps fields, shown
as unknown), and a file mapping the core has no load segment for has unknown permissions
('????'), and no segment says whether it was shared or private (the 4th letter is '?').
The vDSO is named `[vdso]` from the NT_AUXV note (AT_SYSINFO_EHDR says where it is).
Only the ELF header, program headers and notes are read, however big the core. A malformed
core raises ParseError, whatever is wrong with it.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from typing import NamedTuple

from gdbmem.errors import ParseError
from gdbmem.model import Region

PT_LOAD, PT_NOTE, ET_CORE, NT_AUXV, NT_FILE = 1, 4, 4, 6, 0x46494C45
AT_SYSINFO_EHDR = 33  # auxv: the address of the vDSO's ELF header
_PHDR = struct.Struct("<2I6Q")  # an ELF64 program header

Read = Callable[[int, int], bytes]  # read(offset, size) of the core file


class Load(NamedTuple):
    start: int
    end: int
    perms: str
    dumped: bool  # the core holds its bytes (p_filesz > 0)


class MappedFile(NamedTuple):
    start: int
    end: int
    offset: int
    path: str


def _perms(flags: int) -> str:
    """rwx from the segment's flags; shared or private is not in a core: '?'."""
    return ("r" if flags & 4 else "-") + ("w" if flags & 2 else "-") + \
        ("x" if flags & 1 else "-") + "?"


def _notes(data: bytes) -> list[tuple[int, bytes, bytes]]:
    notes, position = [], 0
    while position + 12 <= len(data):
        namesz, descsz, kind = struct.unpack_from("<3I", data, position)
        position += 12
        name = data[position:position + namesz].rstrip(b"\0")
        position += (namesz + 3) & ~3
        desc = data[position:position + descsz]
        position += (descsz + 3) & ~3
        notes.append((kind, name, desc))
    return notes


def _mapped_files(desc: bytes) -> list[MappedFile]:
    if len(desc) < 16:
        raise ParseError("NT_FILE note is cut short")
    count, page = struct.unpack_from("<2Q", desc, 0)
    if count > 1 << 20 or 16 + count * 24 > len(desc):
        raise ParseError("NT_FILE note is cut short")
    triples = struct.unpack_from(f"<{count * 3}Q", desc, 16)
    names = desc[16 + count * 24:].split(b"\0")
    return [MappedFile(triples[i * 3], triples[i * 3 + 1], triples[i * 3 + 2] * page,
                       names[i].decode("utf-8", "surrogateescape") if i < len(names) else "")
            for i in range(count)]


def _auxv(desc: bytes) -> dict[int, int]:
    """NT_AUXV's (type, value) pairs, up to AT_NULL."""
    out: dict[int, int] = {}
    for kind, value in struct.iter_unpack("<2Q", desc[: len(desc) // 16 * 16]):
        if kind == 0:
            break
        out[kind] = value
    return out


class Core(NamedTuple):
    loads: list[Load]
    files: list[MappedFile]
    auxv: dict[int, int]


def parse_core(read: Read) -> Core:
    """The load segments, mapped files and auxiliary vector of an ELF64 little-endian core."""
    header = read(0, 64)
    if len(header) < 64 or header[:4] != b"\x7fELF":
        raise ParseError("not an ELF file")
    if header[4] != 2 or header[5] != 1:
        raise ParseError("not a 64-bit little-endian ELF core (only those are read)")
    (kind,) = struct.unpack_from("<H", header, 16)
    if kind != ET_CORE:
        raise ParseError("an ELF file, but not a core")
    phoff, = struct.unpack_from("<Q", header, 0x20)
    phentsize, phnum = struct.unpack_from("<2H", header, 0x36)
    if phentsize < _PHDR.size:
        raise ParseError(f"program headers of {phentsize} bytes (an ELF64 one has 56)")
    table = read(phoff, phentsize * phnum)
    if len(table) < phentsize * phnum:
        raise ParseError("the core's program headers are cut short")
    core = Core([], [], {})
    for i in range(phnum):
        p_type, p_flags, p_offset, p_vaddr, _, p_filesz, p_memsz, _ = _PHDR.unpack_from(
            table, i * phentsize)
        if p_type == PT_LOAD and p_memsz:
            if p_vaddr + p_memsz > 1 << 64:
                raise ParseError(f"a load segment at {p_vaddr:#x} ends past the address space")
            core.loads.append(Load(p_vaddr, p_vaddr + p_memsz, _perms(p_flags), p_filesz > 0))
        elif p_type == PT_NOTE:
            if p_filesz > 1 << 30:
                raise ParseError(f"a note segment of {p_filesz} bytes")
            notes = read(p_offset, p_filesz)
            if len(notes) < p_filesz:
                raise ParseError("the core's notes are cut short")
            for note_kind, name, desc in _notes(notes):
                if name != b"CORE":
                    continue
                if note_kind == NT_FILE:
                    core.files.extend(_mapped_files(desc))
                elif note_kind == NT_AUXV:
                    core.auxv.update(_auxv(desc))
    return core


def core_regions(read: Read) -> list[Region]:
    """Regions in address order: each load segment, named and placed in its file where the
    NT_FILE note says; each mapped file without a segment, with unknown perms."""
    core = parse_core(read)
    by_start = {f.start: f for f in core.files}
    vdso = core.auxv.get(AT_SYSINFO_EHDR)
    regions = []
    for load in core.loads:
        mapped = by_start.pop(load.start, None)
        path = mapped.path if mapped else "[vdso]" if load.start == vdso else ""
        regions.append(Region(load.start, load.end, load.perms,
                              mapped.offset if mapped else 0, "00:00", 0, path))
    regions += [Region(f.start, f.end, "????", f.offset, "00:00", 0, f.path)
                for f in by_start.values()]
    regions.sort(key=lambda r: r.start)
    return regions
