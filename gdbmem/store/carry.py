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

from typing import Any, NamedTuple

FULL_EVERY = 50  # hits: `set gdbmem memsnap-full-every`
FULL_SECONDS = 5  # seconds: `set gdbmem memsnap-full-seconds`


class Signature(NamedTuple):
    """What a hit reads cheaply to tell whether anything changed: the counters, the map."""

    counters: bytes
    maps: bytes


class Carrier:
    """Whether a hit may carry the last full read, by its signature and time."""

    def __init__(self, exact: bool = False) -> None:
        self.exact = exact
        self.record: Any = None  # the last snapshot taken through it (a store.record.Record)
        self.last: Signature | None = None
        self.pid = 0
        self.hits_since = 0
        self.full_at = 0.0

    def may_carry(self, pid: int, signature: Signature | None, now: float, full_every: int,
                  full_seconds: float) -> bool:
        return (not self.exact and self.record is not None and signature is not None
                and self.last is not None
                and pid == self.pid and signature == self.last
                and self.hits_since + 1 < full_every and now - self.full_at < full_seconds)

    def carried(self) -> None:
        self.hits_since += 1

    def full(self, pid: int, signature: Signature | None, now: float) -> None:
        self.last, self.pid, self.hits_since, self.full_at = signature, pid, 0, now
