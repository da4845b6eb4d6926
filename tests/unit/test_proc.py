"""The /proc parsers on files captured from real processes, and on malformed input."""

from __future__ import annotations

import struct

import pytest

from gdbmem.errors import ParseError
from gdbmem.proc import (
    decode_pagemap_entry,
    parse_maps,
    parse_pagemap,
    parse_smaps,
    parse_smaps_rollup,
)
from gdbmem.proc.smaps import _parse_lines, parse_smaps_chunks
from tests.helpers import fixture

LAYOUT_REGIONS = 35


def test_maps_of_the_layout_testprog():
    regions = parse_maps(fixture("layout.maps"))
    assert len(regions) == LAYOUT_REGIONS
    anon = regions[0]
    assert (anon.start, anon.end, anon.perms, anon.offset, anon.dev, anon.inode, anon.path) == (
        0x200000000000, 0x200000300000, "rw-p", 0, "00:00", 0, "")
    assert anon.size_kb == 3072
    assert anon.rss_kb is None  # maps knows no RSS: unknown, not zero
    libc_text = regions[19]
    assert (libc_text.perms, libc_text.offset, libc_text.dev, libc_text.inode) == (
        "r-xp", 0x26000, "fe:00", 339380)
    assert libc_text.path == "/usr/lib/x86_64-linux-gnu/libc.so.6"
    assert regions[-1].path == "[vsyscall]"
    assert regions[-1].start == 0xFFFFFFFFFF600000


def test_names_keep_deleted_and_memfd_as_the_kernel_wrote_them():
    regions = parse_maps(fixture("layout.maps"))
    deleted = regions[3]
    assert deleted.path == "/tmp/tmp.L6H94ykvre/layout-deleted.bin (deleted)"
    assert deleted.deleted
    assert deleted.file_path == "/tmp/tmp.L6H94ykvre/layout-deleted.bin"
    assert regions[4].path == "/memfd:gdbmem-memfd (deleted)"
    assert not regions[1].deleted


def test_smaps_figures_of_the_known_layout():
    regions = parse_smaps(fixture("layout.smaps"))
    assert len(regions) == LAYOUT_REGIONS
    anon, file_map, shared, deleted, memfd = regions[:5]
    assert dict(anon.fields)["Size"] == 3072
    assert (anon.rss_kb, anon.pss_kb, anon.dirty_kb, anon.swap_kb) == (1024, 1024, 1024, 0)
    assert anon.fields["Private_Dirty"] == 1024
    assert anon.fields["AnonHugePages"] == 0
    assert (file_map.rss_kb, file_map.dirty_kb, file_map.fields["Private_Clean"]) == (64, 0, 64)
    assert (shared.rss_kb, shared.pss_kb, shared.fields["Shared_Dirty"]) == (128, 64, 128)
    assert (deleted.rss_kb, deleted.size_kb) == (32, 32)
    assert (memfd.rss_kb, memfd.size_kb) == (16, 64)
    assert anon.fields["VmFlags"] == ["rd", "wr", "mr", "mw", "me", "ac", "nh"]
    assert anon.fields["THPeligible"] == 0
    assert list(anon.fields)[:4] == ["Size", "KernelPageSize", "MMUPageSize", "Rss"]


def test_smaps_headers_equal_maps():
    by_smaps = parse_smaps(fixture("layout.smaps"))
    by_maps = parse_maps(fixture("layout.maps"))
    assert [(r.start, r.end, r.perms, r.offset, r.dev, r.inode, r.path) for r in by_smaps] == \
        [(r.start, r.end, r.perms, r.offset, r.dev, r.inode, r.path) for r in by_maps]


@pytest.mark.parametrize("name", ["layout.smaps", "sleep.smaps", "linux-3.10.smaps"])
def test_column_path_equals_line_walk(name):
    data = fixture(name)
    fast = parse_smaps(data)
    slow = _parse_lines(data.split(b"\n"))
    assert type(fast[0].fields).__name__ == "FieldView"  # the fast path really ran
    assert [dict(r.fields) for r in fast] == [r.fields for r in slow]
    assert [(r.rss_kb, r.pss_kb, r.dirty_kb, r.swap_kb) for r in fast] == \
        [(r.rss_kb, r.pss_kb, r.dirty_kb, r.swap_kb) for r in slow]


