"""memleak: which blocks of malloc's heap nothing points to, in valgrind's terms.

Roots are every thread's general-purpose registers, each stack from 128 bytes below its
stack pointer (the x86-64 red zone, as memcheck scans it) to the top of its mapping, and
every other readable and writable mapping that is not malloc's: its heaps, its mmapped
chunks and its own state (main_arena, mp_; the tcache structs live in the heaps) are left
out, because their pointers at free chunks would look like pointers into blocks in use.
Every aligned word is a candidate pointer. A word pointing at a block's first byte is a
start pointer; one pointing anywhere else inside its user data an interior pointer.

Then, as memcheck's mc_leakcheck.c does:
  still reachable  reached from the roots through start pointers only;
  possibly lost    reached from the roots, but only through a path with an interior pointer
                   (or through a possibly lost block);
  definitely lost  reached from no root, and not from another lost block (the first block,
                   in address order, of a group of lost blocks that reach one another);
  indirectly lost  reached from no root, only from other lost blocks.

gdbmem cannot know what memcheck knows from its shadow memory: which bytes were ever written
(a word never written that still holds an old pointer counts here as a pointer) and each
block's requested size (a pointer into the slack after it counts here as interior).
Both can only make a lost block look reached, never a reached one look lost. memcheck's
heuristics (on by default) take four kinds of interior pointer for start pointers: the old
std::string layout, a 64-bit length before the data, a new[] count, multiple inheritance.
Each test uses the block's requested size, which is not known here: such a block is
possibly lost here, still reachable "via heuristic" there.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from gdbmem.heap.chunks import IN_USE, Heap, HeapThread
from gdbmem.heap.memory import Memory
from gdbmem.model import Region

REACHABLE, POSSIBLE, INDIRECT, DEFINITE = range(4)
CATEGORIES = ("still_reachable", "possibly_lost", "indirectly_lost", "definitely_lost")
RED_ZONE = 128
_SMALL_FRONTIER = 2048  # below this, marking goes depth-first in Python
_DFS_BUDGET = 1 << 18   # steps before a depth-first run hands a large stack back to numpy
INDEX = np.int32  # a block's number: half the memory of int64 (2**31 blocks are 32 GiB)


@dataclass
class Blocks:
    """The blocks in use, in address order: their chunk indices and user data bounds."""

    chunk: np.ndarray
    start: np.ndarray
    end: np.ndarray

    @classmethod
    def of(cls, heap: Heap) -> Blocks:
        chunk = np.nonzero(heap.state == IN_USE)[0].astype(INDEX)
        start, end = heap.user_bounds(chunk)
        return cls(chunk, start, end)

    def lookup(self, values: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """For each value: whether it points into a block, which one, and whether at its
        start."""
        if not len(self.start):
            empty = np.zeros(len(values), dtype=bool)
            return empty, np.zeros(len(values), dtype=INDEX), empty
        i = np.searchsorted(self.start, values, "right").astype(INDEX) - 1
        clipped = np.maximum(i, 0)
        inside = (i >= 0) & (values < self.end[clipped])
        return inside, clipped, inside & (values == self.start[clipped])


def root_ranges(heap: Heap, regions: Sequence[Region],
                threads: Sequence[HeapThread]) -> list[tuple[int, int]]:
    """The memory memleak scans for pointers, as [start, end) ranges."""
    excluded = heap.segments()
    excluded.append((heap.main_arena, heap.main_arena + heap.layout.arena_size))
    if heap.mp is not None:
        excluded.append((heap.mp, heap.mp + heap.layout.mp_size))
    excluded.sort()
    sps = [t.sp for t in threads if t.sp is not None]
    out = []
    for region in regions:
        if not region.perms.startswith("rw"):
            continue
        if region.path.startswith("/dev/") and not region.path.startswith("/dev/zero"):
            continue  # a device's memory: reading it may hang or change it
        start = region.start
        for sp in sps:
            if region.start <= sp < region.end:
                start = max(region.start, sp - RED_ZONE)
        out += _minus(start, region.end, excluded)
    return out


def _minus(start: int, end: int, excluded: list[tuple[int, int]]) -> list[tuple[int, int]]:
    out = []
    at = start
    for lo, hi in excluded:
        if hi <= at or lo >= end:
            continue
        if lo > at:
            out.append((at, lo))
        at = max(at, hi)
    if at < end:
        out.append((at, end))
    return out


def _pointers(mem: Memory, blocks: Blocks, start: int, end: int, lo: int, hi: int):
    """(word address, target block, start pointer?) for each word of [start, end) that
    points into a block; unreadable pages are passed over."""
    at = start
    while at < end:
        words = mem.window(at, end - at)
        if not len(words):
            at = (at + 4096) & ~4095  # an unreadable page
            continue
        candidates = np.nonzero((words >= np.uint64(lo)) & (words < np.uint64(hi)))[0]
        if len(candidates):
            inside, target, is_start = blocks.lookup(words[candidates])
            yield (np.uint64(at) + candidates[inside].astype(np.uint64) * np.uint64(8),
                   target[inside], is_start[inside])
        at += len(words) * 8


@dataclass
class Graph:
    """Who points to whom: each block's outgoing pointers, start pointers marked."""

    indptr: np.ndarray
    source: np.ndarray  # each edge's block, in order
    target: np.ndarray
    is_start: np.ndarray


