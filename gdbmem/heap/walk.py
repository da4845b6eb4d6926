"""glibc's heap at one stop: its arenas, their heaps, every chunk and where each free one sits.

The walk trusts nothing it has not checked. main_arena comes from libc's symbols when gdb
has them, else from libc's writable data, as the one malloc_state there whose top chunk ends
its heap and whose `next` ring comes back to it. Each thread arena's heaps come from its top
chunk's heap_info back through `prev`, each naming the arena. Chunks are walked from each
heap's first to its top, every size checked; free chunks are those the bins, fastbins and
tcaches list, each list checked against the walk (a chunk a list names must be one the walk
found, of that list's size); each thread's tcache is the struct its TLS points to (and each
arena's first chunk, where glibc puts its first thread's, when it checks out). Chunks
mmapped on their own are found at the start of anonymous mappings (and, when mp_ counts more
of them, at any page), then reconciled with mp_'s count and bytes. A chunk or list that
does not check out is a HeapError naming it: one line, never a wrong census.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from gdbmem.errors import HeapError
from gdbmem.heap.chunks import (
    IN_USE,
    MALLOC,
    MMAPPED_ARENA,
    TOP,
    Arena,
    Heap,
    HeapInput,
)
from gdbmem.heap.find import (
    arena_ring,
    find_main_arena,
    find_mp,
    other_allocator,
    plausible_arena,
    region_at,
    top_chunk,
)
from gdbmem.heap.layout import ALIGNMENT, IS_MMAPPED, MINSIZE, PREV_INUSE, SIZE_BITS, WORD, Layout
from gdbmem.heap.lists import find_tcaches, index_of, mark_bins, mark_fastbins
from gdbmem.heap.memory import Memory
from gdbmem.heap.mmapped import find_mmapped, reconcile
from gdbmem.kinds import HEAP_MAX_SIZE
from gdbmem.model import Region

# glibc's own functions that change the heap: a thread stopped in one may leave it mid-change.
MALLOC_FUNCTIONS = frozenset({
    "malloc", "free", "calloc", "realloc", "reallocarray", "memalign", "posix_memalign",
    "aligned_alloc", "valloc", "pvalloc", "malloc_trim", "__libc_malloc", "__libc_free",
    "__libc_calloc", "__libc_realloc", "__libc_memalign", "_int_malloc", "_int_free",
    "_int_realloc", "_int_memalign", "sysmalloc", "systrim", "malloc_consolidate",
    "unlink_chunk", "tcache_init", "tcache_put", "tcache_get", "arena_get2", "_int_new_arena",
    "new_heap", "grow_heap", "shrink_heap", "heap_trim", "munmap_chunk", "mremap_chunk",
    "__malloc_arena_thread_freeres", "tcache_thread_shutdown", "_mid_memalign",
})


class _Chunks:
    """Chunks as the walk finds them: per span, its first chunk's address, the size words
    (with their flag bits) one after another, and its arena."""

    def __init__(self) -> None:
        self.spans: list[tuple[int, np.ndarray, np.ndarray, int]] = []

    def add(self, first: int, walked: tuple[np.ndarray, np.ndarray], arena: int) -> None:
        self.spans.append((first, walked[0], walked[1], arena))

    def arrays(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Every chunk's address, size word and arena, and the first two words of its user
        data (an n x 2 array), in address order. Made with as few fresh arrays as can be:
        a fresh array's pages fault in one by one, and at ten million chunks those faults
        cost more than the arithmetic."""
        self.spans.sort(key=lambda span: span[0])
        if not self.spans:
            return (np.zeros(0, np.uint64), np.zeros(0, np.uint64), np.zeros(0, np.int16),
                    np.zeros((0, 2), np.uint64))
        if len(self.spans) == 1:
            first, raw, head, arena = self.spans[0]
            raws, heads = raw, head
            arenas = np.full(len(raw), arena, dtype=np.int16)
            starts = [(0, first)]
        else:
            raws = np.concatenate([span[1] for span in self.spans])
            heads = np.concatenate([span[2] for span in self.spans])
            arenas = np.concatenate([np.full(len(span[1]), span[3], dtype=np.int16)
                                     for span in self.spans])
            starts, at = [], 0
            for first, raw, _head, _arena in self.spans:
                starts.append((at, first))
                at += len(raw)
        addr = np.right_shift(raws, np.uint64(3))
        for (at, first), (end, _next) in zip(starts, [*starts[1:], (len(raws), 0)]):
            piece = addr[at:end]  # sizes in words, then each chunk's address
            np.cumsum(piece, out=piece)
            piece[1:] = piece[:-1]  # the sizes before each chunk (numpy copies overlaps)
            piece[0] = 0
            piece <<= np.uint64(3)
            piece += np.uint64(first)
        return addr, raws, arenas, heads


