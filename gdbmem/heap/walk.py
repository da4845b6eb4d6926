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
from dataclasses import dataclass, field
from typing import NamedTuple

import numpy as np

from gdbmem.errors import HeapError
from gdbmem.heap.layout import (
    ALIGNMENT,
    IS_MMAPPED,
    MINSIZE,
    NBINS,
    NFASTBINS,
    NSMALLBINS,
    PREV_INUSE,
    SIZE_BITS,
    TCACHE_BINS,
    WORD,
    Layout,
)
from gdbmem.heap.memory import WINDOW, Memory
from gdbmem.kinds import HEAP_MAX_SIZE
from gdbmem.model import Region

PAGE = 4096

# Where a chunk is (Heap.state): in use by the program, or free and where, or malloc's own.
IN_USE, TCACHE, FASTBIN, UNSORTED, SMALLBIN, LARGEBIN, TOP, MALLOC = range(8)
STATE_NAMES = ("in use", "tcache", "fastbin", "unsorted", "small bin", "large bin", "top",
               "malloc's own")
MMAPPED_ARENA = -1  # Heap.arena of a chunk mmapped on its own

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


class HeapThread(NamedTuple):
    """What the walk and the leak check need of one thread."""

    num: int
    lwp: int
    fs_base: int | None   # the thread pointer: its TLS (and glibc's `tcache`) is below it
    sp: int | None
    registers: tuple[int, ...]  # general-purpose registers' values (memleak's roots)
    function: str | None  # the function its newest frame is in, when named


@dataclass
class Arena:
    address: int
    main: bool
    heaps: list[tuple[int, int]]  # [start, end) of each heap's readable chunks
    reserved: list[tuple[int, int]]  # what each heap reserves (a thread heap: 64 MiB)
    top: int
    top_size: int
    system_mem: int
    locked: bool
    fast_chunks: int = 0
    fast_bytes: int = 0
    bin_chunks: int = 0  # ordblks's part: free chunks in the regular bins
    bin_bytes: int = 0
    threads: list[int] = field(default_factory=list)  # gdb threads whose tcache is here
    state: np.ndarray | None = None  # its malloc_state's words, as read once


@dataclass
class Tcache:
    thread: int | None  # gdb's thread number, None when found without its TLS
    address: int        # the struct's own address (a chunk's user address)
    chunks: int
    bytes: int