def block_graph(mem: Memory, heap: Heap, blocks: Blocks) -> Graph:
    n = len(blocks.start)
    sources, targets, starts = [], [], []
    if n:
        lo, hi = int(blocks.start[0]), int(blocks.end.max())
        spans = [span for arena in heap.arenas for span in arena.heaps]
        spans += [(int(blocks.start[i]), int(blocks.end[i]))
                  for i in np.nonzero(heap.arena[blocks.chunk] < 0)[0]]
        for span_start, span_end in sorted(spans):
            for where, target, is_start in _pointers(mem, blocks, span_start, span_end,
                                                     lo, hi):
                if not len(where):
                    continue
                # Which block holds each word: searched among the blocks of this stretch of
                # memory only, not all of them.
                first = int(np.searchsorted(blocks.start, where[0], "right")) - 1
                last = int(np.searchsorted(blocks.start, where[-1], "right"))
                first = max(first, 0)
                local = Blocks(blocks.chunk[first:last], blocks.start[first:last],
                               blocks.end[first:last])
                inside, source, _at_start = local.lookup(where)
                source += first
                sources.append(source[inside])
                targets.append(target[inside])
                starts.append(is_start[inside])
    source = np.concatenate(sources) if sources else np.zeros(0, dtype=INDEX)
    target = np.concatenate(targets) if targets else np.zeros(0, dtype=INDEX)
    is_start = np.concatenate(starts) if starts else np.zeros(0, dtype=bool)
    if len(source) > 1 and (source[1:] < source[:-1]).any():  # spans overlap: never yet
        order = np.argsort(source, kind="stable")
        source, target, is_start = source[order], target[order], is_start[order]
    indptr = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(np.bincount(source, minlength=n), out=indptr[1:])
    return Graph(indptr, source, target, is_start)


def _fresh(mark: np.ndarray, reached: np.ndarray) -> np.ndarray:
    """The blocks of `reached` not marked yet, each once (a mask, not a sort: a million
    targets cost a pass over the marks)."""
    if len(reached) < 4096:
        return np.unique(reached[~mark[reached]])
    new = np.zeros(len(mark), dtype=bool)
    new[reached] = True
    new &= ~mark
    return np.nonzero(new)[0]