# Walking chunks ----------------------------------------------------------------------------


def _heads(words: np.ndarray, raws: Sequence[int], begin: int) -> np.ndarray:
    """The first two words of user data of the chunks raws[begin:], walked from the start
    of `words` (zeros where the window ends before them: read again by whoever needs
    them)."""
    sizes = np.frombuffer(raws, dtype=np.uint64)[begin:] >> np.uint64(3)
    at = np.empty(len(sizes), dtype=np.int64)
    at[0] = 2
    np.cumsum(sizes[:-1], out=at[1:])
    at[1:] += 2
    out = np.zeros((len(sizes), 2), dtype=np.uint64)
    if len(at) and at[-1] + 1 < len(words):  # the common case: all inside the window
        out[:, 0] = words[at]
        out[:, 1] = words[at + 1]
        return out
    for column in (0, 1):
        inside = at + column < len(words)
        out[inside, column] = words[at[inside] + column]
    return out


def _walk_span(mem: Memory, first: int, stop: int, top: int | None,
               what: str) -> tuple[np.ndarray, np.ndarray]:
    """The size words of the chunks of [first, stop), one after another: to `top`
    (included) when the span ends with the top chunk, else to the fencepost glibc leaves at
    the end of an older heap. The loop only steps (a chunk's size word >> 3 is its size in
    words, the flag bits shifted out) and stops at a size below MINSIZE; every size is then
    checked at once."""
    import array

    raws = array.array("Q")
    append = raws.append
    heads = array.array("Q")  # each chunk's first two words of user data, one after another
    p = first
    while True:
        begin = len(raws)
        words = mem.window(p, stop + 2 * WORD - p)
        if len(words) < 2:
            raise HeapError(f"{what}: cannot read the chunk at {p:#x}")
        view = memoryview(words).cast("B").cast("Q")
        end_i = min(len(view) - 1, (stop - p) >> 3)
        if top is not None:
            end_i = min(end_i, (top - p) >> 3)
        i = 0
        raw = 0
        while i < end_i:
            raw = view[i + 1]
            step = raw >> 3
            if step < MINSIZE // WORD:
                break
            append(raw)
            i += step
        at = p + i * 8
        if len(raws) > begin:
            heads.frombytes(_heads(words, raws, begin).tobytes())
        if top is not None and at == top:
            append(view[i + 1] if i + 1 < len(view) else mem.word(top + WORD))
            heads.extend((0, 0))
            break
        if i < end_i:  # a size below MINSIZE
            if top is None and raw & ~SIZE_BITS == 2 * WORD:
                append(raw)  # the fencepost
                heads.extend((0, 0))
                break
            raise HeapError(f"{what}: the chunk at {at:#x} has a bad size field {raw:#x} "
                            "(a corrupted heap, or a thread in the middle of malloc)")
        if at >= stop or (top is not None and at > top):
            last_raw = raws[-1] if raws else 0
            at_chunk = at - (last_raw & ~SIZE_BITS)
            raise HeapError(f"{what}: the chunk at {at_chunk:#x} has a bad size field "
                            f"{last_raw:#x}: it runs past the heap's "
                            f"{'top' if top is not None else 'end'} (a corrupted heap, or a "
                            "thread in the middle of malloc)")
        p = at
    out = np.frombuffer(raws, dtype=np.uint64)
    body = out[:-1]
    sizes = body & ~np.uint64(SIZE_BITS)
    bad = ((sizes % np.uint64(ALIGNMENT)) != 0) | ((body & np.uint64(IS_MMAPPED)) != 0)
    if bad.any():
        k = int(np.nonzero(bad)[0][0])
        at = first + int(sizes[:k].sum())
        raise HeapError(f"{what}: the chunk at {at:#x} has a bad size field {int(body[k]):#x} "
                        "(a corrupted heap, or a thread in the middle of malloc)")
    return out, np.frombuffer(heads, dtype=np.uint64).reshape(-1, 2)


