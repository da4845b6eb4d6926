"""Naming what each region is: `classify()` gives every region exactly one kind.

How each kind is recognised, in the order the rules apply:

* by the kernel's name: `[heap]` heap, `[stack]` stack, `[stack:TID]` thread-stack (old
  kernels), `[vdso]` vdso, `[vvar]`/`[vvar_vclock]` vvar, `[vsyscall]` vsyscall,
  `[anon:NAME]` anon, `[anon_shmem:NAME]` shm;
* shared memory by path: SysV segments (`/SYSV…`), POSIX shm (`/dev/shm/…`), memfd
  (`/memfd:…`), and shared anonymous memory (`/dev/zero`, mapped shared);
* exe: a file mapping of the process's own executable (`/proc/PID/exe`);
* lib: a file whose name is a shared object (`*.so`, `*.so.N…`, `ld-*.so*`);
* file: any other file mapping; anon: anything else;
* then from the threads: the region that holds a thread's stack pointer is its stack
  (`stack` for the main stack, `thread-stack` for an anonymous region of another thread, with
  the gdb thread number and LWP), and a no-access region right below a thread stack is its
  `guard`; a no-access region in a library's or the executable's image (the gaps ld.so leaves
  between segments) is `guard` too;
* arena: glibc gives each extra malloc arena a 64 MiB-aligned reservation (HEAP_MAX_SIZE on
  64-bit): a read-write head followed by a no-access tail. A read-write anonymous region that
  starts on such a boundary is an arena when its first words are a plausible `heap_info`
  (`ar_ptr` points into the same 64 MiB or to another arena head, `size` fits the head), or,
  when memory cannot be read, when the head and its no-access tail end together on the
  boundary. Its tail is `arena` too.
"""

from __future__ import annotations

import bisect
import os
import re
import struct
from collections.abc import Iterable, Sequence
from typing import Callable, NamedTuple

from gdbmem.model import Region

HEAP_MAX_SIZE = 64 << 20  # glibc's 2 * DEFAULT_MMAP_THRESHOLD_MAX on 64-bit targets

SHARED_OBJECT_RE = re.compile(r"(\.so(\.[0-9][^/]*)?|^ld-.*\.so.*)$")
_BY_NAME = {"[heap]": "heap", "[stack]": "stack", "[vdso]": "vdso", "[vvar]": "vvar",
            "[vvar_vclock]": "vvar", "[vsyscall]": "vsyscall"}

ReadMemory = Callable[[int, int], "bytes | None"]


class ThreadStackPointer(NamedTuple):
    num: int   # gdb's thread number (`thread N`)
    lwp: int   # the kernel's thread id
    sp: int


def kind_by_name(region: Region, exe: str = "") -> str:
    """The kind a region has from its name and perms alone (no threads, no memory)."""
    path = region.path
    if not path:
        return "anon"
    if path[0] == "[":
        if path in _BY_NAME:
            return _BY_NAME[path]
        if path.startswith("[stack:"):
            return "thread-stack"
        if path.startswith("[anon_shmem:"):
            return "shm"
        return "anon"
    if path.startswith(("/SYSV", "/dev/shm/", "/memfd:")):
        return "shm"
    if path.startswith("/dev/zero"):  # shared anonymous memory shows as /dev/zero (deleted)
        return "shm" if region.perms[3] == "s" or region.deleted else "anon"
    file_path = region.file_path
    if not file_path:
        return "anon"
    if exe and file_path == exe:
        return "exe"
    if SHARED_OBJECT_RE.search(os.path.basename(file_path)):
        return "lib"
    return "file"


def _is_no_access(region: Region) -> bool:
    return region.perms.startswith("---")


def _looks_like_heap_info(region: Region, read_memory: ReadMemory | None,
                          arena_heads: set[int]) -> bool:
    if read_memory is None:
        return True
    header = read_memory(region.start, 24)
    if header is None or len(header) < 24:
        return False
    ar_ptr, _prev, size = struct.unpack("<3Q", header)
    base = region.start
    owned = base < ar_ptr < base + HEAP_MAX_SIZE
    shared = (ar_ptr & ~(HEAP_MAX_SIZE - 1)) in arena_heads
    return (owned or shared) and 0 < size <= HEAP_MAX_SIZE