def _closure(mark: np.ndarray, seeds: np.ndarray, indptr: np.ndarray,
             target: np.ndarray) -> None:
    """Mark everything reachable from `seeds` along the edges (indptr, target): level by
    level in numpy while the frontier is wide, depth-first in Python while it is narrow (a
    long list would take a numpy round per node), following a chain of single pointers
    without the stack."""
    frontier = _fresh(mark, seeds) if len(seeds) else seeds
    mark[frontier] = True
    ip = memoryview(indptr)
    tg = memoryview(target)
    mk = memoryview(mark.view(np.uint8))
    while len(frontier):
        if len(frontier) < _SMALL_FRONTIER:
            stack = frontier.tolist()
            steps = 0
            while stack and steps < _DFS_BUDGET and len(stack) < 4 * _SMALL_FRONTIER:
                b = stack.pop()
                while True:
                    first, last = ip[b], ip[b + 1]
                    steps += 1
                    if last - first == 1:  # one pointer out: follow it
                        t = tg[first]
                        if mk[t]:
                            break
                        mk[t] = 1
                        b = t
                        continue
                    for e in range(first, last):
                        t = tg[e]
                        if not mk[t]:
                            mk[t] = 1
                            stack.append(t)
                    break
            frontier = np.array(stack, dtype=INDEX)
            continue
        first, last = indptr[frontier], indptr[frontier + 1]
        counts = last - first
        total = int(counts.sum())
        if not total:
            break
        offsets = np.repeat(first - np.cumsum(counts) + counts, counts) + np.arange(total)
        frontier = _fresh(mark, target[offsets])
        mark[frontier] = True


def _only(graph: Graph, keep: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The graph with only the edges `keep` selects, as (indptr, target)."""
    n = len(graph.indptr) - 1
    indptr = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(np.bincount(graph.source[keep], minlength=n), out=indptr[1:])
    return indptr, graph.target[keep]


def classify(n: int, graph: Graph, root_target: np.ndarray,
             root_start: np.ndarray) -> np.ndarray:
    """Each block's category (REACHABLE, POSSIBLE, INDIRECT, DEFINITE)."""
    reach = np.zeros(n, dtype=bool)
    start_indptr, start_target = _only(graph, graph.is_start)
    _closure(reach, root_target[root_start], start_indptr, start_target)
    from_reached = graph.target[reach[graph.source]]
    possible = reach.copy()
    _closure(possible, np.concatenate((root_target, from_reached)), graph.indptr,
             graph.target)
    category = np.full(n, DEFINITE, dtype=np.uint8)
    category[possible] = POSSIBLE
    category[reach] = REACHABLE
    _cliques(category, graph)
    return category


def _cliques(category: np.ndarray, graph: Graph) -> None:
    """memcheck's cliques: each unreached block, in address order, that no earlier one
    reached leads one; whatever unreached it reaches (a former leader too) is indirectly
    lost."""
    ip = memoryview(graph.indptr)
    tg = memoryview(graph.target)
    cat = memoryview(category)
    for leader in np.nonzero(category == DEFINITE)[0].tolist():
        if cat[leader] != DEFINITE:
            continue
        stack = [leader]
        while stack:
            b = stack.pop()
            for e in range(ip[b], ip[b + 1]):
                t = tg[e]
                if t != leader and cat[t] == DEFINITE:
                    cat[t] = INDIRECT
                    stack.append(t)


@dataclass
class Leaks:
    blocks: Blocks
    category: np.ndarray  # per block
    sizes: np.ndarray     # per block: its chunk's size

    def totals(self) -> dict[str, dict[str, int]]:
        out = {}
        for code, name in enumerate(CATEGORIES):
            mine = self.category == code
            out[name] = {"blocks": int(mine.sum()), "bytes": int(self.sizes[mine].sum())}
        return out


def leak_check(mem: Memory, heap: Heap, regions: Sequence[Region],
               threads: Sequence[HeapThread]) -> Leaks:
    blocks = Blocks.of(heap)
    n = len(blocks.start)
    graph = block_graph(mem, heap, blocks)
    root_targets, root_starts = [], []
    if n:
        lo, hi = int(blocks.start[0]), int(blocks.end.max())
        for start, end in root_ranges(heap, regions, threads):
            for _where, target, is_start in _pointers(mem, blocks, start, end, lo, hi):
                root_targets.append(target)
                root_starts.append(is_start)
        registers = np.array([v for t in threads for v in t.registers], dtype=np.uint64)
        inside, target, is_start = blocks.lookup(registers)
        root_targets.append(target[inside])
        root_starts.append(is_start[inside])
    root_target = (np.concatenate(root_targets) if root_targets
                   else np.zeros(0, dtype=INDEX))
    root_start = np.concatenate(root_starts) if root_starts else np.zeros(0, dtype=bool)
    category = classify(n, graph, root_target, root_start)
    return Leaks(blocks, category, heap.size[blocks.chunk])
