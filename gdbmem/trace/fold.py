"""From call stacks to call sites: each traced call is charged to the first frame of the
program's own code, past the allocator's and libc's frames.

Folded frames (by function name): glibc's malloc family and its internals (malloc, calloc,
realloc, free, memalign and friends, _int_malloc, sysmalloc, new_heap, grow_heap, ...), C++'s
operator new and new[], libc's wrappers of the traced calls (mmap, mmap64, munmap, mremap,
brk, sbrk, mprotect, shmat, shmdt), and the entry points and internals of jemalloc (je_*),
tcmalloc (tc_*, tcmalloc::) and mimalloc (mi_*, _mi_*), under glibc's internal names too
(__GI___mmap64, __libc_malloc, _int_malloc), glibc's morecore, and ld.so's minimal
malloc. A stack made only of such frames is charged to its last frame. Names come from gdb
when a report is made, not at each call.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import NamedTuple

from gdbmem.trace.ledger import Ledger

_ALLOCATOR = re.compile(
    r"(?:malloc|calloc|realloc|reallocarray|free|cfree|memalign|posix_memalign|aligned_alloc"
    r"|valloc|pvalloc|int_malloc|int_free|int_realloc|int_memalign|sysmalloc|systrim"
    r"|new_heap|alloc_new_heap|grow_heap|shrink_heap|heap_trim|arena_get2|int_new_arena"
    r"|tcache_init|ptmalloc_init|malloc_hook_ini|mid_memalign|mmap|mmap64|munmap|mremap"
    r"|brk|sbrk|default_morecore|glibc_morecore|morecore|mprotect|shmat|shmdt"
    r"|minimal_malloc|minimal_calloc"
    r"|minimal_realloc|minimal_free)(?:_\w+)?"
    r"|operator new.*|operator delete.*|_Znw[jm].*|_Zna[jm].*"
    r"|je_\w+|jemalloc\w*|tc_\w+|tcmalloc::.*|mi_\w+")
# glibc's internal aliases of the same functions: __GI___mmap64, __libc_malloc, _int_malloc
_PREFIX = re.compile(r"(?:__GI_)?_*(?:libc_)?")


def is_allocator(function: str | None) -> bool:
    """Whether a frame of this function is folded (see the module's docstring)."""
    if not function:
        return False
    name = function.strip()
    return (_ALLOCATOR.fullmatch(name) is not None
            or _ALLOCATOR.fullmatch(_PREFIX.sub("", name, count=1)) is not None)


class Frame(NamedTuple):
    pc: int
    function: str | None
    file: str | None
    line: int | None

    def to_dict(self) -> dict:
        return {"pc": self.pc, "function": self.function, "file": self.file,
                "line": self.line}


Resolve = Callable[[int], Frame]


class Site(NamedTuple):
    """A call site and everything charged to it, in bytes."""

    frame: Frame
    calls: int
    mapped: int
    unmapped: int
    held: int
    kinds: list[str]
    stacks: list[list[Frame]]  # every distinct stack through it, whole

    def to_dict(self, number: int) -> dict:
        return {"site": number, "function": self.frame.function, "file": self.frame.file,
                "line": self.frame.line, "pc": self.frame.pc, "calls": self.calls,
                "mapped": self.mapped, "unmapped": self.unmapped, "held": self.held,
                "kinds": self.kinds, "stack": [f.to_dict() for f in self.stacks[0]]}


def site_frame(frames: Sequence[Frame]) -> Frame:
    """The first frame of the program's own code: past the folded ones."""
    for frame in frames:
        if not is_allocator(frame.function):
            return frame
    return frames[-1]


def sites(ledger: Ledger, resolve: Resolve, stack_ids: set[int] | None = None,
          held: dict[int, int] | None = None) -> list[Site]:
    """Every site, most bytes held first (then most mapped). `stack_ids`: only these; `held`:
    the bytes held to show (those inside a region), by stack id."""
    held = ledger.held() if held is None else held
    by_key: dict[tuple, dict] = {}
    names: dict[int, Frame] = {}

    def frame_of(pc: int) -> Frame:
        frame = names.get(pc)
        if frame is None:
            frame = names[pc] = resolve(pc)
        return frame

    for sid, pcs in enumerate(ledger.pcs):
        if (stack_ids is not None and sid not in stack_ids) or not pcs:
            continue
        frames = [frame_of(pc) for pc in pcs]
        top = site_frame(frames)
        # A site is a place in the source; without symbols, its address.
        key = (top.function, top.file, top.line) if top.file else (top.function, top.pc)
        use = ledger.use[sid]
        entry = by_key.setdefault(key, {"frame": top, "calls": 0, "mapped": 0, "unmapped": 0,
                                        "held": 0, "kinds": set(), "stacks": []})
        entry["calls"] += use.calls
        entry["mapped"] += use.mapped
        entry["unmapped"] += use.unmapped
        entry["held"] += held.get(sid, 0)
        entry["kinds"] |= use.kinds
        entry["stacks"].append(frames)
    out = [Site(e["frame"], e["calls"], e["mapped"], e["unmapped"], e["held"],
                sorted(e["kinds"]), e["stacks"]) for e in by_key.values()]
    out.sort(key=lambda s: (-s.held, -s.mapped, -s.calls, s.frame.function or ""))
    return out


def sites_within(ledger: Ledger, resolve: Resolve, spans: Sequence[tuple[int, int]],
                 top: int = 3) -> list[Site]:
    """The `top` sites by bytes held inside these [start, end) spans (a trend's regions)."""
    held: dict[int, int] = {}
    for start, end in spans:
        for stack, size in ledger.held(start, end).items():
            held[stack] = held.get(stack, 0) + size
    return sites(ledger, resolve, set(held), held)[:top]
