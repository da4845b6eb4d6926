"""Lookups, filters, totals and grouping over the captured layout."""

from __future__ import annotations

import json

import pytest

from gdbmem.analysis.lookup import describe_address, find_region, neighbours
from gdbmem.analysis.select import (
    Selection,
    group_regions,
    parse_kinds,
    perms_matcher,
    select,
    sort_regions,
)
from gdbmem.analysis.totals import pmap_device_totals, process_summary, totals
from gdbmem.errors import UsageError
from gdbmem.model import Snapshot
from gdbmem.proc import parse_smaps, parse_smaps_rollup
from gdbmem.render.maps import MapOptions, map_report
from tests.helpers import fixture, layout


def test_find_region_bounds_are_start_inclusive_end_exclusive():
    regions = layout()
    assert find_region(regions, 0x200000000000).start == 0x200000000000
    assert find_region(regions, 0x2000002FFFFF).start == 0x200000000000
    assert find_region(regions, 0x200000300000) is None
    assert find_region(regions, 0) is None
    assert find_region(regions, 0xFFFFFFFFFF600FFF).path == "[vsyscall]"
    assert find_region([], 5) is None


def test_neighbours_of_a_gap():
    regions = layout()
    below, above = neighbours(regions, 0x200000300000)
    assert (below.start, above.start) == (0x200000000000, 0x210000000000)
    assert neighbours(regions, 0x10) == (None, regions[0])


def test_describe_address_offsets():
    regions = layout()
    info = describe_address(regions, 0x7FFFF7DFB000 + 0x123)  # libc text, file offset 0x26000
    assert (info.offset, info.file_offset, info.region.kind) == (0x123, 0x26123, "lib")
    anon = describe_address(regions, 0x200000001000)
    assert (anon.offset, anon.file_offset) == (0x1000, None)
    gap = describe_address(regions, 0x200000300000)
    assert not gap.mapped and gap.below.start == 0x200000000000


def starts(regions):
    return [r.start for r in regions]


def test_filters():
    regions = layout()
    assert starts(select(regions, Selection(name="layout-file"))) == [0x210000000000]
    assert len(select(regions, Selection(name="/libc\\.so/"))) == 5
    assert len(select(regions, Selection(kinds=parse_kinds("thread-stack,guard")))) == 4
    assert starts(select(regions, Selection(perms="rw-s"))) == [
        0x220000000000, 0x240000000000]
    assert starts(select(regions, Selection(min_rss_kb=1024))) == [0x200000000000]
    assert starts(select(regions, Selection(min_size_kb=60 * 1024))) == [0x7FFFF0021000]
    assert starts(select(regions, Selection(address_range=(0x200000000000, 0x220000000001)))) \
        == [0x200000000000, 0x210000000000, 0x220000000000]
    both = select(regions, Selection(kinds=frozenset({"lib"}), perms="x"))
    assert starts(both) == [0x7FFFF7DFB000, 0x7FFFF7FCB000]


@pytest.mark.parametrize("pattern, perms, expected", [
    ("rw?", "rw-p", True), ("rw?", "r--p", False), ("r-x", "r-xp", True), ("x", "r-xp", True),
    ("x", "rw-p", False), ("rw", "rw-s", True), ("???s", "r--s", True), ("???s", "r--p", False),
])
def test_perms_patterns(pattern, perms, expected):
    assert perms_matcher(pattern)(perms) is expected


@pytest.mark.parametrize("bad", ["rwq", "", "rwxps", "/x/"])
def test_bad_perms_patterns(bad):
    with pytest.raises(UsageError):
        perms_matcher(bad)


def test_bad_filters_are_usage_errors():
    with pytest.raises(UsageError, match="unknown kind nope"):
        parse_kinds("heap,nope")
    with pytest.raises(UsageError, match="bad regular expression"):
        select(layout(), Selection(name="/[/"))
    with pytest.raises(UsageError, match="empty range"):
        select(layout(), Selection(address_range=(5, 5)))
    with pytest.raises(UsageError, match="unknown sort key"):
        sort_regions(layout(), "colour")


