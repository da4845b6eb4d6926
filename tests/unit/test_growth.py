"""Region matching, diffs and trend verdicts on synthetic snapshots and series."""

from __future__ import annotations

import json
import os
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gdbmem.analysis.growth import diff, process_verdict, region_key, trends, usage_by_key, verdict
from gdbmem.errors import ParseError
from gdbmem.kinds import ThreadStackPointer, classify
from gdbmem.model import Region, Snapshot
from gdbmem.render.growth import _signed_kb, sparkline
from gdbmem.store.codec import encoded, framed, read_records, saved
from gdbmem.store.record import Record
from gdbmem.store.session import Session
from tests.helpers import fixture, older_saved_line


def region(start, size_kb, rss_kb, path="", perms="rw-p", kind=None):
    fields = {"Size": size_kb, "Rss": rss_kb, "Pss": rss_kb, "Shared_Dirty": 0,
              "Private_Dirty": rss_kb, "Swap": 0}
    r = Region(start, start + size_kb * 1024, perms, path=path, fields=fields)
    r.kind = kind
    return r


def snap(regions, at=0.0):
    classify([r for r in regions if r.kind is None]) if any(r.kind is None for r in regions) \
        else None
    return Snapshot(1, regions, None, taken_at=at)


def test_keys_match_regions_by_what_they_are():
    heap = region(0x1000, 132, 8, "[heap]", kind="heap")
    lib = region(0x7F0000, 8, 8, "/usr/lib/libz.so.1 (deleted)", kind="lib")
    arena_head = region(0x7FFFF0000000, 132, 4, kind="arena")
    arena_tail = region(0x7FFFF0021000, 65404, 0, perms="---p", kind="arena")
    stack = region(0x7FFFF7D11000, 512, 8, kind="thread-stack")
    block = region(0x7FFFE0000000, 260, 260, kind="anon")
    assert [region_key(r) for r in (heap, lib, arena_head, arena_tail, stack, block)] == [
        "[heap]", "/usr/lib/libz.so.1", "arena@0x7ffff0000000", "arena@0x7ffff0000000",
        "thread-stack@0x7ffff7d11000", "[anon]"]
    usage = usage_by_key(Snapshot(1, [arena_head, arena_tail, block, block]))
    assert usage["arena@0x7ffff0000000"].regions == 2
    assert usage["[anon]"].rss_kb == 520


def test_diff_names_what_was_added_removed_grown_and_shrunk():
    a = Snapshot(1, [region(0x1000, 132, 8, "[heap]", kind="heap"),
                     region(0x9000, 8, 8, "/lib/old.so", kind="lib"),
                     region(0x20000, 64, 64, kind="anon")], None, taken_at=10.0)
    b = Snapshot(1, [region(0x1000, 264, 200, "[heap]", kind="heap"),
                     region(0x5000, 16, 16, "/lib/new.so", kind="lib"),
                     region(0x30000, 32, 32, kind="anon")], None, taken_at=12.5)
    result = diff(a, b)
    assert [(c.key, c.change, c.rss_delta_kb) for c in result.changes] == [
        ("[heap]", "grown", 192), ("[anon]", "shrunk", -32), ("/lib/new.so", "added", 16),
        ("/lib/old.so", "removed", -8)]
    assert (result.rss_delta_kb, result.seconds) == (168, 2.5)