@dataclass
class Heap:
    layout: Layout
    main_arena: int
    mp: int | None
    arenas: list[Arena]
    tcaches: list[Tcache]
    addr: np.ndarray   # each chunk's header address, sorted (uint64)
    size: np.ndarray   # its size without the flag bits (uint64)
    state: np.ndarray  # IN_USE ... MALLOC (uint8)
    arena: np.ndarray  # index into arenas, MMAPPED_ARENA for mmapped chunks (int16)
    heads: np.ndarray  # the first two words of each chunk's user data (n x 2, uint64; zeros
    #                    where the walk's window ended before them)
    n_mmaps: int
    mmapped_mem: int
    notes: list[str]
    found_by: str  # "symbols" or "structure"

    def user_bounds(self, chosen: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """[start, end) of the chosen chunks' user data: an arena chunk's runs into the next
        chunk's prev_size field; an mmapped chunk's ends with its mapping."""
        addr = self.addr[chosen]
        start = addr + np.uint64(2 * WORD)
        end = addr + self.size[chosen]
        end[self.arena[chosen] != MMAPPED_ARENA] += np.uint64(WORD)
        return start, end

    def chunk_at(self, address: int) -> int | None:
        """The index of the chunk whose header or user data holds `address`."""
        i = int(np.searchsorted(self.addr, np.uint64(address), "right")) - 1
        if i < 0:
            return None
        _start, end = self.user_bounds_of(i)
        return i if address < end else None

    def user_bounds_of(self, i: int) -> tuple[int, int]:
        addr, size = int(self.addr[i]), int(self.size[i])
        end = addr + size + (0 if self.arena[i] == MMAPPED_ARENA else WORD)
        return addr + 2 * WORD, end

    def segments(self) -> list[tuple[int, int]]:
        """What malloc's chunks occupy: each heap's reservation, each mmapped chunk."""
        out = [span for arena in self.arenas for span in arena.reserved]
        mmapped = np.nonzero(self.arena == MMAPPED_ARENA)[0]
        out += [(int(self.addr[i]), int(self.addr[i] + self.size[i])) for i in mmapped]
        return sorted(out)

    def mallinfo2(self) -> dict[str, int]:
        """What glibc's mallinfo2() returns at this stop (malloc.c's int_mallinfo, summed
        over the arenas): tcache chunks count as in use, as they do for glibc."""
        info = dict.fromkeys(("arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks",
                              "fsmblks", "uordblks", "fordblks", "keepcost"), 0)
        for arena in self.arenas:
            avail = arena.top_size + arena.fast_bytes + arena.bin_bytes
            info["ordblks"] += 1 + arena.bin_chunks
            info["smblks"] += arena.fast_chunks
            info["fsmblks"] += arena.fast_bytes
            info["fordblks"] += avail
            info["uordblks"] += arena.system_mem - avail
            info["arena"] += arena.system_mem
            if arena.main:
                info["keepcost"] = arena.top_size
        info["hblks"] = self.n_mmaps
        info["hblkhd"] = self.mmapped_mem
        return info


@dataclass
class HeapInput:
    """What the target knows that the walk needs."""

    regions: Sequence[Region]  # classified
    layout: Layout
    main_arena: int | None = None  # from libc's symbols
    mp: int | None = None
    threads: Sequence[HeapThread] = ()


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


def _region_at(regions: Sequence[Region], address: int) -> Region | None:
    for region in regions:
        if region.start <= address < region.end:
            return region
    return None


def _readable_rw(region: Region) -> bool:
    return region.perms.startswith("rw")


# Finding main_arena ------------------------------------------------------------------------


def _libc_data(regions: Sequence[Region]) -> list[Region]:
    """libc's writable data, and the anonymous .bss right after it."""
    out: list[Region] = []
    for i, region in enumerate(regions):
        name = region.path.rsplit("/", 1)[-1]
        if name.startswith("libc.so") or (name.startswith("libc-") and ".so" in name):
            if _readable_rw(region):
                out.append(region)
                after = regions[i + 1] if i + 1 < len(regions) else None
                if (after is not None and not after.path and after.start == region.end
                        and _readable_rw(after)):
                    out.append(after)
    return out


def _arena_ring(mem: Memory, layout: Layout, main: int) -> list[int]:
    """main_arena's `next` ring, main first; HeapError if it does not come back."""
    ring = [main]
    at = mem.word(main + layout.next)
    while at != main:
        if at == 0 or at % ALIGNMENT or len(ring) > 4096 or at in ring:
            raise HeapError(f"the arenas' `next` ring from {main:#x} is broken at {at:#x}")
        ring.append(at)
        at = mem.word(at + layout.next)
    return ring


def _plausible_arena(words: np.ndarray, layout: Layout) -> bool:
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
    data = _libc_data(regions)
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
            if address % ALIGNMENT or not _plausible_arena(words[k:k + n], layout):
                continue
            try:
                _arena_ring(mem, layout, address)
                _top_chunk(mem, layout, address, regions)
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
    for region in _libc_data(regions):
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


def _top_chunk(mem: Memory, layout: Layout, arena: int, regions: Sequence[Region],
               main: bool = True) -> tuple[int, int, Region]:
    """The arena's top chunk: it must end main's heap (the program break, where [heap]
    ends) or a thread arena's newest heap (where its heap_info's size says)."""
    top = mem.word(arena + layout.top)
    region = _region_at(regions, top)
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
    region = _region_at(regions, start)
    end = region.end if region is not None else start + HEAP_MAX_SIZE
    for other in regions:
        if other.start == end and other.perms.startswith("---") and not other.path \
                and other.end <= start + HEAP_MAX_SIZE:
            end = other.end
    return start, end


def _walk_arenas(mem: Memory, inp: HeapInput, main: int, chunks: _Chunks) -> list[Arena]:
    layout, regions = inp.layout, inp.regions
    arenas: list[Arena] = []
    for index, address in enumerate(_arena_ring(mem, layout, main)):
        state = mem.words(address, layout.arena_size // WORD)
        if not _plausible_arena(state, layout):
            raise HeapError(f"the arena at {address:#x} does not look like a malloc_state")
        top, top_size, top_region = _top_chunk(mem, layout, address, regions,
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


def _mmapped_at(mem: Memory, start: int, end: int) -> list[tuple[int, int, int]]:
    """Chunks mmapped on their own that begin at `start`, one after another: (chunk, size
    with the alignment correction, correction)."""
    out = []
    at = start
    while at + 2 * WORD <= end:
        head = mem.read(at, 2 * WORD)
        if head is None:
            break
        prev = int.from_bytes(head[:8], "little")
        raw = int.from_bytes(head[8:], "little")
        size = raw & ~SIZE_BITS
        if (raw & SIZE_BITS) != IS_MMAPPED or prev % ALIGNMENT or prev >= PAGE \
                or (size + prev) % PAGE or size < PAGE or at + size > end:
            break
        out.append((at + prev, size, prev))
        at += size
    return out


def _find_mmapped(mem: Memory, regions: Sequence[Region], taken: list[tuple[int, int]],
                  expected: int | None) -> tuple[dict[int, int], set[int]]:
    """Chunks mmapped on their own, as {chunk address: size}: at the start of each anonymous
    read-write mapping that is no heap and no stack; at every page of them when that finds
    fewer than mp_ counts. And which were found inside a mapping (by the page scan)."""
    def free_of_heaps(region: Region) -> bool:
        return (not region.path and _readable_rw(region)
                and region.kind not in ("stack", "thread-stack", "heap", "arena")
                and not any(s < region.end and region.start < e for s, e in taken))

    candidates = [r for r in regions if free_of_heaps(r)]
    found: dict[int, int] = {}
    for region in candidates:
        for chunk, size, _prev in _mmapped_at(mem, region.start, region.end):
            found[chunk] = size
    at_starts = set(found)
    if expected is not None and len(found) >= expected:
        return found, set()
    for region in candidates:  # a chunk may sit after other memory in a merged mapping
        at = region.start
        while at < region.end:
            covered = next((c + s for c, s in found.items() if c <= at < c + s), None)
            if covered is not None:
                at = (covered + PAGE - 1) & ~(PAGE - 1)
                continue
            words = mem.window(at, min(region.end - at, WINDOW))
            if not len(words):
                break
            heads = words[: len(words) // 512 * 512].reshape(-1, 512)[:, 1]
            for k in np.nonzero((heads & np.uint64(SIZE_BITS)) == IS_MMAPPED)[0]:
                page = at + int(k) * PAGE
                if any(c <= page < c + s for c, s in found.items()):
                    continue
                for chunk, size, _prev in _mmapped_at(mem, page, region.end):
                    found[chunk] = size
            at += len(words) * 8
    return found, set(found) - at_starts


def _reconcile(found: dict[int, int], scanned: set[int], n_mmaps: int, mmapped_mem: int,
               notes: list[str]) -> dict[int, int]:
    """Keep what mp_ counts. A page inside some other anonymous memory can look like a
    chunk's header; when dropping one to three of those found by the page scan (never one at
    a mapping's start) leaves mp_'s count and bytes exactly, and only one such choice does,
    they go; else the figures say that they may hold lookalikes."""
    from itertools import combinations

    extra = len(found) - n_mmaps
    total = sum(found.values())
    if extra == 0 and total == mmapped_mem:
        return found
    if 0 < extra <= 3:
        fits = [drop for drop in combinations(sorted(scanned), extra)
                if total - sum(found[c] for c in drop) == mmapped_mem]
        if len(fits) == 1:
            return {c: size for c, size in found.items() if c not in fits[0]}
    notes.append(f"mp_ counts {n_mmaps} mmapped chunks of {mmapped_mem} bytes; {len(found)} "
                 f"of {total} bytes were found: some may be memory that only looks like one")
    return found


# Free lists --------------------------------------------------------------------------------


def _index_of(heap_addr: np.ndarray, address: int) -> int | None:
    """The index of the chunk at exactly `address` (a pointer read from memory: any
    number at all)."""
    if not 0 <= address < 1 << 64:
        return None
    i = int(np.searchsorted(heap_addr, np.uint64(address)))
    return i if i < len(heap_addr) and int(heap_addr[i]) == address else None


def _mark_bins(mem: Memory, layout: Layout, arena: Arena, index: int, addr: np.ndarray,
               size: np.ndarray, state: np.ndarray, arena_of: np.ndarray,
               free: np.ndarray) -> None:
    limit = len(addr)
    words = arena.state if arena.state is not None else mem.words(
        arena.address, layout.arena_size // WORD)
    for i in range(1, NBINS):
        head = layout.bin_at(arena.address, i)
        where = UNSORTED if i == 1 else SMALLBIN if i < NSMALLBINS else LARGEBIN
        at = int(words[(head + 2 * WORD - arena.address) // WORD])  # its fd, as read
        steps = 0
        while at != head:
            k = _index_of(addr, at)
            if k is None or arena_of[k] != index or not free[k]:
                raise HeapError(f"arena {arena.address:#x}: bin {i} lists {at:#x}, which is "
                                "no free chunk of that arena (a corrupted heap, or a thread "
                                "in the middle of malloc)")
            if state[k] == where:
                raise HeapError(f"arena {arena.address:#x}: bin {i} loops at {at:#x}")
            state[k] = where
            arena.bin_chunks += 1
            arena.bin_bytes += int(size[k])
            steps += 1
            if steps > limit:
                raise HeapError(f"arena {arena.address:#x}: bin {i} is longer than the heap")
            at = mem.word(at + 2 * WORD)


def _mark_fastbins(mem: Memory, layout: Layout, arena: Arena, index: int, addr: np.ndarray,
                   size: np.ndarray, state: np.ndarray, arena_of: np.ndarray) -> None:
    words = arena.state if arena.state is not None else mem.words(
        arena.address, layout.arena_size // WORD)
    for i in range(NFASTBINS):
        at = int(words[layout.fastbins // WORD + i])
        want = MINSIZE + i * ALIGNMENT
        while at:
            k = _index_of(addr, at)
            if k is None or arena_of[k] != index or int(size[k]) != want \
                    or state[k] != IN_USE:
                raise HeapError(f"arena {arena.address:#x}: fastbin {i} lists {at:#x}, "
                                f"which is no {want}-byte chunk of that arena")
            state[k] = FASTBIN
            arena.fast_chunks += 1
            arena.fast_bytes += want
            at = layout.reveal(at + 2 * WORD, mem.word(at + 2 * WORD))


def _tcache_chains(mem: Memory, layout: Layout, struct_address: int, addr: np.ndarray,
                   size: np.ndarray, state: np.ndarray) -> list[int] | None:
    """The chunk indices a tcache_perthread_struct lists, or None when it is not one."""
    data = mem.read(struct_address, layout.tcache_size)
    if data is None:
        return None
    counts = np.frombuffer(data[: TCACHE_BINS * 2], dtype=np.uint16)
    entries = np.frombuffer(data[TCACHE_BINS * 2:], dtype=np.uint64)
    out: list[int] = []
    for i in range(TCACHE_BINS):
        at, left = int(entries[i]), int(counts[i])
        want = MINSIZE + i * ALIGNMENT
        while at:
            k = _index_of(addr, at - 2 * WORD)
            if k is None or int(size[k]) != want or state[k] != IN_USE or left <= 0:
                return None
            out.append(k)
            left -= 1
            at = layout.reveal(at, mem.word(at))
        if left:
            return None
    return out


def _find_tcaches(mem: Memory, inp: HeapInput, arenas: list[Arena], addr: np.ndarray,
                  size: np.ndarray, state: np.ndarray, arena_of: np.ndarray) -> list[Tcache]:
    """Each thread's tcache: the tcache-sized chunk in use whose address its TLS holds (the
    `tcache` variable sits in libc's static TLS, below the thread pointer)."""
    layout = inp.layout
    chunk_size = layout.tcache_size + 2 * WORD
    chunk_size += (-chunk_size) % ALIGNMENT
    sized = np.nonzero((size == np.uint64(chunk_size)) & (state == IN_USE))[0]
    user = set((addr[sized] + np.uint64(2 * WORD)).tolist())
    tcaches: list[Tcache] = []
    claimed: set[int] = set()
    for thread in inp.threads:
        if thread.fs_base is None or not user:
            continue
        # The static TLS blocks lie just below the thread pointer, within its mapping
        # (which may begin less than a page below it).
        region = _region_at(inp.regions, thread.fs_base - WORD)
        low = max(thread.fs_base - PAGE, region.start if region is not None else 0)
        low += (-low) % WORD
        tls = mem.read(low, thread.fs_base - low) if thread.fs_base > low else None
        if tls is None:
            continue
        words = np.frombuffer(tls, dtype=np.uint64)
        for value in {int(v) for v in words if int(v) in user}:
            if value in claimed:
                continue
            chains = _tcache_chains(mem, layout, value, addr, size, state)
            if chains is None:
                continue
            claimed.add(value)
            state[chains] = TCACHE
            state[_index_of(addr, value - 2 * WORD)] = MALLOC
            tcaches.append(Tcache(thread.num, value, len(chains),
                                  int(size[chains].sum()) if chains else 0))
            break
    # Each arena's first chunk is where tcache_init put the struct of the first thread that
    # used it: one no TLS named (no thread pointer to read at a breakpoint's hit, or its
    # thread gone) counts as a tcache when it checks out.
    for index in range(len(arenas)):
        first = np.nonzero(arena_of == index)[0]
        if not len(first):
            continue
        k = int(first[0])
        if int(size[k]) == chunk_size and state[k] == IN_USE:
            chains = _tcache_chains(mem, layout, int(addr[k]) + 2 * WORD, addr, size, state)
            if chains is not None:
                state[chains] = TCACHE
                state[k] = MALLOC
                tcaches.append(Tcache(None, int(addr[k]) + 2 * WORD, len(chains),
                                      int(size[chains].sum()) if chains else 0))
    return tcaches


# The walk ----------------------------------------------------------------------------------


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
        _top, _size, top_region = _top_chunk(mem, layout, main, inp.regions)
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
    found, scanned = _find_mmapped(mem, inp.regions, taken, n_mmaps)
    if n_mmaps is not None and mmapped_mem is not None:
        found = _reconcile(found, scanned, n_mmaps, mmapped_mem, notes)
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
        _mark_bins(mem, layout, arena, index, addr, size, state, arena_of, free)
        _mark_fastbins(mem, layout, arena, index, addr, size, state, arena_of)
    unlisted = free & (state == IN_USE)
    if unlisted.any():
        at = int(addr[np.nonzero(unlisted)[0][0]])
        raise HeapError(f"the free chunk at {at:#x} is in no bin (a corrupted heap, or a "
                        "thread in the middle of malloc)")
    tcaches = _find_tcaches(mem, inp, arenas, addr, size, state, arena_of)
    for tcache in tcaches:
        k = _index_of(addr, tcache.address - 2 * WORD)
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
