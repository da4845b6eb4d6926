"""The heap as the walk finds it: arenas, tcaches, and every chunk in arrays (Heap), with
where each chunk is (its state), and mallinfo2 as glibc would compute it. Plain data and
what follows from it: walk.py makes a Heap, census.py and reach.py read one."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import NamedTuple

import numpy as np

from gdbmem.heap.layout import WORD, Layout
from gdbmem.model import Region

PAGE = 4096

# Where a chunk is (Heap.state): in use by the program, or free and where, or malloc's own.
IN_USE, TCACHE, FASTBIN, UNSORTED, SMALLBIN, LARGEBIN, TOP, MALLOC = range(8)
STATE_NAMES = ("in use", "tcache", "fastbin", "unsorted", "small bin", "large bin", "top",
               "malloc's own")
MMAPPED_ARENA = -1  # Heap.arena of a chunk mmapped on its own

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
