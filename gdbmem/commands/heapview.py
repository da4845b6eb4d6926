"""The heap as walked at this stop, shared by memheap, memleak and vmainfo.

One walk per stop: a cache that gdb's events empty as soon as the process runs on, or the
user writes its memory or registers (caches.RESUMED), or it exits or execs. While a thread
runs (non-stop), the heap changes under the walk: nothing is kept then, and the report
says so.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

from gdbmem.caches import EXEC, EXITED, INFERIOR_DELETED, RESUMED, Cache
from gdbmem.errors import GdbmemError
from gdbmem.heap.census import Census, census, summary
from gdbmem.heap.chunks import Heap, HeapThread
from gdbmem.heap.mmapped import chunks_at
from gdbmem.heap.reach import Leaks, leak_check
from gdbmem.heap.walk import walk_heap
from gdbmem.model import Region
from gdbmem.target import Target
from gdbmem.target.heapinput import heap_input, heap_memory, running_threads
from gdbmem.target.symbols import symbol_at


@dataclass
class HeapView:
    target: Target
    heap: Heap
    regions: list[Region]
    threads: list[HeapThread]
    running: list[int]
    census: Census | None = None
    leaks: Leaks | None = None
    notes: list[str] = field(default_factory=list)

    def read(self, use):
        """use(memory) with the target's bulk reader open."""
        with self.target.memory_reader() as reader:
            return use(heap_memory(reader))

    def the_census(self) -> Census:
        if self.census is None:
            self.census = self.read(lambda mem: census(mem, self.heap, self.regions, name_of))
        return self.census

    def the_leaks(self) -> Leaks:
        if self.leaks is None:
            self.leaks = self.read(lambda mem: leak_check(mem, self.heap, self.regions,
                                                          self.threads))
        return self.leaks


HEAPS: Cache[tuple[int, int], HeapView] = Cache(
    "heap walks", 2, {RESUMED, EXITED, EXEC, INFERIOR_DELETED},
    "malloc's heap changes as soon as the process runs, or its memory is written")


def name_of(address: int) -> tuple[str, str] | None:
    symbol = symbol_at(address)
    return (symbol.name, symbol.section) if symbol is not None else None


def snapshot_census(target: Target, at_hit: bool, warn: Callable[[str], None],
                    say_cost: bool) -> dict | None:
    """A census as a snapshot keeps it (memsnap --heap), with what it cost (said, when
    `say_cost`); None, said, where the heap cannot be read."""
    started = time.perf_counter()
    try:
        inp, regions = heap_input(target, at_hit)
        with target.memory_reader() as reader:
            mem = heap_memory(reader)
            found = census(mem, walk_heap(mem, inp), regions, name_of)
    except GdbmemError as exc:
        warn(f"no census of malloc's heap: {exc}")
        return None
    kept = summary(found, time.perf_counter() - started)
    if say_cost:
        warn(f"a census of malloc's heap ({len(found.chosen)} chunks in use) took "
             f"{kept['seconds'] * 1000:.1f} ms: each snapshot with --heap costs about that "
             "more, growing with the heap")
    return kept


def walked(target: Target) -> bool:
    """Whether the heap was walked at this stop already."""
    key = (target.pid, getattr(getattr(target, "inferior", None), "num", 0))
    return key in HEAPS


def mmapped_chunk_at(target: Target, region: Region, address: int) -> bool:
    """Whether `address` is in a chunk mmapped on its own at the start of `region` (a few
    words read: vmainfo walks a whole heap for an anonymous address only then)."""
    with target.memory_reader() as reader:
        found = chunks_at(heap_memory(reader), region.start, region.end)
    return any(chunk <= address < chunk + size for chunk, size, _prev in found)


def heap_view(target: Target) -> HeapView:
    """The heap at this stop: walked once, then kept until the process runs on."""
    key = (target.pid, getattr(getattr(target, "inferior", None), "num", 0))
    view = HEAPS.get(key)
    if view is not None and view.target.pid == target.pid:
        view.target = target
        return view
    inp, regions = heap_input(target)
    with target.memory_reader() as reader:
        heap = walk_heap(heap_memory(reader), inp)
    running = running_threads()
    view = HeapView(target, heap, regions, list(inp.threads), running)
    if running:
        view.notes.append(f"thread{'s' if len(running) > 1 else ''} "
                          f"{', '.join(map(str, running))} run{'s' if len(running) == 1 else ''}"
                          " (non-stop): the heap may change while it is read, and their "
                          "registers are not roots")
    else:
        HEAPS.put(key, view)
    return view
