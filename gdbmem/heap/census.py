"""What malloc's heap holds: chunks in use by arena, by size and by type.

A block's type is what its first words say: the C++ class whose vtable the first word points
to, another symbol it points to (or the second word: a CPython object's type), text, zeros
(the whole block), else unknown. Each distinct pointer is named once, by the target's
`name_of(address)` (gdb's `info symbol`), and only pointers into file-backed mappings are
asked about.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

import numpy as np

from gdbmem.heap.chunks import (
    FASTBIN,
    IN_USE,
    LARGEBIN,
    MMAPPED_ARENA,
    SMALLBIN,
    TCACHE,
    TOP,
    UNSORTED,
    Heap,
)
from gdbmem.heap.layout import ALIGNMENT, WORD
from gdbmem.heap.memory import WINDOW, Memory
from gdbmem.model import Region

# What gdb names an address: (symbol, section), like ("vtable for Alpha + 16", ".data.rel.ro").
NameOf = Callable[[int], "tuple[str, str] | None"]
UNKNOWN, ZEROS, TEXT = "unknown", "zeros", "text"
_VTABLE_RE = re.compile(r"vtable for (.+?)(?: \+ \d+)?$")
_SYMBOL_RE = re.compile(r"(.+?)(?: \+ (\d+))?$")
_PRINTABLE = np.zeros(256, dtype=bool)
_PRINTABLE[0x20:0x7F] = True
_PRINTABLE[[9, 10, 13]] = True


@dataclass
class Group:
    key: str | int
    chunks: int
    bytes: int

    def as_json(self, name: str) -> dict:
        return {name: self.key, "chunks": self.chunks, "bytes": self.bytes}


def chunk_windows(mem: Memory, heap: Heap, chosen: np.ndarray,
                  need: int) -> Iterator[tuple[int, np.ndarray, np.ndarray]]:
    """(base, words, indices): windows of memory holding the first `need` bytes of user
    data of each chosen chunk (indices into the heap's arrays, in address order), each
    chunk in exactly one window."""
    starts = heap.addr[chosen] + np.uint64(2 * WORD)
    k = 0
    while k < len(chosen):
        base = int(starts[k])
        words = mem.window(base, WINDOW)
        end = base + len(words) * 8
        last = int(np.searchsorted(starts, np.uint64(end - need), "right"))
        if last <= k:  # not even `need` bytes readable at this block
            words = np.zeros(need // 8, dtype=np.uint64)
            last = k + 1
        yield base, words, chosen[k:last]
        k = last


def _text(head: np.ndarray) -> np.ndarray:
    """Whether each block's first 8 bytes are text: all printable, or 4 or more printable
    bytes and then a NUL."""
    raw = np.ascontiguousarray(head).view(np.uint8).reshape(-1, 8)
    printable = _PRINTABLE[raw]
    prefix = np.argmin(printable, axis=1)  # the first byte that is not printable
    whole = printable.all(axis=1)
    ends_in_nul = raw[np.arange(len(raw)), prefix] == 0
    return whole | ((prefix >= 4) & ends_in_nul)


def block_heads(mem: Memory, heap: Heap, chosen: np.ndarray
                ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Each chosen block's first and second words (from the walk), and whether the whole
    block is zeros (read again, only for the blocks that begin with two zero words)."""
    first = heap.heads[chosen, 0]
    second = heap.heads[chosen, 1]
    zeros = np.zeros(len(chosen), dtype=bool)
    maybe = np.nonzero((first == 0) & (second == 0))[0]
    if not len(maybe):
        return first, second, zeros
    done = 0
    suspects = chosen[maybe]
    for base, words, part in chunk_windows(mem, heap, suspects, 16):
        start, end = heap.user_bounds(part)
        lo = ((start - np.uint64(base)) // np.uint64(8)).astype(np.int64)
        hi = ((end - np.uint64(base)) // np.uint64(8)).astype(np.int64)
        n = len(part)
        first[maybe[done:done + n]] = words[np.minimum(lo, max(len(words) - 1, 0))] \
            if len(words) else 0
        second[maybe[done:done + n]] = words[np.minimum(lo + 1, max(len(words) - 1, 0))] \
            if len(words) else 0
        inside = hi <= len(words)
        nonzero = np.concatenate(([0], np.cumsum(words != 0)))
        counts = nonzero[np.minimum(hi, len(words))] - nonzero[np.minimum(lo, len(words))]
        found = (counts == 0) & inside
        for j in np.nonzero(~inside)[0]:  # a block larger than the window: read it on
            found[j] = counts[j] == 0 and _zero_beyond(mem, base + len(words) * 8,
                                                       int(end[j]))
        zeros[maybe[done:done + n]] = found
        done += n
    return first, second, zeros


def _zero_beyond(mem: Memory, start: int, end: int) -> bool:
    try:
        return all(not words.any() for _at, words in mem.windows(start, end))
    except Exception:  # unreadable: not known to be zeros
        return False


def _file_backed(regions: list[Region]) -> tuple[np.ndarray, np.ndarray]:
    return _spans([r for r in regions if r.path and not r.path.startswith("[")])


def _spans(regions: list[Region]) -> tuple[np.ndarray, np.ndarray]:
    spans = sorted((r.start, r.end) for r in regions)
    return (np.array([s for s, _e in spans], dtype=np.uint64),
            np.array([e for _s, e in spans], dtype=np.uint64))


def _in_spans(values: np.ndarray, spans: tuple[np.ndarray, np.ndarray]) -> np.ndarray:
    starts, ends = spans
    out = np.zeros(len(values), dtype=bool)
    if not len(starts):
        return out
    near = np.nonzero((values >= starts[0]) & (values < ends.max()))[0]
    i = np.searchsorted(starts, values[near], "right") - 1
    out[near] = (i >= 0) & (values[near] < ends[np.maximum(i, 0)])
    return out


def type_name(symbol: str, second: bool, section: str = ".data") -> str | None:
    """A type from the symbol a block's word points to: a vtable's class, else the
    symbol itself; the second word's only when it is data (a CPython object's type), marked
    as such."""
    if second and section.startswith(".text"):
        return None
    m = _VTABLE_RE.match(symbol)
    if m and not second:
        return m.group(1)
    m = _SYMBOL_RE.match(symbol)
    if m is None or (m.group(2) and not second):
        return None
    name = m.group(1)
    return f"-> {name} (+8)" if second else f"-> {name}"


@dataclass
class Types:
    """Each block's type as a code into `names` (0 unknown, 1 zeros, 2 text, then the types
    symbols gave): a million blocks' types sort and count as numbers."""

    codes: np.ndarray
    names: list[str]

    def name(self, j: int) -> str:
        return self.names[int(self.codes[j])]

    def of(self, name: str) -> np.ndarray:
        """A mask of the blocks of type `name`."""
        if name not in self.names:
            return np.zeros(len(self.codes), dtype=bool)
        return self.codes == self.names.index(name)


_SLICE = 1 << 16  # blocks typed at a time: the temporaries stay small, and are reused


def block_types(mem: Memory, heap: Heap, chosen: np.ndarray, regions: list[Region],
                name_of: NameOf) -> Types:
    """The type of each chosen block, a slice of blocks at a time (a fresh array of ten
    million words costs more in page faults than the work done on it)."""
    index = {name: code for code, name in enumerate((UNKNOWN, ZEROS, TEXT))}
    spans = _file_backed(regions)
    mapped = _spans(regions)
    named: dict[tuple[int, bool], int] = {}
    codes = np.zeros(len(chosen), dtype=np.int32)
    for at in range(0, len(chosen), _SLICE):
        codes[at:at + _SLICE] = _slice_types(mem, heap, chosen[at:at + _SLICE], spans,
                                             mapped, name_of, index, named)
    return Types(codes, list(index))


def _slice_types(mem: Memory, heap: Heap, chosen: np.ndarray,
                 spans: tuple[np.ndarray, np.ndarray], mapped: tuple[np.ndarray, np.ndarray],
                 name_of: NameOf, index: dict[str, int],
                 named: dict[tuple[int, bool], int]) -> np.ndarray:
    first, second, zeros = block_heads(mem, heap, chosen)
    codes = np.zeros(len(chosen), dtype=np.int32)
    codes[zeros] = 1
    # An old free-list pointer left in a reused block points into malloc's own state: no type.
    state = np.array(sorted(a.address for a in heap.arenas), dtype=np.uint64)
    for words, is_second in ((first, False), (second, True)):
        near = np.searchsorted(state, words, "right") - 1
        in_state = (near >= 0) & (words < state[np.maximum(near, 0)]
                                  + np.uint64(heap.layout.arena_size))
        pointing = np.nonzero((codes == 0) & _in_spans(words, spans) & ~in_state)[0]
        values, inverse = np.unique(words[pointing], return_inverse=True)
        value_codes = np.zeros(len(values), dtype=np.int32)
        for k, value in enumerate(values.tolist()):
            key = (int(value), is_second)
            if key not in named:  # each distinct pointer is named once
                symbol = name_of(int(value))
                kind = type_name(symbol[0], is_second, symbol[1]) if symbol else None
                named[key] = index.setdefault(kind, len(index)) if kind is not None else 0
            value_codes[k] = named[key]
        codes[pointing] = value_codes[inverse.reshape(-1)] if len(pointing) else 0
    open_ = np.nonzero((codes == 0) & _PRINTABLE[(first & np.uint64(0xFF)).astype(np.uint8)])[0]
    # A pointer's bytes can look like text ("`*WUUU" then NULs): a word that points into
    # any mapping is no text.
    open_ = open_[~_in_spans(first[open_], mapped)]
    codes[open_[_text(first[open_])]] = 2
    return codes


def group(keys: np.ndarray, sizes: np.ndarray, names: Sequence[str] | None = None
          ) -> list[Group]:
    """Chunks and bytes per distinct key (a code into `names`, when given), the most bytes
    first (then the key)."""
    if not len(keys):
        return []
    step = 1 if names is not None else ALIGNMENT  # chunk sizes are multiples of 16
    largest = int(keys.max()) // step
    if largest < 1 << 22 and not (keys % step).any():  # count without a sort
        index = (keys // step).astype(np.int64)
        chunks = np.bincount(index, minlength=largest + 1)
        total = np.bincount(index, weights=sizes.astype(np.float64), minlength=largest + 1)
        uniq = np.nonzero(chunks)[0] * step
        chunks, total = chunks[uniq // step], total[uniq // step]
    else:
        uniq, inverse = np.unique(keys, return_inverse=True)
        inverse = inverse.reshape(-1)
        chunks = np.bincount(inverse, minlength=len(uniq))
        total = np.bincount(inverse, weights=sizes.astype(np.float64), minlength=len(uniq))
    groups = [Group(names[int(k)] if names is not None else int(k), int(c), int(b))
              for k, c, b in zip(uniq, chunks, total)]
    groups.sort(key=lambda g: (-g.bytes, -g.chunks, str(g.key)))
    return groups


FREE_PLACES = ((TCACHE, "tcache"), (FASTBIN, "fastbins"), (UNSORTED, "unsorted"),
               (SMALLBIN, "small bins"), (LARGEBIN, "large bins"), (TOP, "top"))


def arena_rows(heap: Heap) -> list[dict]:
    """Per arena (and the mmapped chunks): what is in use and where the free bytes sit."""
    rows = []
    names = [("main arena" if a.main else f"arena {a.address:#x}") for a in heap.arenas]
    for index, name in [*enumerate(names), (MMAPPED_ARENA, "mmapped")]:
        mine = heap.arena == index
        if index == MMAPPED_ARENA and not mine.any():
            continue
        used = mine & (heap.state == IN_USE)
        row = {"arena": name,
               "address": heap.arenas[index].address if index >= 0 else None,
               "heaps": len(heap.arenas[index].heaps) if index >= 0 else 0,
               "system_mem": (heap.arenas[index].system_mem if index >= 0
                              else int(heap.size[mine].sum())),
               "in_use": {"chunks": int(used.sum()), "bytes": int(heap.size[used].sum())},
               "free": {}}
        for state, place in FREE_PLACES:
            there = mine & (heap.state == state)
            row["free"][place] = {"chunks": int(there.sum()),
                                  "bytes": int(heap.size[there].sum())}
        if index >= 0:
            row["threads"] = sorted(heap.arenas[index].threads)
        rows.append(row)
    return rows


@dataclass
class Census:
    heap: Heap
    chosen: np.ndarray  # the in-use chunks' indices
    types: Types        # each one's type

    def sizes(self) -> list[Group]:
        return group(self.heap.size[self.chosen], self.heap.size[self.chosen])

    def by_type(self) -> list[Group]:
        return group(self.types.codes, self.heap.size[self.chosen], self.types.names)


def census(mem: Memory, heap: Heap, regions: list[Region], name_of: NameOf) -> Census:
    chosen = np.nonzero(heap.state == IN_USE)[0]
    return Census(heap, chosen, block_types(mem, heap, chosen, regions, name_of))


def chunk_info(heap: Heap, address: int, type_of: Callable[[int], str],
               leaks=None) -> dict | None:
    """What vmainfo says of an address inside a chunk: the chunk, where it is, its type
    (in use), and its leak category when memleak ran at this stop (`leaks`)."""
    from gdbmem.heap.chunks import STATE_NAMES
    from gdbmem.heap.reach import CATEGORIES

    k = heap.chunk_at(address)
    if k is None:
        return None
    start, end = heap.user_bounds_of(k)
    index = int(heap.arena[k])
    arena = ("mmapped" if index == MMAPPED_ARENA else "main arena"
             if heap.arenas[index].main else f"arena {heap.arenas[index].address:#x}")
    state = int(heap.state[k])
    leak = None
    if leaks is not None and state == IN_USE:
        i = int(np.searchsorted(leaks.blocks.chunk, k))
        if i < len(leaks.blocks.chunk) and int(leaks.blocks.chunk[i]) == k:
            leak = CATEGORIES[int(leaks.category[i])]
    return {"chunk": int(heap.addr[k]), "address": start, "size": int(heap.size[k]),
            "usable": end - start, "offset": address - start, "state": STATE_NAMES[state],
            "arena": arena, "type": type_of(k) if state == IN_USE else None, "leak": leak}


SUMMARY_GROUPS = 64  # sizes and types kept per arena in a snapshot's census


def summary(found: Census, seconds: float) -> dict:
    """A census as a snapshot keeps it (memsnap --heap): per arena (its reservation's
    bounds, so that a trend finds it under its region) and for the mmapped chunks, the
    chunks in use by size and by type, the most bytes first; and what it cost."""
    heap = found.heap
    arenas = []
    index_of = heap.arena[found.chosen]
    for index in [*range(len(heap.arenas)), MMAPPED_ARENA]:
        mine = index_of == index
        if index == MMAPPED_ARENA and not mine.any():
            continue
        sizes = heap.size[found.chosen][mine]
        codes = found.types.codes[mine]
        if index >= 0:
            arena = heap.arenas[index]
            label = "main arena" if arena.main else f"arena {arena.address:#x}"
            spans = [list(span) for span in arena.reserved]
        else:
            label = "mmapped"
            chunks = found.chosen[mine]
            spans = [[int(heap.addr[k]), int(heap.addr[k] + heap.size[k])] for k in chunks]
        arenas.append({
            "arena": label, "spans": spans,
            "in_use": [int(mine.sum()), int(sizes.sum())],
            "sizes": [[g.key, g.chunks, g.bytes] for g in group(sizes, sizes)[:SUMMARY_GROUPS]],
            "types": [[g.key, g.chunks, g.bytes]
                      for g in group(codes, sizes, found.types.names)[:SUMMARY_GROUPS]]})
    return {"arenas": arenas, "seconds": round(seconds, 6)}


@dataclass
class Grown:
    """What grew in one arena between two censuses: by size and by type, the most bytes
    first (chunks and bytes added, as (key, chunks, bytes))."""

    arena: str
    spans: list[list[int]]
    sizes: list[tuple]
    types: list[tuple]

    def overlaps(self, start: int, end: int) -> bool:
        return any(lo < end and start < hi for lo, hi in self.spans)

    def as_json(self) -> dict:
        return {"arena": self.arena,
                "sizes": [{"size": k, "chunks": c, "bytes": b} for k, c, b in self.sizes],
                "types": [{"type": k, "chunks": c, "bytes": b} for k, c, b in self.types]}


def census_growth(first: dict, last: dict, top: int = 5) -> list[Grown]:
    """Per arena of the last census: the sizes and types whose bytes grew since the first
    (an arena the first did not have grew by all it holds)."""
    before = {a["arena"]: a for a in first.get("arenas", [])}
    out = []
    for arena in last.get("arenas", []):
        old = before.get(arena["arena"], {})
        grown = []
        for field in ("sizes", "types"):
            was = {k: (c, b) for k, c, b in old.get(field, [])}
            rows = [(k, c - was.get(k, (0, 0))[0], b - was.get(k, (0, 0))[1])
                    for k, c, b in arena.get(field, [])]
            rows = [r for r in rows if r[2] > 0]
            rows.sort(key=lambda r: (-r[2], str(r[0])))
            grown.append(rows[:top])
        if grown[0] or grown[1]:
            out.append(Grown(arena["arena"], arena.get("spans", []), grown[0], grown[1]))
    return out


def growth_over(censuses: Sequence[dict]) -> list[Grown]:
    """What grew from the first census to the last of a process's snapshots (none with
    fewer than two)."""
    return census_growth(censuses[0], censuses[-1]) if len(censuses) >= 2 else []
