"""The pure core reader on cores built here byte by byte: exact regions from the load
segments, NT_FILE and NT_AUXV; and any cut or damaged core gives a ParseError, nothing else."""

from __future__ import annotations

import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gdbmem.errors import ParseError
from gdbmem.proc.core import AT_SYSINFO_EHDR, core_regions

PAGE = 4096


def _note(kind: int, desc: bytes, name: bytes = b"CORE") -> bytes:
    name += b"\0"
    pad = lambda b: b + bytes(-len(b) % 4)  # noqa: E731
    return struct.pack("<3I", len(name), len(desc), kind) + pad(name) + pad(desc)


def build_core(loads, files=(), auxv=None) -> bytes:
    """An ELF64 core: loads are (start, size, flags, dumped), files (start, end, offset, path)."""
    desc = struct.pack("<2Q", len(files), PAGE)
    desc += b"".join(struct.pack("<3Q", s, e, o // PAGE) for s, e, o, _ in files)
    desc += b"".join(p.encode() + b"\0" for *_, p in files)
    notes = _note(0x46494C45, desc)
    if auxv is not None:
        notes += _note(6, b"".join(struct.pack("<2Q", k, v) for k, v in auxv.items())
                       + bytes(16))
    phnum = 1 + len(loads)
    data_at = 64 + 56 * phnum
    phdrs = struct.pack("<2I6Q", 4, 0, data_at, 0, 0, len(notes), 0, 1)
    for start, size, flags, dumped in loads:
        phdrs += struct.pack("<2I6Q", 1, flags, data_at + len(notes), start, 0,
                             size if dumped else 0, size, PAGE)
    header = (b"\x7fELF" + bytes([2, 1, 1]) + bytes(9)
              + struct.pack("<2HI3QI6H", 4, 62, 1, 0, 64, 0, 0, 64, 56, phnum, 0, 0, 0))
    return header + phdrs + notes


def regions_of(data: bytes):
    return core_regions(lambda offset, size: data[offset:offset + size])


def test_the_regions_of_a_core():
    exe, libc, vdso, stack = 0x555555554000, 0x7FFFF7DC0000, 0x7FFFF7FC1000, 0x7FFFFFFDE000
    data = build_core(
        loads=[(exe, 2 * PAGE, 5, True), (0x555555560000, PAGE, 6, True),
               (vdso, 2 * PAGE, 5, True), (stack, 33 * PAGE, 6, True),
               (0x200000000000, 16 * PAGE, 0, False)],
        files=[(exe, exe + 2 * PAGE, 0, "/usr/bin/prog"),
               (libc, libc + 40 * PAGE, 0x28000, "/usr/lib/libc.so.6")],
        auxv={6: PAGE, AT_SYSINFO_EHDR: vdso})
    got = [(r.start, r.end, r.perms, r.offset, r.path) for r in regions_of(data)]
    assert got == [
        (0x200000000000, 0x200000010000, "---?", 0, ""),
        (exe, exe + 2 * PAGE, "r-x?", 0, "/usr/bin/prog"),
        (0x555555560000, 0x555555561000, "rw-?", 0, ""),
        (libc, libc + 40 * PAGE, "????", 0x28000, "/usr/lib/libc.so.6"),  # no segment for it
        (vdso, vdso + 2 * PAGE, "r-x?", 0, "[vdso]"),  # where auxv says
        (stack, stack + 33 * PAGE, "rw-?", 0, ""),
    ]
    for region in regions_of(data):
        assert region.rss_kb is None and region.pss_kb is None  # unknown, never zero


def test_without_auxv_the_vdso_has_no_name():
    data = build_core(loads=[(0x7FFFF7FC1000, PAGE, 5, True)])
    assert [r.path for r in regions_of(data)] == [""]


@pytest.mark.parametrize(("damage", "message"), [
    (lambda d: d[:40], "not an ELF file"),
    (lambda d: d[:4] + b"\x01" + d[5:], "not a 64-bit little-endian"),
    (lambda d: d[:16] + b"\x02\x00" + d[18:], "not a core"),
    (lambda d: d[:0x36] + b"\x20\x00" + d[0x38:], "program headers of 32 bytes"),
    (lambda d: d[:100], "program headers are cut short"),
    (lambda d: d[:-30], "notes are cut short"),
])
def test_a_damaged_core_says_what_is_wrong(damage, message):
    data = build_core(loads=[(0x400000, PAGE, 5, True)],
                      files=[(0x400000, 0x401000, 0, "/bin/x")])
    with pytest.raises(ParseError, match=message):
        regions_of(damage(data))


_load = st.tuples(st.integers(1, 1 << 34).map(lambda p: p * PAGE), st.integers(1, 64),
                  st.integers(0, 7), st.booleans())


@settings(max_examples=200, deadline=None)
@given(loads=st.lists(_load, max_size=6, unique_by=lambda t: t[0]),
       named=st.lists(st.booleans(), min_size=6, max_size=6))
def test_any_core_gives_its_segments_back(loads, named):
    loads = [(start, pages * PAGE, flags, dumped) for start, pages, flags, dumped in loads]
    files = [(s, s + size, 0, f"/lib/f{i}.so")
             for i, ((s, size, _, _), name) in enumerate(zip(loads, named)) if name]
    regions = regions_of(build_core(loads, files, {AT_SYSINFO_EHDR: 0}))
    assert [(r.start, r.end) for r in regions] == sorted((s, s + n) for s, n, _, _ in loads)
    paths = {s: p for s, _, _, p in files}
    assert {r.start: r.path for r in regions} == {s: paths.get(s, "") for s, *_ in loads}


@settings(max_examples=300, deadline=None)
@given(data=st.data())
def test_a_cut_or_damaged_core_raises_parse_error_only(data):
    core = build_core(loads=[(0x400000, 2 * PAGE, 5, True), (0x7FFFF7FC1000, PAGE, 5, True)],
                      files=[(0x400000, 0x402000, 0, "/bin/prog")],
                      auxv={AT_SYSINFO_EHDR: 0x7FFFF7FC1000})
    core = core[:data.draw(st.integers(0, len(core)))]
    for _ in range(data.draw(st.integers(0, 4))):
        if core:
            at = data.draw(st.integers(0, len(core) - 1))
            core = core[:at] + bytes([data.draw(st.integers(0, 255))]) + core[at + 1:]
    try:
        regions_of(core)
    except ParseError:
        pass
