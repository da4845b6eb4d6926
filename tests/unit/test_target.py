"""What Target builds from a target's answers, on a fake target of the captured layout: the
snapshot, a breakpoint's record, the pages a dump skips, the memory reader, and the map
report a memmap of it prints. Real gdb on each kind of target: tests/gdb/."""

from __future__ import annotations

import struct

import pytest

from gdbmem.analysis.spans import range_span, region_span
from gdbmem.errors import TargetError
from gdbmem.model import Hole
from gdbmem.render.maps import MapOptions, map_report
from gdbmem.scan.walk import Unreadable
from tests.helpers import EXE, FakeTarget, layout

PAGE = 4096
BIG = 0x200000000000  # layout.c: 3 MiB mapped, 1 MiB touched


def test_snapshot_classifies_as_the_layout_does():
    arena = layout()[11]
    heap_info = struct.pack("<3Q", arena.start + 0x20, 0, 0x21000)  # ar_ptr, prev, size
    snapshot = FakeTarget(memory={arena.start: heap_info}).snapshot()
    assert [r.kind for r in snapshot.regions] == [r.kind for r in layout()]
    # The arena is told from its heap_info, read through the target.
    assert [r.kind for r in FakeTarget().snapshot().regions][11:13] == ["anon", "anon"]
    assert (snapshot.pid, snapshot.exe, snapshot.rollup["Rss"]) == (5602, EXE, 2796)
    assert [(r.start, r.thread) for r in snapshot.regions if r.thread is not None] == [
        (0x7FFFF7D10000, 3), (0x7FFFF7D11000, 3), (0x7FFFF7D91000, 2), (0x7FFFF7D92000, 2),
        (0x7FFFFFFDE000, 1)]
    assert FakeTarget().regions()[0].rss_kb == 1024


def test_a_record_is_the_raw_smaps_and_gives_the_same_snapshot():
    record = FakeTarget().record("hit 1 of tick", pc=0x401136)
    assert (record.pid, record.label, record.pc, record.exe) == (5602, "hit 1 of tick",
                                                                  0x401136, EXE)
    assert record.smaps == FakeTarget().proc["smaps"] and len(record.threads) == 3
    assert [r.kind for r in record.snapshot.regions] == [r.kind for r in layout()]


def test_cmdline_and_map_names():
    target = FakeTarget()
    assert target.cmdline() == "layout /tmp/x"
    assert "[heap]" in target.map_names() and "" not in target.map_names()


def test_skipped_pages_of_a_span():
    # 1 MiB of the 3 MiB region is resident: pages 256.. are absent (as pagemap says).
    first = BIG // PAGE
    target = FakeTarget(absent=[(first + 256, first + 768)])
    (big,) = [r for r in target.regions() if r.start == BIG]
    span = region_span(big)
    assert target.skipped(span, resident_only=False) == []
    assert target.skipped(span, resident_only=True) == [
        Hole(BIG + 1024 * 1024, BIG + 3 * 1024 * 1024, "not resident")]
    # A range over a gap: the gap is skipped either way.
    gap = range_span(target.regions(), BIG + 3 * 1024 * 1024 - PAGE, BIG + 3 * 1024 * 1024 + PAGE)
    assert target.skipped(gap, resident_only=False) == [
        Hole(BIG + 3 * 1024 * 1024, BIG + 3 * 1024 * 1024 + PAGE, "not mapped")]


def test_a_region_smaps_reports_empty_needs_no_pagemap():
    target = FakeTarget(absent=[])
    empty = next(r for r in target.regions() if r.rss_kb == 0 and not r.swap_kb)
    assert target.not_resident([empty], empty.start, empty.end) == [
        Hole(empty.start, empty.end, "not resident")]


def test_the_memory_reader_tells_a_bad_page_from_a_dead_process():
    target = FakeTarget(memory={0x1000: b"abcdef"})
    with target.memory_reader() as reader:
        assert reader.read(0x1002, 3) == b"cde"
        with pytest.raises(Unreadable):
            reader.read(0x9000, 16)
    dead = FakeTarget(alive=False)
    with pytest.raises(TargetError, match="exited during the read"):
        dead.memory_reader().read(0x9000, 16)


def test_a_memmap_of_a_target_without_commands():
    target = FakeTarget()
    snapshot = target.snapshot()
    text = map_report(snapshot, MapOptions(top=1, human=False))
    assert text.splitlines()[2].split()[:9] == ["0x200000000000", "0x200000300000", "3072", "0x0",
                                                "rw-p", "1024", "1024", "1024", "0"]
    assert text.endswith("(from smaps_rollup)\n")
    pmap = map_report(snapshot, MapOptions(layout="pmap-x"), cmdline=target.cmdline)
    assert pmap.splitlines()[0] == "5602:   layout /tmp/x"
