"""Chunks malloc mmapped on their own: no list of glibc's holds them, so they are found at
the start of anonymous mappings (at any page of them when mp_ counts more), and reconciled
with mp_'s count and bytes."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from gdbmem.heap.chunks import PAGE
from gdbmem.heap.find import readable_rw
from gdbmem.heap.layout import ALIGNMENT, IS_MMAPPED, SIZE_BITS, WORD
from gdbmem.heap.memory import WINDOW, Memory
from gdbmem.model import Region


def chunks_at(mem: Memory, start: int, end: int) -> list[tuple[int, int, int]]:
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


def find_mmapped(mem: Memory, regions: Sequence[Region], taken: list[tuple[int, int]],
                  expected: int | None) -> tuple[dict[int, int], set[int]]:
    """Chunks mmapped on their own, as {chunk address: size}: at the start of each anonymous
    read-write mapping that is no heap and no stack; at every page of them when that finds
    fewer than mp_ counts. And which were found inside a mapping (by the page scan)."""
    def free_of_heaps(region: Region) -> bool:
        return (not region.path and readable_rw(region)
                and region.kind not in ("stack", "thread-stack", "heap", "arena")
                and not any(s < region.end and region.start < e for s, e in taken))

    candidates = [r for r in regions if free_of_heaps(r)]
    found: dict[int, int] = {}
    for region in candidates:
        for chunk, size, _prev in chunks_at(mem, region.start, region.end):
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
                for chunk, size, _prev in chunks_at(mem, page, region.end):
                    found[chunk] = size
            at += len(words) * 8
    return found, set(found) - at_starts


def reconcile(found: dict[int, int], scanned: set[int], n_mmaps: int, mmapped_mem: int,
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
