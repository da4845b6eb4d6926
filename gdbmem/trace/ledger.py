"""Which call stacks hold which address ranges: memtrace's live accounting, pure.

Mappings change only through a few system calls, and an allocator makes them only when its
heap or an arena must grow, so their call stacks sample where memory goes, weighted by bytes.
A Ledger is fed each completed call (its arguments and result) with the stack that made it,
and keeps, for each stack, the ranges it mapped and still holds:

  mmap      maps [result, result + length): held by the caller (a PROT_NONE mapping is a
            reservation, held by nobody until mprotect makes part of it usable); MAP_FIXED
            over ranges others held takes them from them
  munmap    the range is no longer held, by whoever held each part (a partial unmap splits)
  mremap    the old range moves with its holders (over what others held at the new place,
            which they lose); growth is the caller's, of the moved range's kind, shrinking
            the holders' loss
  brk       the heap grows by the caller's, or shrinks from its top
  mprotect  making part of a reservation usable (glibc grows a thread's arena so) is the
            caller's growth; making it PROT_NONE again gives it back
  shmat     attaches a segment of known length (the caller says it); shmdt detaches it

A call that takes memory away (munmap, mremap, shmdt) does so in the kernel between its
entry and its return, and with several threads another thread's mmap may be given the same
addresses before the first thread's return is seen: so enter() takes the old range out at
the call's entry (parked, held by nobody), and record() at its return settles it: lost by
its holders, moved, or (the call failed) given back. A call whose entry was not seen (tracing
began during it) is settled at its return alone.

A stack is an interned id; sites (the first frame of the program's own code) are made of
stacks when reported (fold.py), so nothing here needs symbols.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable
from typing import NamedTuple

PAGE = 4096
PROT_NONE = 0
MAP_FIXED = 0x10
MAP_ANONYMOUS = 0x20
MREMAP_FIXED = 0x2
ERRORS = -4095  # a result from -4095 to -1 is -errno
ARENA_SIZE = 64 << 20  # glibc's HEAP_MAX_SIZE on 64-bit: an arena's reservation and alignment


def _pages(length: int) -> int:
    return (length + PAGE - 1) & ~(PAGE - 1)


def failed(result: int) -> bool:
    return ERRORS <= result < 0


class StackUse:
    """What one call stack did: calls made (and which), bytes mapped and unmapped, the kinds
    it touched."""

    __slots__ = ("calls", "kinds", "mapped", "names", "unmapped")

    def __init__(self) -> None:
        self.calls = 0
        self.mapped = 0
        self.unmapped = 0
        self.kinds: set[str] = set()
        self.names: set[str] = set()  # the calls made: mmap, brk, ...


class Range(NamedTuple):
    start: int
    end: int
    stack: int  # the stack id that holds it
    kind: str = "anon"  # of the memory: anon, file, heap, arena, shm


class Ledger:
    def __init__(self) -> None:
        self.stacks: dict[tuple[int, ...], int] = {}  # pcs -> id
        self.pcs: list[tuple[int, ...]] = []  # id -> pcs
        self.use: list[StackUse] = []
        self._starts: list[int] = []  # held ranges, sorted and disjoint
        self._ranges: list[Range] = []
        self._reserved: list[tuple[int, int]] = []  # PROT_NONE mappings, not held
        self._arenas: set[int] = set()  # bases of reservations grown from 64 MiB boundaries
        self.brk: int | None = None

    def seed(self, brk: int | None, reservations: Iterable[tuple[int, int]] = ()) -> None:
        """What tracing that starts late cannot have seen: where the heap ends now, and the
        reservations (no-access anonymous mappings) an arena or a stack may grow into."""
        if brk is not None:
            self.brk = brk
        for lo, hi in reservations:
            if not any(a < hi and lo < b for a, b in self._reserved):
                self._reserved.append((lo, hi))

    # Stacks ------------------------------------------------------------------------------------

    def stack_id(self, pcs: Iterable[int]) -> int:
        key = tuple(pcs)
        sid = self.stacks.get(key)
        if sid is None:
            sid = self.stacks[key] = len(self.pcs)
            self.pcs.append(key)
            self.use.append(StackUse())
        return sid

    def held(self, lo: int = 0, hi: int = 1 << 64) -> dict[int, int]:
        """Bytes held now, by stack id; only those inside [lo, hi) when given."""
        out: dict[int, int] = {}
        for r in self._ranges:
            size = min(r.end, hi) - max(r.start, lo)
            if size > 0:
                out[r.stack] = out.get(r.stack, 0) + size
        return out

    def holder(self, address: int) -> int | None:
        """The stack id whose call mapped the range holding `address`, if one did."""
        i = bisect.bisect_right(self._starts, address) - 1
        if i >= 0 and self._ranges[i].start <= address < self._ranges[i].end:
            return self._ranges[i].stack
        return None

    # Ranges ------------------------------------------------------------------------------------

    def _take(self, start: int, end: int) -> list[Range]:
        """Remove [start, end) from the held ranges (splitting those it cuts) and return the
        parts removed, each with its holder."""
        if end <= start:
            return []
        i = max(bisect.bisect_right(self._starts, start) - 1, 0)
        taken, keep = [], []
        j = i
        while j < len(self._ranges) and self._ranges[j].start < end:
            r = self._ranges[j]
            if r.end > start:
                if r.start < start:
                    keep.append(r._replace(end=start))
                taken.append(r._replace(start=max(r.start, start), end=min(r.end, end)))
                if r.end > end:
                    keep.append(r._replace(start=end))
            else:
                keep.append(r)
            j += 1
        self._ranges[i:j] = keep
        self._starts[i:j] = [r.start for r in keep]
        return taken

    def _give(self, start: int, end: int, stack: int, kind: str) -> None:
        if end <= start:
            return
        self._take(start, end)
        i = bisect.bisect_left(self._starts, start)
        self._ranges.insert(i, Range(start, end, stack, kind))
        self._starts.insert(i, start)

    def _lose(self, start: int, end: int) -> None:
        """[start, end) is no longer held: each holder's unmapped bytes grow."""
        for r in self._take(start, end):
            self.use[r.stack].unmapped += r.end - r.start

    def _unreserve(self, start: int, end: int) -> None:
        keep = []
        for lo, hi in self._reserved:
            if hi <= start or lo >= end:
                keep.append((lo, hi))
                continue
            if lo < start:
                keep.append((lo, start))
            if hi > end:
                keep.append((end, hi))
        self._reserved = keep

    def _reserved_part(self, start: int, end: int) -> list[tuple[int, int, int]]:
        """The reserved parts of [start, end), each with where its reservation starts."""
        return [(max(lo, start), min(hi, end), lo) for lo, hi in self._reserved
                if lo < end and hi > start]

    def _map(self, start: int, end: int, stack: int, kind: str) -> None:
        use = self.use[stack]
        use.mapped += end - start
        use.kinds.add(kind)
        self._give(start, end, stack, kind)

    # Calls -------------------------------------------------------------------------------------

    def enter(self, call: str, args: tuple[int, ...]) -> list[Range] | None:
        """At a call's entry: a call that takes memory away takes its old range out now
        (parked: record() at its return settles it). None for the other calls."""
        if call == "munmap":
            start, end = args[0], args[0] + _pages(args[1])
        elif call == "mremap":
            start, end = args[0], args[0] + _pages(args[1])
        elif call == "shmdt":
            i = bisect.bisect_left(self._starts, args[0])
            if not (i < len(self._ranges) and self._ranges[i].start == args[0]):
                return []
            start, end = args[0], self._ranges[i].end
        else:
            return None
        return self._take(start, end)

    def record(self, call: str, args: tuple[int, ...], result: int, pcs: Iterable[int],
               length: int = 0, parked: list[Range] | None = None) -> int:
        """One completed call, with its arguments, its result (as a signed number) and its
        stack; `length` is a shmat's segment size; `parked`, what enter() took out at its
        entry. Returns the stack's id."""
        sid = self.stack_id(pcs)
        self.use[sid].calls += 1
        self.use[sid].names.add(call)
        if failed(result):
            for r in parked or ():  # nothing was taken away: the holders keep it
                self._give(r.start, r.end, r.stack, r.kind)
            return sid
        if parked is not None and call in ("munmap", "shmdt"):
            if call == "munmap":
                self._unreserve(args[0], args[0] + _pages(args[1]))
            for r in parked:
                self.use[r.stack].unmapped += r.end - r.start
            return sid
        if parked is not None and call == "mremap":
            self._moved(sid, args, result, parked)
            return sid
        getattr(self, "_" + call)(sid, args, result, length)
        return sid

    def _mmap(self, sid: int, args: tuple[int, ...], result: int, length: int) -> None:
        size, prot, flags, fd = _pages(args[1]), args[2], args[3], args[4]
        start, end = result, result + size
        self._lose(start, end)  # MAP_FIXED over what others held
        self._unreserve(start, end)
        if prot == PROT_NONE:
            self._reserved.append((start, end))
            return
        anonymous = flags & MAP_ANONYMOUS or fd == -1 or fd == (1 << 64) - 1
        self._map(start, end, sid, "anon" if anonymous else "file")

    def _munmap(self, sid: int, args: tuple[int, ...], result: int, length: int) -> None:
        start, end = args[0], args[0] + _pages(args[1])
        self._lose(start, end)
        self._unreserve(start, end)

    def _mremap(self, sid: int, args: tuple[int, ...], result: int, length: int) -> None:
        old, old_size = args[0], _pages(args[1])
        self._moved(sid, args, result, self._take(old, old + old_size))

    def _moved(self, sid: int, args: tuple[int, ...], result: int, moved: list[Range]) -> None:
        old, old_size, new_size = args[0], _pages(args[1]), _pages(args[2])
        # What others held where it lands (MREMAP_FIXED) is theirs no more.
        self._lose(result, result + new_size)
        shift = result - old
        for r in moved:  # the holders keep what moves, up to the new size
            lo, hi = r.start + shift, min(r.end + shift, result + new_size)
            if hi > lo:
                self._give(lo, hi, r.stack, r.kind)
            if r.end + shift > hi:
                self.use[r.stack].unmapped += r.end + shift - max(hi, lo)
        if new_size > old_size:  # growth: of the kind of what grew (a file stays a file)
            kind = moved[-1].kind if moved else "anon"
            self._map(result + old_size, result + new_size, sid, kind)

    def _brk(self, sid: int, args: tuple[int, ...], result: int, length: int) -> None:
        if self.brk is None or args[0] == 0:  # the first call, or a query: where it is
            self.brk = result if self.brk is None else self.brk
            if args[0] == 0:
                return
        if result > self.brk:
            self._map(self.brk, result, sid, "heap")
        elif result < self.brk:
            self._lose(result, self.brk)
        self.brk = result

    def _mprotect(self, sid: int, args: tuple[int, ...], result: int, length: int) -> None:
        start, end, prot = args[0], args[0] + _pages(args[1]), args[2]
        if prot == PROT_NONE:  # given back to the reservation (an arena shrinks)
            if self._take(start, end):
                self._lose(start, end)
                self._reserved.append((start, end))
            return
        for lo, hi, first in self._reserved_part(start, end):
            # glibc's arenas are reserved on 64 MiB boundaries (HEAP_MAX_SIZE: it maps twice
            # that and trims), and grow from their start; other reservations made usable so
            # are anonymous memory (a thread's stack, ...).
            base = lo & ~(ARENA_SIZE - 1)
            if first == base:
                self._arenas.add(base)
            self._unreserve(lo, hi)
            self._map(lo, hi, sid, "arena" if base in self._arenas else "anon")

    def _shmat(self, sid: int, args: tuple[int, ...], result: int, length: int) -> None:
        if length:
            self._map(result, result + _pages(length), sid, "shm")

    def _shmdt(self, sid: int, args: tuple[int, ...], result: int, length: int) -> None:
        i = bisect.bisect_left(self._starts, args[0])
        if i < len(self._ranges) and self._ranges[i].start == args[0]:
            self._lose(args[0], self._ranges[i].end)