random.seed(7)
SERIES = {
    "leak": [
        [100 * i for i in range(20)],
        [1000 + 10 * i for i in range(20)],
        [100 * i + random.randint(-80, 80) for i in range(20)],
        [1024 * (i // 5) for i in range(20)],  # a staircase: bursts, then flat for a while
    ],
    "stable": [
        [min(200 * i, 1000) for i in range(20)],  # a warm-up, then flat
        [min(60 * i, 700) for i in range(20)],  # a late warm-up
        [400 if i % 2 else 1000 for i in range(20)],  # churn
        [700 + random.randint(-400, 400) for i in range(20)],  # noisy churn
        [500 + random.choice((0, 4, 8)) for i in range(20)],  # page jitter
        [0, 100, 200],  # too few snapshots to tell
    ],
    "shrinking": [[2000 - 90 * i for i in range(20)]],
    # Up, but a line explains only half of it (R² 0.43): more than noise, less than steady.
    "growing": [[1000 + 60 * i + (250 if i % 2 else -250) for i in range(20)]],
}


@pytest.mark.parametrize("expected, series", [(v, s) for v, many in SERIES.items() for s in many])
def test_verdicts(expected, series):
    assert verdict(series) == expected


def test_min_growth_decides_what_is_noise():
    series = [1000 + 20 * i for i in range(10)]  # 100 kB over the second half
    assert verdict(series, min_growth_kb=64) == "leak"
    assert verdict(series, min_growth_kb=256) == "stable"


def test_trends_order_and_process_verdict():
    snapshots = [Snapshot(1, [region(0x1000, 4096, 100 + 50 * i, "[heap]", kind="heap"),
                              region(0x900000, 64, 64, "/lib/a.so", kind="lib")], None,
                          taken_at=float(i)) for i in range(10)]
    result = trends(snapshots)
    assert [(t.key, t.verdict) for t in result] == [("[heap]", "leak"), ("/lib/a.so", "stable")]
    assert result[0].growth_kb_per_snapshot == pytest.approx(50)
    assert result[0].growth_kb_per_second == pytest.approx(50)
    assert result[0].to_dict()["series_kb"][:3] == [100, 150, 200]
    assert process_verdict(snapshots, result) == "leak"


def test_records_round_trip_and_parse_lazily():
    record = Record(42, 1000.5, fixture("layout.smaps"),
                    fixture("layout.smaps_rollup").decode(), label="first", location="main")
    (again,) = read_records(older_saved_line(record).encode())
    assert (again.pid, again.taken_at, again.label, again.location) == (42, 1000.5, "first",
                                                                         "main")
    assert len(again.snapshot.regions) == 35 and again.snapshot.rollup["Rss"] == 2796
    assert again.smaps == record.smaps
    (framed,) = read_records(encoded(record))  # the journal's form
    assert (framed.smaps, framed.label, framed.pid) == (record.smaps, "first", 42)
    both = encoded(record) + older_saved_line(record).encode() + b"\n"
    assert [r.label for r in read_records(both)] == ["first", "first"]
    with pytest.raises(ParseError, match="line 2"):
        read_records(older_saved_line(record).encode() + b'\n{"format": "other"}\n', "x.jsonl")
    with pytest.raises(ParseError, match="cut short"):
        read_records(encoded(record)[:-100])


@settings(max_examples=200, deadline=None)
@given(label=st.text(), location=st.text(), exe=st.text(), rollup=st.text(),
       pc=st.one_of(st.none(), st.integers(0, 2**64 - 1)),
       taken_at=st.floats(0, 2e9, allow_nan=False),
       threads=st.lists(st.tuples(st.integers(0, 10**6), st.integers(1, 2**22),
                                  st.integers(0, 2**64 - 1)), max_size=4))
def test_framed_header_is_the_json_header(label, location, exe, rollup, pc, taken_at, threads):
    """The journal's hand-written header is exactly the header object, for any strings."""
    record = Record(7, taken_at, b"smaps text\n", rollup,
                    [ThreadStackPointer(*t) for t in threads], label, location, exe, pc)
    head, smaps, end = framed(record)
    assert json.loads(head) == {
        "format": "gdbmem-snapshot-1", "pid": 7, "taken_at": taken_at, "label": label,
        "location": location, "pc": pc, "exe": exe, "threads": [list(t) for t in threads],
        "smaps_rollup": rollup, "smaps_bytes": 11}
    assert (smaps, end, head.endswith(b"\n")) == (b"smaps text\n", b"\n", True)
    (again,) = read_records(encoded(record))
    assert (again.label, again.location, again.exe, again.pc, again.threads) == (
        label, location, exe, pc, record.threads)


def test_a_journal_writes_an_unchanged_smaps_once(tmp_path):
    """Hits where nothing moved share one smaps, in memory and in the journal, and read back
    as the same text; a changed one is written as the blocks that changed."""
    session = Session()
    same, changed = fixture("layout.smaps"), fixture("sleep.smaps")
    for i, smaps in enumerate([same, bytes(same), changed, bytes(changed), same]):
        session.add(Record(42, 1000.0 + i, smaps, label=f"hit {i}"), lambda: str(tmp_path))
    records = session.records
    blocks = [r.smaps_blocks() for r in records]

    def shared(a, b):  # the very same bytes objects: one copy in memory
        return len(a) == len(b) and all(x is y for x, y in zip(a, b))

    assert shared(blocks[1], blocks[0]) and shared(blocks[3], blocks[2])
    assert not shared(blocks[4], blocks[3])
    assert [r.smaps for r in records] == [same, same, changed, changed, same]
    journal = (tmp_path / os.listdir(tmp_path)[0]).read_bytes()
    assert journal.count(b'"smaps_as_previous":true') == 2
    assert len(journal) < 3 * len(same) + len(changed)
    again = read_records(journal)
    assert [r.smaps for r in again] == [same, same, changed, changed, same]
    assert [r.label for r in again] == [f"hit {i}" for i in range(5)]
    with pytest.raises(ParseError, match="previous record's, and there is none"):
        read_records(journal[journal.index(b'{"format"', 100):])


def test_a_saved_file_is_the_journal_byte_for_byte(tmp_path):
    """memsnap save writes each snapshot as what changed since the one before, as the
    journal does: 40 snapshots of which most repeat cost what the journal costs, not 40
    whole copies, and read back the same."""
    session = Session()
    same, changed = fixture("layout.smaps"), fixture("sleep.smaps")
    smaps = [same if i % 10 else changed for i in range(40)]
    for i, data in enumerate(smaps):
        session.add(Record(42, 1000.0 + i, bytes(data), label=f"hit {i}"), lambda: str(tmp_path))
    session.journal.close()
    journal = open(session.journal.path, "rb").read()
    written = b"".join(saved(session.records))
    assert written == journal
    assert len(written) < 8 * (len(same) + len(changed))
    assert [r.smaps for r in read_records(written)] == smaps


def test_a_change_below_the_smallest_growth_draws_flat():
    # 4K in 97.5M: noise, not a full-height step; a real rise still fills the bars.
    assert sparkline([99840, 99840, 99844, 99844], flat_below_kb=64) == "▁▁▁▁"
    assert sparkline([99840, 99840, 99844, 99844]) == "▁▁██"
    assert sparkline([0, 64, 128], flat_below_kb=64) == "▁▄█"


def test_growth_rates_too_small_for_a_whole_kb_are_not_zero():
    assert [_signed_kb(v) for v in (0.4, -0.4, 0.04, 0, 16.2, 1536)] == [
        "+0.4K", "-0.4K", "0", "0", "+16K", "+1.5M"]