def _arena_heaps(mem: Memory, layout: Layout, arena: int, top: int,
                 regions: Sequence[Region]) -> list[tuple[int, int, int]]:
    """A thread arena's heaps, oldest first, as (heap_info address, first chunk, end)."""
    heaps = []
    h = top & ~(HEAP_MAX_SIZE - 1)
    while h:
        if len(heaps) > 1 << 16 or any(h == seen for seen, _f, _e in heaps):
            raise HeapError(f"arena {arena:#x}: its heaps' `prev` chain loops at {h:#x}")
        info = mem.words(h, 4)
        ar_ptr, prev, size = int(info[0]), int(info[1]), int(info[2])
        if ar_ptr != arena or not 0 < size <= HEAP_MAX_SIZE:
            raise HeapError(f"arena {arena:#x}: the heap at {h:#x} does not name it "
                            f"(ar_ptr {ar_ptr:#x}, size {size:#x})")
        heaps.append((h, h + layout.heap_info_size, h + size))
        h = prev
    heaps.reverse()
    h0, _first, end0 = heaps[0]
    if not h0 <= arena < end0:
        raise HeapError(f"arena {arena:#x} is not in its first heap at {h0:#x}")
    first = arena + layout.arena_size
    first += (-(first + 2 * WORD)) % ALIGNMENT
    heaps[0] = (h0, first, end0)
    return heaps


def _reserved(regions: Sequence[Region], start: int) -> tuple[int, int]:
    """The reservation a thread heap made: its mapping and the no-access one after it."""
    region = region_at(regions, start)
    end = region.end if region is not None else start + HEAP_MAX_SIZE
    for other in regions:
        if other.start == end and other.perms.startswith("---") and not other.path \
                and other.end <= start + HEAP_MAX_SIZE:
            end = other.end
    return start, end


