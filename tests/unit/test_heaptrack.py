"""heaptrack's own format, read as heaptrack_interpret writes it (tests/fixtures/
traced-pool.heaptrack: testprogs/traced.c pool under heaptrack 1.4): allocation sites by the
bytes they still hold, exactly, however the file arrives in pieces."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from gdbmem.trace.heaptrack import HeaptrackData
from tests.helpers import fixture

DATA = fixture("traced-pool.heaptrack")


def figures(data: HeaptrackData) -> dict:
    return {s.frame.function: (s.calls, s.mapped, s.unmapped, s.held) for s in data.sites()
            if s.frame.file == "testprogs/traced.c"}


EXPECTED = {"small_leak": (3000, 300000, 0, 300000),
            "medium_leak": (100, 2000000, 0, 2000000),
            "batch": (2000, 2048000, 2048000, 0)}


def test_each_leaker_holds_what_it_did_not_free():
    data = HeaptrackData()
    data.feed(DATA)
    assert data.version == 3
    assert figures(data) == EXPECTED
    top = data.sites()[0]
    assert (top.frame.function, top.frame.line, top.kinds) == ("medium_leak", 96, ["malloc"])
    assert [f.function for f in top.stacks[0]][:2] == ["medium_leak", "main"]


@settings(max_examples=100, deadline=None)
@given(st.lists(st.integers(1, len(DATA)), max_size=12))
def test_pieces_read_as_the_whole(cuts):
    data = HeaptrackData()
    last = 0
    for cut in sorted(cuts):
        data.feed(DATA[last:cut])
        last = cut
    data.feed(DATA[last:])
    assert figures(data) == EXPECTED


def test_a_line_it_does_not_know_is_passed_over():
    data = HeaptrackData()
    data.feed(b"v 10400 3\nQ what is this\n+ zz\n" + DATA)
    assert figures(data) == EXPECTED
