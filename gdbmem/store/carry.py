"""Snapshots that cost what changed: a hit where nothing changed carries the last full
read's figures instead of walking the page tables again.

The kernel builds smaps by walking every resident page (~13 ms for 1 GiB), but keeps
counters it updates at every fault and unmap (/proc/PID/statm: the sizes of the whole, of
what is resident, of what is shared with files, of the data; 2 us to read, where status,
which says the same and more, takes 6 us and its lines 12 us more to pick out) and lists the
regions in maps without walking a page. When neither changed since the last full read, the
snapshot is the last one's figures, marked carried; smaps is read in full again at least
every `full_every` hits or `full_seconds` seconds, and at every hit with `exact`.

What a carried snapshot can miss: pages moving between two regions of the same process
while the counters stay equal (one region freed as much as another faulted in, within one
interval); PSS moving because other processes map or unmap pages this one shares; and, the
counters being kept per CPU, a change smaller than the kernel's batch (32 pages a CPU) until
it is folded in. For a leak hunt none of these matter: a leak grows the counters, and the
periodic full read bounds how long anything else goes unseen.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple, Optional

FULL_EVERY = 50  # hits: `set gdbmem memsnap-full-every`
FULL_SECONDS = 5  # seconds: `set gdbmem memsnap-full-seconds`


class Signature(NamedTuple):
    """What a hit reads cheaply to tell whether anything changed: the counters, the map.
    `maps` is None where it was not read (the counters alone said the hit reads in full):
    it is then the map of that full read, its smaps' maps lines (maps_of)."""

    counters: bytes
    maps: Optional[bytes]


def maps_of(record: Any) -> bytes:
    """/proc/PID/maps as it was when `record` (a store.record.Record) read smaps: the kernel
    writes each smaps block's first line as it writes that region's maps line."""
    return b"".join(b"".join(block.partition(b"\n")[:2]) for block in record.smaps_blocks())


class Carrier:
    """Whether a hit may carry the last full read, by its signature and time."""

    def __init__(self, exact: bool = False) -> None:
        self.exact = exact
        self.record: Any = None  # the last snapshot taken through it (a store.record.Record)
        self.last: Signature | None = None  # the last full read's
        self.seen: Signature | None = None  # this hit's, as far as it was read
        self.pid = 0
        self.hits_since = 0
        self.full_at = 0.0

    def may_carry(self, pid: int, counters: bytes | None, read_maps: Callable[[], bytes],
                  now: float, full_every: int, full_seconds: float) -> bool:
        """Whether this hit may carry the last full read. `counters` are this hit's (None:
        no cheap way to tell, so it never may); read_maps() is called only when the
        counters are those of the last full read (in a process whose memory changes at
        every hit, reading the map would only cost)."""
        self.seen = None if counters is None else Signature(counters, None)
        last = self.last
        if (self.exact or self.record is None or counters is None or last is None
                or pid != self.pid or self.hits_since + 1 >= full_every
                or now - self.full_at >= full_seconds or counters != last.counters):
            return False
        self.seen = Signature(counters, read_maps())
        if last.maps is None:
            last = self.last = last._replace(maps=maps_of(self.record))
        return self.seen.maps == last.maps

    def carried(self) -> None:
        self.hits_since += 1

    def full(self, pid: int, now: float) -> None:
        """This hit reads in full: its signature is the one later hits compare with."""
        self.last, self.pid, self.hits_since, self.full_at = self.seen, pid, 0, now