def _walk_arenas(mem: Memory, inp: HeapInput, main: int, chunks: _Chunks) -> list[Arena]:
    layout, regions = inp.layout, inp.regions
    arenas: list[Arena] = []
    for index, address in enumerate(arena_ring(mem, layout, main)):
        state = mem.words(address, layout.arena_size // WORD)
        if not plausible_arena(state, layout):
            raise HeapError(f"the arena at {address:#x} does not look like a malloc_state")
        top, top_size, top_region = top_chunk(mem, layout, address, regions,
                                               address == main)
        locked = int(state[0]) & 0xFFFFFFFF != 0
        if address == main:
            start = (top_region.start + ALIGNMENT - 1) & ~(ALIGNMENT - 1)
            if inp.mp is not None:
                sbrk_base = mem.word(inp.mp + layout.mp_sbrk_base)
                if top_region.start <= sbrk_base <= top:
                    start = (sbrk_base + ALIGNMENT - 1) & ~(ALIGNMENT - 1)
            chunks.add(start, _walk_span(mem, start, top + top_size, top, "the main arena"),
                       index)
            spans = [(start, top + top_size)]
            reserved = [(top_region.start, top_region.end)]
        else:
            spans, reserved = [], []
            heaps = _arena_heaps(mem, layout, address, top, regions)
            for number, (h, first, end) in enumerate(heaps):
                last = number == len(heaps) - 1
                chunks.add(first, _walk_span(mem, first, end, top if last else None,
                                             f"arena {address:#x}, heap {h:#x}"), index)
                spans.append((first, end))
                reserved.append(_reserved(regions, h))
        arenas.append(Arena(address, address == main, spans, reserved, top, top_size,
                            int(state[layout.system_mem // WORD]), locked, state=state))
    return arenas


# The walk ----------------------------------------------------------------------------------


def walk_heap(mem: Memory, inp: HeapInput) -> Heap:
    """Every arena, heap and chunk of glibc's malloc at this stop."""
    layout = inp.layout
    notes: list[str] = []
    other = other_allocator(inp.regions)
    try:
        if inp.main_arena is not None:
            main, found_by = inp.main_arena, "symbols"
            if mem.word(main + layout.system_mem) == 0:
                raise HeapError("glibc's malloc has no heap yet (main_arena is untouched)")
        else:
            main, found_by = find_main_arena(mem, inp.regions, layout), "structure"
    except HeapError as exc:
        if other is None:
            raise
        raise HeapError(f"the program allocates with {other}: memheap reads glibc's malloc "
                        f"only ({exc})") from None
    if other is not None:
        notes.append(f"{other} is loaded too: the blocks it hands out are not in this heap")
    if inp.mp is None:
        _top, _size, top_region = top_chunk(mem, layout, main, inp.regions)
        if top_region.kind == "heap":
            inp = HeapInput(inp.regions, layout, inp.main_arena,
                            find_mp(mem, inp.regions, layout, top_region.start), inp.threads)
    chunks = _Chunks()
    arenas = _walk_arenas(mem, inp, main, chunks)
    n_mmaps = mmapped_mem = None
    if inp.mp is not None:
        n_mmaps = mem.word(inp.mp + layout.mp_n_mmaps) & 0xFFFFFFFF
        mmapped_mem = mem.word(inp.mp + layout.mp_mmapped_mem)
    taken = [span for arena in arenas for span in arena.reserved]
    found, scanned = find_mmapped(mem, inp.regions, taken, n_mmaps)
    if n_mmaps is not None and mmapped_mem is not None:
        found = reconcile(found, scanned, n_mmaps, mmapped_mem, notes)
    else:
        n_mmaps, mmapped_mem = len(found), sum(found.values())
        if scanned:
            notes.append(f"{len(scanned)} of the {len(found)} mmapped chunks were found inside "
                         "other anonymous memory, without mp_ to count them: some may only "
                         "look like chunks")
    addr, raw, arena_of, heads = chunks.arrays()
    if found:  # each its own span of one chunk: merged in address order
        mmapped = np.array(sorted(found), dtype=np.uint64)
        at = np.searchsorted(addr, mmapped)
        addr = np.insert(addr, at, mmapped)
        raw = np.insert(raw, at, np.array([found[c] | IS_MMAPPED for c in sorted(found)],
                                          dtype=np.uint64))
        arena_of = np.insert(arena_of, at, np.int16(MMAPPED_ARENA))
        heads = np.insert(heads, at, np.stack([mem.words(int(c) + 2 * WORD, 2)
                                               for c in mmapped]), axis=0)
    # A chunk is in use when the next one's PREV_INUSE bit says so (tcache and fastbin chunks
    # too: glibc keeps that bit set for them); the top chunk and mmapped ones stand apart.
    free = np.zeros(len(addr), dtype=bool)
    free[:-1] = (raw[1:] & np.uint64(PREV_INUSE)) == 0
    size = raw if raw.flags.writeable else raw.copy()
    size &= ~np.uint64(SIZE_BITS)  # in place: the flag bits are read
    free[:-1] &= (arena_of[:-1] == arena_of[1:]) & (arena_of[:-1] != MMAPPED_ARENA)
    free[:-1] &= addr[:-1] + size[:-1] == addr[1:]
    state = np.full(len(addr), IN_USE, dtype=np.uint8)
    tops = {arena.top for arena in arenas}
    is_top = np.isin(addr, np.array(sorted(tops), dtype=np.uint64))
    state[is_top] = TOP
    fenceposts = (size == np.uint64(2 * WORD)) & (arena_of != MMAPPED_ARENA)
    state[fenceposts] = MALLOC

    for index, arena in enumerate(arenas):
        mark_bins(mem, layout, arena, index, addr, size, state, arena_of, free)
        mark_fastbins(mem, layout, arena, index, addr, size, state, arena_of)
    unlisted = free & (state == IN_USE)
    if unlisted.any():
        at = int(addr[np.nonzero(unlisted)[0][0]])
        raise HeapError(f"the free chunk at {at:#x} is in no bin (a corrupted heap, or a "
                        "thread in the middle of malloc)")
    tcaches = find_tcaches(mem, inp, arenas, addr, size, state, arena_of)
    for tcache in tcaches:
        k = index_of(addr, tcache.address - 2 * WORD)
        if k is not None and arena_of[k] >= 0 and tcache.thread is not None:
            arenas[int(arena_of[k])].threads.append(tcache.thread)
    for arena in arenas:
        if arena.locked:
            notes.append(f"arena {arena.address:#x} is locked: a thread is inside malloc, "
                         "and what it changes may be half done")
    inside = [t for t in inp.threads
              if t.function is not None and t.function.replace("__GI_", "", 1) in MALLOC_FUNCTIONS]
    for thread in inside:
        notes.append(f"thread {thread.num} is stopped in {thread.function}: the heap may be "
                     "in the middle of a change")
    if not layout.tested:
        notes.append(f"glibc {layout.version[0]}.{layout.version[1]} is not among the "
                     "versions tested (2.36)")
    return Heap(layout, main, inp.mp, arenas, tcaches, addr, size, state, arena_of, heads,
                n_mmaps, mmapped_mem or 0, notes, found_by)
