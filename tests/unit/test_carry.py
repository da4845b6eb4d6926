"""carry.py: when a hit may carry the last full read, and what it reads to know."""

from __future__ import annotations

from gdbmem.store.carry import Carrier, maps_of
from gdbmem.store.record import Record
from tests.helpers import fixture

SMAPS = fixture("layout.smaps")
MAPS = fixture("layout.maps")


class Process:
    """The cheap reads of a process: its counters and its map, counted."""

    def __init__(self, counters: bytes = b"100 20 5 1 0 10 0\n", maps: bytes = MAPS):
        self.counters, self.maps, self.maps_read = counters, maps, 0

    def read_maps(self) -> bytes:
        self.maps_read += 1
        return self.maps


def hit(carrier: Carrier, process: Process, now: float, every: int = 50,
        seconds: float = 5) -> bool:
    """One breakpoint hit, as Target.record_at_hit takes it: True if carried."""
    if carrier.may_carry(7, process.counters, process.read_maps, now, every, seconds):
        carrier.carried()
        return True
    carrier.full(7, now)
    carrier.record = Record(7, now, SMAPS)
    return False


def test_the_map_is_the_smaps_headers():
    assert maps_of(Record(7, 0.0, SMAPS)) == MAPS


def test_nothing_changed_carries_and_the_map_comes_from_the_full_read():
    carrier, process = Carrier(), Process()
    assert not hit(carrier, process, 0.0)  # the first reads in full, and reads no map
    assert process.maps_read == 0
    assert [hit(carrier, process, 0.1 * n) for n in range(1, 4)] == [True] * 3
    assert process.maps_read == 3  # counters equal: the map tells, against smaps' headers


def test_changed_counters_read_in_full_without_reading_the_map():
    carrier, process = Carrier(), Process()
    hit(carrier, process, 0.0)
    for n in range(1, 6):  # memory that changes at every hit: the map is never read
        process.counters = f"{100 + n} 20 5 1 0 10 0\n".encode()
        assert not hit(carrier, process, 0.1 * n)
    assert process.maps_read == 0
    assert hit(carrier, process, 0.7)  # then it rests


def test_a_changed_map_reads_in_full_and_is_the_one_compared_next():
    carrier, process = Carrier(), Process()
    hit(carrier, process, 0.0)
    process.maps = MAPS.replace(b"[heap]", b"[anon:x]")  # the same counters, another map
    assert not hit(carrier, process, 0.1)
    assert carrier.last.maps == process.maps  # as read at that hit, not smaps' headers
    assert hit(carrier, process, 0.2)


def test_a_full_read_at_the_interval_and_never_with_exact():
    carrier, process = Carrier(), Process()
    taken = [hit(carrier, process, 0.01 * n, every=4) for n in range(9)]
    assert taken == [False, True, True, True, False, True, True, True, False]
    carrier = Carrier()
    assert [hit(carrier, process, 2.0 * n, seconds=5) for n in range(5)] == [
        False, True, True, False, True]
    exact, process = Carrier(exact=True), Process()
    assert not any(hit(exact, process, 0.1 * n) for n in range(5))
    assert process.maps_read == 0


def test_no_counters_never_carry():
    carrier, process = Carrier(), Process(counters=None)
    assert not any(hit(carrier, process, 0.1 * n) for n in range(4))
    assert process.maps_read == 0


def test_a_carried_snapshot_shares_the_blocks_and_is_journalled_as_the_same(tmp_path,
                                                                           monkeypatch):
    """A carried hit's record is made of the last record's very blocks: never joined or
    compared again, journalled as the previous one's smaps, and read back byte for byte."""
    from gdbmem.store.codec import read_records
    from gdbmem.store.session import Session
    from tests.helpers import FakeTarget

    target, session = FakeTarget(), Session()
    first = target.record("full", pc=0x1000)
    session.add(first, lambda: str(tmp_path))
    carried = target.carried(first, "carried", pc=0x1000)
    assert carried.blocks is first.blocks

    def compared(self, data):
        raise AssertionError("a carried snapshot's smaps compared again")

    monkeypatch.setattr(Record, "same_smaps", compared)
    session.add(carried, lambda: str(tmp_path))
    assert carried.smaps == first.smaps == SMAPS
    again = target.carried(carried, "again", pc=0x1000)
    session.add(again, lambda: str(tmp_path))
    monkeypatch.undo()
    with open(session.journal.path, "rb") as fh:
        text = fh.read()
    assert text.count(b'"smaps_as_previous":true') == 2
    assert [r.smaps for r in read_records(text)] == [SMAPS] * 3
    assert [r.snapshot.regions[0].rss_kb for r in session.records] == [
        first.snapshot.regions[0].rss_kb] * 3
