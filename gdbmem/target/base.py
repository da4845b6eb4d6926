"""What every kind of target answers, and what follows from those answers alike for all.

A Target is the process (or core file) gdb debugs, seen from gdbmem: its map with the
figures it can know, its threads' stack pointers, its memory, its pages. Each kind of target
(local.py, remote.py, core.py) answers the primitive questions its own way; the snapshot,
the record taken at a breakpoint's hit and the pages a dump may skip are built here from
those answers, once. No gdb here: the unit tests build targets of their own from captured
files (tests/fakes.py) and run everything above on them.
"""

from __future__ import annotations

import os
import time

from gdbmem.analysis.spans import Span, merge_holes, unmapped
from gdbmem.errors import TargetError
from gdbmem.kinds import ThreadStackPointer, classify
from gdbmem.model import Hole, Region, Snapshot
from gdbmem.proc import PageState
from gdbmem.scan.walk import Unreadable
from gdbmem.store.carry import Carrier
from gdbmem.store.record import Record

PAGE = os.sysconf("SC_PAGE_SIZE")


class Target:
    """The selected process or core file. Subclasses answer the methods that raise
    NotImplementedError; the rest is shared."""

    pid: int = 0
    which: str = ""  # "inferior 2, process 4242" when gdb has several inferiors
    # What this kind of target cannot know, and why, as "what: why" (reports show such
    # figures as '?', and say why where they can: vmainfo's page line).
    cannot_know: tuple[str, ...] = ()

    def why_unknown(self, what: str) -> str | None:
        """Why this kind of target cannot know `what` ("page state"), if it cannot."""
        for entry in self.cannot_know:
            name, _, why = entry.partition(": ")
            if name == what:
                return why
        return None

    # Answered by each kind -------------------------------------------------------------------

    def measured_map(self, with_rollup: bool) -> tuple[list[Region], dict | None]:
        """Every region with the smaps figures this target knows, unclassified, and the
        process totals (smaps_rollup) when asked for and cheap to have."""
        raise NotImplementedError

    def maps(self) -> list[Region]:
        """The regions without figures or kinds: a tenth of the cost of the measured map."""
        raise NotImplementedError

    def read_proc(self, name: str, keep_open: bool = False) -> bytes:
        """The whole of /proc/PID/NAME (keep_open: see procread.read_whole)."""
        raise NotImplementedError

    def exe(self) -> str:
        raise NotImplementedError

    def thread_stack_pointers(self) -> list[ThreadStackPointer]:
        raise NotImplementedError

    def read_memory(self, address: int, length: int) -> bytes | None:
        """`length` bytes at `address`, or None when they cannot be read."""
        raise NotImplementedError

    def current_pc(self) -> int | None:
        """Where the selected thread stopped, when known."""
        return None

    def check_alive(self) -> None:
        """Raise TargetError if the process is gone (an empty read means that, or a bad page)."""

    def page_state(self, address: int) -> PageState | None:
        """The pagemap entry of the page that holds `address`; None where unknown."""
        return None

    def absent_pages(self, first: int, last: int) -> list[tuple[int, int]]:
        """Runs [first, last) of page numbers that are not resident; [] where unknown (then
        every page is read)."""
        return []

    def memory_reader(self) -> MemoryReader:
        return MemoryReader(self)

    def note(self) -> str:
        """A line a map report says first, about what this target cannot show ("" if none)."""
        return ""

    # Shared -----------------------------------------------------------------------------------

    def cmdline(self) -> str:
        try:
            raw = self.read_proc("cmdline")
        except TargetError:
            return ""
        return raw.rstrip(b"\0").replace(b"\0", b" ").decode("utf-8", "replace")

    def snapshot(self, with_rollup: bool = True) -> Snapshot:
        taken_at = time.time()
        regions, rollup = self.measured_map(with_rollup)
        exe = self.exe()
        classify(regions, exe=exe, threads=self.thread_stack_pointers(), pid=self.pid,
                 read_memory=self.read_memory)
        self.name_regions(regions)
        return Snapshot(self.pid, regions, rollup, exe=exe, taken_at=taken_at)

    def name_regions(self, regions: list[Region]) -> None:
        """Kinds the kernel's names would have given, where this target keeps no names."""

    def regions(self) -> list[Region]:
        """Every region with its smaps fields and kind."""
        return self.snapshot(with_rollup=False).regions

    def record(self, label: str = "", pc: int | None = None) -> Record:
        """A snapshot's raw record: cheap enough to take at every hit of a breakpoint.
        `pc`, when the caller knows it (a breakpoint's address), spares building a frame."""
        if pc is None:
            pc = self.current_pc()
        return Record(self.pid, time.time(), self.read_proc("smaps", keep_open=True), "",
                      self.thread_stack_pointers(), label, exe=self.exe(), pc=pc)

    def counters(self) -> bytes | None:
        """The kernel's counters of the process's memory, read cheaply, to tell whether it
        changed (carry.py); None where there is no cheap way (then every hit reads in full)."""
        return None

    def map_text(self) -> bytes:
        """Its map (/proc/PID/maps), where counters() is not None."""
        raise NotImplementedError

    def record_at_hit(self, carrier: Carrier, label: str, pc: int | None, full_every: int,
                      full_seconds: float) -> Record:
        """A breakpoint's snapshot: the last full read carried when `carrier` says nothing
        changed since it (carry.py), else read in full."""
        now = time.time()
        counters = None if carrier.exact else self.counters()
        if carrier.may_carry(self.pid, counters, self.map_text, now, full_every, full_seconds):
            carrier.carried()
            record = self.carried(carrier.record, label, pc)
        else:
            carrier.full(self.pid, now)
            record = self.record(label, pc)
        carrier.record = record
        return record

    def carried(self, previous: Record, label: str = "", pc: int | None = None) -> Record:
        """A snapshot that carries `previous`'s figures (nothing changed since it was read
        in full), with its own time, label, place and threads."""
        if pc is None:
            pc = self.current_pc()
        # Its very blocks where it keeps them (in a session): the smaps is never joined
        # again, nor compared (70 MB at 100,000 mappings, at every carried hit).
        blocks = previous.blocks
        record = Record(self.pid, time.time(), previous.smaps if blocks is None else b"",
                        previous.rollup_text, self.thread_stack_pointers(), label,
                        exe=self.exe(), pc=pc, blocks=blocks)
        record.carried = True
        return record

    def read_bytes(self, address: int, count: int) -> list[int | None]:
        """`count` bytes at `address`, page by page: None for each byte that cannot be read
        (vmainfo shows them as such, never as an error)."""
        data = self.read_memory(address, count) if count else b""
        if data is not None and len(data) == count:
            return list(data)
        out: list[int | None] = []
        while len(out) < count:
            at = address + len(out)
            size = min(count - len(out), PAGE - at % PAGE)
            piece = self.read_memory(at, size)
            out += list(piece) if piece is not None and len(piece) == size else [None] * size
        return out

    def map_names(self) -> list[str]:
        """The mapping names (for tab completion: never an error)."""
        try:
            return sorted({r.path for r in self.maps() if r.path})
        except TargetError:
            return []

    def not_resident(self, regions: list[Region], start: int, end: int) -> list[Hole]:
        """The page ranges of [start, end) inside `regions` that are not resident. A region
        smaps reports empty (no Rss, no Swap) needs no pagemap at all."""
        holes: list[Hole] = []
        for region in regions:
            lo, hi = max(start, region.start), min(end, region.end)
            if lo >= hi:
                continue
            if region.rss_kb == 0 and not region.swap_kb:
                holes.append(Hole(lo, hi, "not resident"))
                continue
            holes += [Hole(max(lo, first * PAGE), min(hi, last * PAGE), "not resident")
                      for first, last in self.absent_pages(lo // PAGE, -(-hi // PAGE))]
        return merge_holes(holes)

    def skipped(self, span: Span, resident_only: bool) -> list[Hole]:
        """What a dump or a scan of `span` does not read: the gaps no region covers and,
        with resident_only, the pages not in RAM."""
        holes = unmapped(span)
        if resident_only:
            holes += self.not_resident(span.regions, span.start, span.end)
        return merge_holes(holes)


class MemoryReader:
    """Reads a target's memory for scan.walk, through Target.read_memory (a kind with a
    faster way, like /proc/PID/mem, subclasses it)."""

    def __init__(self, target: Target):
        self.target = target

    def __enter__(self) -> MemoryReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        pass

    def read_into(self, address: int, view: memoryview) -> int:
        """Fill `view` with the memory at `address`, as far as it is readable: how many
        bytes that was (the heap walk's bulk reads, heap/memory.py)."""
        from gdbmem.heap.memory import bytes_reader

        return bytes_reader(self.target.read_memory)(address, view)

    def read(self, address: int, size: int) -> bytes:
        data = self.target.read_memory(address, size)
        if not data:
            self.target.check_alive()
            raise Unreadable(address)
        return data
