"""From call stacks to call sites: each traced call is charged to the first frame of the
program's own code, past the allocator's, libc's and the toolchain's frames.

Folded frames: by function name, glibc's malloc family and its internals (malloc, calloc,
realloc, free, memalign and friends, _int_malloc, sysmalloc, new_heap, grow_heap, ...), C++'s
operator new and new[], libc's wrappers of the traced calls (mmap, mmap64, munmap, mremap,
brk, sbrk, mprotect, shmat, shmdt), the entry points and internals of jemalloc (je_*),
tcmalloc (tc_*, tcmalloc::) and mimalloc (mi_*, _mi_*), under glibc's internal names too
(__GI___mmap64, __libc_malloc, _int_malloc), glibc's morecore, ld.so's minimal malloc, and
Rust's allocation entry points (__rust_alloc, __rdl_alloc, alloc::...); by source file, the
toolchain's own: libstdc++'s headers (/usr/include/c++/..., where every container's growth
and std::allocator are) and Rust's standard library (/rustc/HASH/library/...), so a
std::vector's or a Vec's growth is charged to the code that grows it. A stack made only of
such frames is charged to its last frame.

malloc's pool: a brk that grows the heap, or an mprotect that grows an arena, made from
inside malloc is the pool growing, not its caller holding memory (the caller only found the
pool empty; what holds the memory is the blocks malloc hands out, which no syscall shows).
Such growth is charged to the pool itself (`[heap]`, `[arena]`), and the callers that grew
it are listed as such. A direct sbrk or mmap from the program's own code stays the code's.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import NamedTuple

from gdbmem.trace.ledger import Ledger

# libc's wrappers of the traced calls: a stack of only these and the program's frames is
# the program's own call.
_WRAPPER = re.compile(r"(?:mmap|mmap64|munmap|mremap|brk|sbrk|mprotect|shmat|shmdt)(?:_\w+)?")
_ALLOCATOR = re.compile(
    r"(?:malloc|calloc|realloc|reallocarray|free|cfree|memalign|posix_memalign|aligned_alloc"
    r"|valloc|pvalloc|int_malloc|int_free|int_realloc|int_memalign|sysmalloc|systrim"
    r"|new_heap|alloc_new_heap|grow_heap|shrink_heap|heap_trim|arena_get2|int_new_arena"
    r"|tcache_init|ptmalloc_init|malloc_hook_ini|mid_memalign|default_morecore"
    r"|glibc_morecore|morecore|minimal_malloc|minimal_calloc"
    r"|minimal_realloc|minimal_free)(?:_\w+)?"
    r"|operator new.*|operator delete.*|_Znw[jm].*|_Zna[jm].*"
    r"|je_\w+|jemalloc\w*|tc_\w+|tcmalloc::.*|mi_\w+"
    r"|__rust_\w+|__rdl_\w+|__rg_\w+|<?alloc(?:\[[0-9a-f]+\])?::.*")
# glibc's internal aliases of the same functions: __GI___mmap64, __libc_malloc, _int_malloc
_PREFIX = re.compile(r"(?:__GI_)?_*(?:libc_)?")
# The toolchain's own sources: libstdc++'s headers, Rust's standard library.
_TOOLCHAIN_FILE = re.compile(r"(?:^|/)include/c\+\+/|^/rustc/[0-9a-f]+/library/"
                             r"|/library/(?:alloc|core|std)/src/"
                             r"|/\.rustup/toolchains/[^/]+/lib/rustlib/src/")


def _matches(pattern: re.Pattern, function: str | None) -> bool:
    if not function:
        return False
    name = function.strip()
    return (pattern.fullmatch(name) is not None
            or pattern.fullmatch(_PREFIX.sub("", name, count=1)) is not None)


def is_allocator(function: str | None) -> bool:
    """Whether a frame of this function is folded by its name (see the module's docstring)."""
    return _matches(_WRAPPER, function) or _matches(_ALLOCATOR, function)


def in_malloc(function: str | None) -> bool:
    """Whether the frame is inside an allocator (not merely a syscall's wrapper)."""
    return _matches(_ALLOCATOR, function)


def is_toolchain(file: str | None) -> bool:
    """Whether a frame's source is the toolchain's own (libstdc++'s headers, Rust's std)."""
    return bool(file) and _TOOLCHAIN_FILE.search(file) is not None


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
    # malloc's pool (`heap`, `arena`), whose site this is, and the code that grew it: the
    # bytes each caller's calls made the pool grow by (None for a site of the program's)
    pool: str | None = None
    grown_by: list[tuple[Frame, int]] | None = None

    def to_dict(self, number: int) -> dict:
        out = {"site": number, "function": self.frame.function, "file": self.frame.file,
               "line": self.frame.line, "pc": self.frame.pc, "calls": self.calls,
               "mapped": self.mapped, "unmapped": self.unmapped, "held": self.held,
               "kinds": self.kinds, "stack": [f.to_dict() for f in self.stacks[0]]}
        if self.pool is not None:
            out["pool"] = self.pool
            out["grown_by"] = [dict(frame.to_dict(), bytes=size)
                               for frame, size in self.grown_by or ()]
        return out


def pool_frame(pool: str) -> Frame:
    """The site malloc's pool is charged to: `[heap]` or `[arena]`."""
    return Frame(0, f"[{pool}]", None, None)


def site_key(frame: Frame) -> tuple:
    """What makes two frames one site: a place in the source; without symbols, its address."""
    return (frame.function, frame.file, frame.line) if frame.file else (frame.function,
                                                                          frame.pc)


def by_weight(site: Site) -> tuple:
    """The order of a report: most bytes held first, then most mapped, most calls."""
    return (-site.held, -site.mapped, -site.calls, site.frame.function or "")


def folded(frame: Frame) -> bool:
    return is_allocator(frame.function) or is_toolchain(frame.file)


def _unnamed(frame: Frame) -> bool:
    return not frame.function and not frame.file


def site_frame(frames: Sequence[Frame]) -> Frame:
    """The first frame of the program's own code: past the folded ones, and past frames
    without a name that stand before a folded one (a libc without its debug symbols names
    only its exported functions: malloc's static internals, sysmalloc, _int_malloc, are
    addresses between mmap and malloc)."""
    last = -1
    for i, frame in enumerate(frames):
        if folded(frame):
            last = i
        elif not _unnamed(frame):
            break
    return frames[last + 1] if last + 1 < len(frames) else frames[-1]


POOL_CALLS = frozenset({"brk", "mprotect"})
# glibc's functions that make, grow and trim a thread's arena (their mmap of a reservation,
# munmap of its ends, mprotect of what it uses): all of it the pool's.
_ARENA = re.compile(r"(?:new_heap|alloc_new_heap|grow_heap|shrink_heap|heap_trim"
                    r"|int_new_arena|arena_get2|arena_get_retry)(?:_\w+)?")


def pool_of(frames: Sequence[Frame], calls: set[str], kinds: set[str]) -> str | None:
    """`heap` or `arena` when the stack's calls are malloc's pool growing or shrinking (brk,
    an arena's mprotect, made from inside malloc), else None."""
    if not kinds <= {"heap", "arena"}:
        return None
    for frame in frames:
        if not folded(frame) and not _unnamed(frame):
            break
        if _matches(_ARENA, frame.function):
            return "arena"
    if not calls or not calls <= POOL_CALLS:
        return None
    for frame in frames:
        if not folded(frame) and not _unnamed(frame):
            return None  # reached the program's code first: a direct sbrk
        if in_malloc(frame.function):
            return "arena" if "mprotect" in calls or "arena" in kinds else "heap"
    return None


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
        use = ledger.use[sid]
        pool = pool_of(frames, use.names, use.kinds)
        if pool is not None:  # the pool grew: its own site; the caller, one who grew it
            caller, top = top, pool_frame(pool)
            key: tuple = ("pool", pool)
        else:
            key = site_key(top)
        entry = by_key.setdefault(key, {"frame": top, "calls": 0, "mapped": 0, "unmapped": 0,
                                        "held": 0, "kinds": set(), "stacks": [],
                                        "pool": pool, "grown_by": {}})
        if pool is not None:
            known = entry["grown_by"].get(site_key(caller))
            entry["grown_by"][site_key(caller)] = (caller,
                                                   (known[1] if known else 0) + use.mapped)
        entry["calls"] += use.calls
        entry["mapped"] += use.mapped
        entry["unmapped"] += use.unmapped
        entry["held"] += held.get(sid, 0)
        entry["kinds"] |= use.kinds
        entry["stacks"].append(frames)
    out = [Site(e["frame"], e["calls"], e["mapped"], e["unmapped"], e["held"],
                sorted(e["kinds"]), e["stacks"], e["pool"],
                sorted((g for g in e["grown_by"].values() if g[1] > 0), key=lambda g: -g[1])
                if e["pool"] is not None else None)
           for e in by_key.values()]
    out.sort(key=by_weight)
    return out


def sites_within(ledger: Ledger, resolve: Resolve, spans: Sequence[tuple[int, int]],
                 top: int = 3) -> list[Site]:
    """The `top` sites by bytes held inside these [start, end) spans (a trend's regions)."""
    held: dict[int, int] = {}
    for start, end in spans:
        for stack, size in ledger.held(start, end).items():
            held[stack] = held.get(stack, 0) + size
    return sites(ledger, resolve, set(held), held)[:top]