def test_sorting_largest_first():
    regions = layout()
    assert [r.rss_kb for r in sort_regions(regions, "rss")[:3]] == [1024, 852, 152]
    assert sort_regions(regions, "size")[0].start == 0x7FFFF0021000
    assert starts(sort_regions(list(reversed(regions)), "addr")) == starts(regions)


def test_groups_sum_a_library_and_name_it_by_its_kind():
    groups = {g.name: g for g in group_regions(layout())}
    libc = groups["/usr/lib/x86_64-linux-gnu/libc.so.6"]
    assert (libc.kind, len(libc.regions), totals(libc.regions).rss_kb) == ("lib", 5, 1156)
    assert groups["[heap]"].kind == "heap"
    # Unnamed memory: one row per kind, never one [anon] of the first region's kind.
    assert [(name, g.kind, len(g.regions)) for name, g in groups.items()
            if name in ("[anon]", "[arena]", "[guard]", "[thread-stack]")] == [
        ("[anon]", "anon", 4), ("[arena]", "arena", 2), ("[guard]", "guard", 2),
        ("[thread-stack]", "thread-stack", 2)]
    # A deleted file is another file than one of the same path: it keeps its name.
    assert groups["/tmp/tmp.L6H94ykvre/layout-deleted.bin (deleted)"].kind == "file"


def test_sort_and_top_apply_to_groups():
    snapshot = Snapshot(5602, layout())
    rows = json.loads(map_report(snapshot, MapOptions(sort="rss", top=4, group=True,
                                                      layout="json")))
    assert [(r["name"], r["regions"], r["rss_kb"]) for r in rows] == [
        ("/usr/lib/x86_64-linux-gnu/libc.so.6", 5, 1156), ("[anon]", 4, 1056),
        ("/usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2", 5, 208),
        ("/dev/zero (deleted)", 1, 128)]
    assert set(rows[0]) == {"name", "kind", "regions", "size_kb", "rss_kb", "pss_kb", "uss_kb",
                            "dirty_kb", "swap_kb"}
    top8 = map_report(snapshot, MapOptions(sort="rss", top=8, group=True))
    assert len(top8.splitlines()) == 2 + 8
    by_address = json.loads(map_report(snapshot, MapOptions(group=True, layout="json",
                                                            sort="addr")))
    assert by_address[0]["name"] == "[anon]" and len(by_address) == len(group_regions(layout()))
    with pytest.raises(UsageError, match="--group goes with the default table or --json"):
        map_report(snapshot, MapOptions(group=True, layout="pmap-x"))


def test_totals_equal_pmap():
    """pmap -x and -d of the same stop (layout.pmap-x, layout.pmap-d) say these totals."""
    regions = parse_smaps(fixture("layout.smaps"))
    t = totals(regions)
    assert (t.count, t.size_kb, t.rss_kb, t.dirty_kb) == (35, 72472, 2796, 1364)
    assert pmap_device_totals(regions) == (72472, 4328, 352)
    assert b"total kB           72472    2796    1364" in fixture("layout.pmap-x")


def test_process_summary_from_rollup_and_from_regions():
    regions = parse_smaps(fixture("layout.smaps"))
    rollup = parse_smaps_rollup(fixture("layout.smaps_rollup"))
    summary = process_summary(rollup, regions)
    assert (summary.rss_kb, summary.pss_kb, summary.swap_kb, summary.source) == (
        2796, 1573, 0, "smaps_rollup")
    assert summary.uss_kb == rollup["Private_Clean"] + rollup["Private_Dirty"]
    summed = process_summary(None, regions)
    assert (summed.rss_kb, summed.uss_kb, summed.source) == (2796, summary.uss_kb, "regions")
    from gdbmem.proc import parse_maps
    assert process_summary(None, parse_maps(fixture("layout.maps"))).rss_kb is None  # unknown
    assert process_summary(None, []).rss_kb == 0  # nothing mapped
