"""malloc's free lists, each checked against the walk: the bins and fastbins of every arena,
and each thread's tcache (the struct its TLS points to, or each arena's first chunk). A list
that names a chunk the walk did not find, of another size, or twice, is a HeapError."""

from __future__ import annotations

import numpy as np

from gdbmem.errors import HeapError
from gdbmem.heap.chunks import (
    FASTBIN,
    IN_USE,
    LARGEBIN,
    MALLOC,
    PAGE,
    SMALLBIN,
    TCACHE,
    UNSORTED,
    Arena,
    HeapInput,
    Tcache,
)
from gdbmem.heap.find import region_at
from gdbmem.heap.layout import (
    ALIGNMENT,
    MINSIZE,
    NBINS,
    NFASTBINS,
    NSMALLBINS,
    TCACHE_BINS,
    WORD,
    Layout,
)
from gdbmem.heap.memory import Memory


def index_of(heap_addr: np.ndarray, address: int) -> int | None:
    """The index of the chunk at exactly `address` (a pointer read from memory: any
    number at all)."""
    if not 0 <= address < 1 << 64:
        return None
    i = int(np.searchsorted(heap_addr, np.uint64(address)))
    return i if i < len(heap_addr) and int(heap_addr[i]) == address else None


def mark_bins(mem: Memory, layout: Layout, arena: Arena, index: int, addr: np.ndarray,
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
            k = index_of(addr, at)
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


def mark_fastbins(mem: Memory, layout: Layout, arena: Arena, index: int, addr: np.ndarray,
                   size: np.ndarray, state: np.ndarray, arena_of: np.ndarray) -> None:
    words = arena.state if arena.state is not None else mem.words(
        arena.address, layout.arena_size // WORD)
    for i in range(NFASTBINS):
        at = int(words[layout.fastbins // WORD + i])
        want = MINSIZE + i * ALIGNMENT
        while at:
            k = index_of(addr, at)
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
            k = index_of(addr, at - 2 * WORD)
            if k is None or int(size[k]) != want or state[k] != IN_USE or left <= 0:
                return None
            out.append(k)
            left -= 1
            at = layout.reveal(at, mem.word(at))
        if left:
            return None
    return out


def find_tcaches(mem: Memory, inp: HeapInput, arenas: list[Arena], addr: np.ndarray,
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
        region = region_at(inp.regions, thread.fs_base - WORD)
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
            state[index_of(addr, value - 2 * WORD)] = MALLOC
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