def _mark_arenas(regions: Sequence[Region], read_memory: ReadMemory | None) -> None:
    heads = [i for i, r in enumerate(regions)
             if r.kind == "anon" and not r.path and r.perms == "rw-p"
             and r.start % HEAP_MAX_SIZE == 0 and r.size <= HEAP_MAX_SIZE]
    starts = {regions[i].start for i in heads}
    for i in heads:
        head = regions[i]
        limit = head.start + HEAP_MAX_SIZE
        tail = regions[i + 1] if i + 1 < len(regions) else None
        has_tail = (tail is not None and tail.start == head.end and _is_no_access(tail)
                    and not tail.path and tail.end <= limit)
        if read_memory is None and not (head.end == limit or (has_tail and tail.end == limit)):
            continue
        if not _looks_like_heap_info(head, read_memory, starts):
            continue
        head.kind = "arena"
        if has_tail:
            tail.kind = "arena"  # type: ignore[union-attr]


def _own_stack(regions: Sequence[Region], i: int, num: int | None, lwp: int | None) -> None:
    """Region i is the stack of thread `num`; a no-access region right below it is its guard."""
    region = regions[i]
    region.thread, region.lwp = num, lwp
    below = regions[i - 1] if i > 0 else None
    if (below is not None and below.end == region.start and _is_no_access(below)
            and not below.path):
        below.kind, below.thread, below.lwp = "guard", num, lwp


def _mark_thread_stacks(regions: Sequence[Region], threads: Iterable[ThreadStackPointer],
                        pid: int | None) -> None:
    by_lwp = {t.lwp: t for t in threads}
    # A core keeps no [stack] name: there the main thread's stack is the one its $sp is in.
    named_stack = any(r.path == "[stack]" for r in regions)
    for i, region in enumerate(regions):
        if region.path.startswith("[stack:"):  # old kernels name thread stacks themselves
            tid = region.path[7:-1]
            lwp = int(tid) if tid.isdigit() else None
            owner = by_lwp.get(lwp) if lwp is not None else None
            _own_stack(regions, i, owner.num if owner else None, lwp)
    starts = [r.start for r in regions]
    for thread in by_lwp.values():
        i = bisect.bisect_right(starts, thread.sp) - 1
        if i < 0 or not regions[i].contains(thread.sp):
            continue
        region = regions[i]
        if region.kind == "anon" and not region.path:
            main = thread.lwp == pid and not named_stack
            region.kind = "stack" if main else "thread-stack"  # off [stack]: a thread's
        if region.kind in ("stack", "thread-stack"):
            _own_stack(regions, i, thread.num, thread.lwp)


def classify(regions: Sequence[Region], exe: str = "",
             threads: Iterable[ThreadStackPointer] = (), pid: int | None = None,
             read_memory: ReadMemory | None = None) -> Sequence[Region]:
    """Set `kind` (and `thread`/`lwp` for stacks) on every region, sorted by address.

    `read_memory(address, length)` returns bytes or None; without it arenas are recognised
    from their layout alone.
    """
    by_name: dict[tuple[str, str], str] = {}  # regions share a few names: classify each once
    for region in regions:
        key = (region.path, region.perms)
        kind = by_name.get(key)
        if kind is None:
            kind = kind_by_name(region, exe)
            if kind in ("lib", "exe") and _is_no_access(region):
                kind = "guard"
            by_name[key] = kind
        region.kind = kind
        region.thread = region.lwp = None
    _mark_thread_stacks(regions, threads, pid)
    _mark_arenas(regions, read_memory)
    return regions


_BRK_RANDOM = 32 << 20  # x86_64 puts the heap up to 32 MiB after the executable's end


VSYSCALL_START = 0xFFFFFFFFFF600000


def name_core_regions(regions: Sequence[Region]) -> None:
    """A core keeps no `[heap]` or `[vsyscall]` name: the vsyscall page is at its fixed
    address, and the heap is the first read-write anonymous region that starts within 32 MiB
    after the executable's image (where brk starts)."""
    for region in regions:
        if region.start == VSYSCALL_START and region.kind == "anon":
            region.kind = "vsyscall"
    exe_end = max((r.end for r in regions if r.kind == "exe"), default=None)
    if exe_end is None:
        return
    for region in regions:
        if (region.kind == "anon" and not region.path and region.perms.startswith("rw")
                and exe_end <= region.start < exe_end + _BRK_RANDOM):
            region.kind = "heap"
            return