def test_chunks_split_anywhere_give_the_same_regions():
    data = fixture("layout.smaps")
    whole = [dict(r.fields) for r in parse_smaps(data)]
    for cut in (1, 77, 1000, 4096, len(data) // 2, len(data) - 1):
        parts = [data[:cut], data[cut:]]
        assert [dict(r.fields) for r in parse_smaps_chunks(parts)] == whole


def test_rollup():
    rollup = parse_smaps_rollup(fixture("layout.smaps_rollup"))
    figures = (rollup["Rss"], rollup["Pss"], rollup["Pss_Dirty"], rollup["Swap"])
    assert figures == (2796, 1573, 1282, 0)


def test_an_old_kernel_lacks_fields_and_names_thread_stacks():
    """linux-3.10.smaps is written by hand in that kernel's format (no Pss_Dirty, SwapPss,
    THPeligible; KernelPageSize after Swap; [stack:TID] for thread stacks)."""
    regions = parse_smaps(fixture("linux-3.10.smaps"))
    assert len(regions) == 9
    assert "Pss_Dirty" not in regions[0].fields and "SwapPss" not in regions[0].fields
    assert regions[0].path == "/usr/bin/old app"  # spaces kept
    assert regions[5].path == "[stack:4242]"
    assert regions[6].deleted and regions[6].file_path == "/lib/x86_64-linux-gnu/libc-2.19.so"
    heap = regions[2]
    assert (heap.rss_kb, heap.swap_kb, heap.dirty_kb) == (12, 8, 12)
    assert regions[3].path == ""  # anonymous, with the kernel's trailing space


def test_unknown_fields_are_kept():
    text = ("00400000-00401000 r-xp 00000000 08:01 12 /bin/x\nSize: 4 kB\nRss: 4 kB\n"
            "FutureThing: 7 kB\nFancyMode: on\nVmFlags: rd ex\n")
    (region,) = parse_smaps(text)
    assert region.fields["FutureThing"] == 7
    assert region.fields["FancyMode"] == "on"
    assert region.rss_kb == 4 and region.pss_kb is None and region.dirty_kb is None


GOOD = b"00400000-00401000 r-xp 00000000 08:01 12 /bin/x\nSize: 4 kB\nRss: 4 kB\n"


@pytest.mark.parametrize("data, line_number", [
    (b"garbage\n", 1),
    (b"Rss: 4 kB\n" + GOOD, 1),
    (GOOD + b"Pss: lots kB\n", 4),
    (GOOD + b"00402000-00401000 r-xp 00000000 08:01 12 /bin/x\n", 4),  # end before start
    (GOOD + b"00402000-00403000 rwzp 00000000 08:01 12 /bin/x\n", 4),
])
def test_malformed_smaps_names_the_line(data, line_number):
    with pytest.raises(ParseError) as caught:
        parse_smaps(data)
    assert caught.value.line_number == line_number
    assert f"line {line_number}:" in str(caught.value)


def test_a_bad_figure_in_a_regular_file_is_named_when_read():
    data = fixture("layout.smaps").split(b"\n")
    data[2 * 26 + 11] = b"Referenced:          xx kB"  # block 3, the Referenced line
    regions = parse_smaps(b"\n".join(data))
    with pytest.raises(ParseError) as caught:
        [dict(r.fields) for r in regions]
    assert caught.value.line_number == 2 * 26 + 12


def test_malformed_maps_names_the_line():
    with pytest.raises(ParseError, match="line 2: not a mapping line"):
        parse_maps(b"00400000-00401000 r-xp 00000000 08:01 12 /bin/x\nnonsense here\n")


def test_rollup_must_be_one_block():
    with pytest.raises(ParseError, match="2 blocks"):
        parse_smaps_rollup(GOOD + GOOD)


def test_pagemap_entries():
    present = (1 << 63) | (1 << 56) | (1 << 55) | 0x1234
    swapped = (1 << 62) | (0x77 << 5) | 3
    hidden_pfn = 1 << 63  # present, PFN zeroed for an unprivileged reader
    entries = parse_pagemap(struct.pack("=4Q", present, swapped, hidden_pfn, 0))
    assert [e.state for e in entries] == ["resident", "swapped", "resident", "not present"]
    assert (entries[0].pfn, entries[0].exclusive, entries[0].soft_dirty) == (0x1234, True, True)
    assert (entries[1].swap_type, entries[1].swap_offset, entries[1].pfn) == (3, 0x77, None)
    assert entries[2].pfn is None
    assert decode_pagemap_entry(1 << 61).file_or_shared
    with pytest.raises(ParseError):
        parse_pagemap(b"\0" * 7)


def test_a_capture_with_crlf_line_ends_parses_the_same():
    data = fixture("layout.smaps")
    crlf = parse_smaps(data.replace(b"\n", b"\r\n"))
    assert [(r.path, dict(r.fields)) for r in crlf] == \
        [(r.path, dict(r.fields)) for r in parse_smaps(data)]
