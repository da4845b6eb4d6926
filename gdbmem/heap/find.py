"""Where glibc keeps the heap's roots, found and checked before they are trusted: main_arena
(by its structure in libc's writable data, when libc's symbols do not name it), mp_, each
arena's top chunk and the ring of arenas; and another malloc loaded instead of glibc's."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from gdbmem.errors import HeapError
from gdbmem.heap.chunks import PAGE
from gdbmem.heap.layout import ALIGNMENT, MINSIZE, SIZE_BITS, TCACHE_BINS, WORD, Layout
from gdbmem.heap.memory import Memory
from gdbmem.kinds import HEAP_MAX_SIZE
from gdbmem.model import Region


def region_at(regions: Sequence[Region], address: int) -> Region | None:
    for region in regions:
        if region.start <= address < region.end:
            return region
    return None


def readable_rw(region: Region) -> bool:
    return region.perms.startswith("rw")


def is_libc(region: Region) -> bool:
    """A mapping of glibc's libc.so.6 (or an old libc-2.NN.so)."""
    name = region.path.rsplit("/", 1)[-1]
    return name.startswith("libc.so") or (name.startswith("libc-") and ".so" in name)


def libc_data(regions: Sequence[Region]) -> list[Region]:
    """libc's writable data, and the anonymous .bss right after it."""
    out: list[Region] = []
    for i, region in enumerate(regions):
        if is_libc(region):
            if readable_rw(region):
                out.append(region)
                after = regions[i + 1] if i + 1 < len(regions) else None
                if (after is not None and not after.path and after.start == region.end
                        and readable_rw(after)):
                    out.append(after)
    return out


def arena_ring(mem: Memory, layout: Layout, main: int) -> list[int]:
    """main_arena's `next` ring, main first; HeapError if it does not come back."""
    ring = [main]
    at = mem.word(main + layout.next)
    while at != main:
        if at == 0 or at % ALIGNMENT or len(ring) > 4096 or at in ring:
            raise HeapError(f"the arenas' `next` ring from {main:#x} is broken at {at:#x}")
        ring.append(at)
        at = mem.word(at + layout.next)
    return ring


def plausible_arena(words: np.ndarray, layout: Layout) -> bool:
    """A malloc_state's own fields, before following any pointer."""
    top = int(words[layout.top // WORD])
    system_mem = int(words[layout.system_mem // WORD])
    max_system = int(words[layout.max_system_mem // WORD])
    mutex = int(words[0]) & 0xFFFFFFFF
    return (top != 0 and top % ALIGNMENT == 0 and 0 < system_mem <= max_system
            and system_mem % PAGE == 0 and mutex <= 2)


def find_main_arena(mem: Memory, regions: Sequence[Region], layout: Layout) -> int:
    """main_arena by its structure, in libc's writable data: a plausible malloc_state whose
    `next` ring returns to it and whose top chunk ends where its heap's mapping ends."""
    data = libc_data(regions)
    if not data:
        raise HeapError("no libc in the process (a static program, or another C library): "
                        "memheap reads glibc's malloc")
    n = layout.arena_size // WORD
    found = []
    for region in data:
        words = mem.words(region.start, region.size // WORD)
        top_at, sys_at = layout.top // WORD, layout.system_mem // WORD
        if len(words) < n:
            continue
        count = len(words) - n + 1
        tops = words[top_at:top_at + count]
        system = words[sys_at:sys_at + count]
        candidates = np.nonzero((tops != 0) & (tops % ALIGNMENT == 0) & (system != 0)
                                & (system % PAGE == 0))[0]
        for k in candidates:
            address = region.start + int(k) * WORD
            if address % ALIGNMENT or not plausible_arena(words[k:k + n], layout):
                continue
            try:
                arena_ring(mem, layout, address)
                top_chunk(mem, layout, address, regions)
            except HeapError:
                continue
            found.append(address)
    if len(found) != 1:
        why = "none" if not found else f"{len(found)} candidates"
        raise HeapError(f"cannot find glibc's main_arena in libc's data ({why}); with libc's "
                        "debug symbols (libc6-dbg) it is named")
    return found[0]


def find_mp(mem: Memory, regions: Sequence[Region], layout: Layout,
            heap_start: int) -> int | None:
    """mp_ (struct malloc_par) by its structure in libc's data: the one whose sbrk_base is
    where the main heap starts, with tcache and mmap figures that can be; None unless
    exactly one is."""
    found = []
    for region in libc_data(regions):
        words = mem.words(region.start, region.size // WORD)
        for k in np.nonzero(words == np.uint64(heap_start))[0].tolist():
            base = k - layout.mp_sbrk_base // WORD
            if base < 0 or base + layout.mp_size // WORD > len(words):
                continue
            w = words[base:base + layout.mp_size // WORD]
            ints = w.view(np.uint32)
            n_mmaps, n_max, max_n = (int(ints[(layout.mp_n_mmaps // 4) + i]) for i in range(3))
            mmapped, max_mmapped = (int(w[layout.mp_mmapped_mem // WORD + i]) for i in (0, 1))
            bins = int(w[layout.mp_tcache_bins // WORD])
            count = int(w[layout.mp_tcache_count // WORD])
            if (0 < bins <= TCACHE_BINS and count <= 0xFFFF and n_mmaps <= max_n
                    and n_mmaps <= n_max and mmapped <= max_mmapped and mmapped % PAGE == 0
                    and (n_mmaps == 0) == (mmapped == 0)):
                found.append(region.start + base * WORD)
    return found[0] if len(found) == 1 else None


def top_chunk(mem: Memory, layout: Layout, arena: int, regions: Sequence[Region],
               main: bool = True) -> tuple[int, int, Region]:
    """The arena's top chunk: it must end main's heap (the program break, where [heap]
    ends) or a thread arena's newest heap (where its heap_info's size says)."""
    top = mem.word(arena + layout.top)
    region = region_at(regions, top)
    if region is None or top % ALIGNMENT:
        raise HeapError(f"arena {arena:#x}: its top chunk {top:#x} is in no mapping")
    size = mem.word(top + WORD) & ~SIZE_BITS
    if main:
        end, what = region.end, f"its mapping ({region.start:#x}-{region.end:#x})"
    else:
        heap = top & ~(HEAP_MAX_SIZE - 1)
        end, what = heap + mem.word(heap + 2 * WORD), f"its heap at {heap:#x}"
    if size < MINSIZE or top + size > end or end - (top + size) >= PAGE:
        raise HeapError(f"arena {arena:#x}: its top chunk {top:#x} of size {size:#x} does "
                        f"not end {what}")
    return top, size, region


_OTHER_ALLOCATORS = (("libjemalloc", "jemalloc"), ("libtcmalloc", "tcmalloc"),
                     ("libmimalloc", "mimalloc"), ("libhoard", "Hoard"),
                     ("libsnmalloc", "snmalloc"))


def other_allocator(regions: Sequence[Region]) -> str | None:
    """Another malloc the process has loaded, as "jemalloc (libjemalloc.so.2)"."""
    for region in regions:
        name = region.path.rsplit("/", 1)[-1]
        for prefix, allocator in _OTHER_ALLOCATORS:
            if name.startswith(prefix):
                return f"{allocator} ({name})"
    return None
