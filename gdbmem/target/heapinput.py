"""What the heap walk needs from gdb: libc's version and symbols, each thread's registers,
thread pointer and function, and the target's fastest way to read memory in bulk.

The walk itself (heap/walk.py) sees none of gdb: this module hands it a HeapInput and a
Memory, for a live process, a core file and gdbserver alike.
"""

from __future__ import annotations

import gdb  # type: ignore[import-not-found]

from gdbmem.caches import EXEC, EXITED, INFERIOR_DELETED, NEW_PROGRAM, Cache
from gdbmem.errors import HeapError
from gdbmem.heap.chunks import HeapInput, HeapThread
from gdbmem.heap.find import is_libc
from gdbmem.heap.layout import glibc_version, layout_for
from gdbmem.heap.memory import Memory
from gdbmem.kinds import classify
from gdbmem.model import Region
from gdbmem.target.base import MemoryReader, Target
from gdbmem.target.gdbtarget import selection_kept
from gdbmem.units import MASK64

# x86-64's general-purpose registers: what valgrind's leak check scans of each thread.
REGISTERS = ("rax", "rbx", "rcx", "rdx", "rsi", "rdi", "rbp", "rsp",
             "r8", "r9", "r10", "r11", "r12", "r13", "r14", "r15")


def _static_address(name: str, libc: list[Region]) -> int | None:
    """The address of a static variable of libc (`main_arena`, `mp_`), when gdb has libc's
    debug symbols (the one inside libc's mappings); None without them."""
    try:
        lookup = getattr(gdb, "lookup_static_symbols", None)
        symbols = lookup(name) if lookup is not None else [gdb.lookup_static_symbol(name)]
    except (gdb.error, RuntimeError):
        return None
    for symbol in symbols or ():
        if symbol is None or not symbol.is_variable:
            continue
        try:
            address = int(symbol.value().address) & MASK64
        except (gdb.error, RuntimeError, TypeError):
            continue
        if any(r.start <= address < r.end for r in libc):
            return address
    return None


def _libc(regions: list[Region]) -> list[Region]:
    return [r for r in regions if is_libc(r)]


# glibc's version by (pid, where libc is mapped, its path): read once per process, not at
# each census of memsnap --heap (its banner is 340 KB into libc's read-only data).
VERSIONS: Cache[tuple[int, int, str], tuple[int, int]] = Cache(
    "glibc versions", 64, {EXITED, EXEC, NEW_PROGRAM, INFERIOR_DELETED},
    "the libc a process maps changes only with an exec; a pid may be used again once gone")


def _libc_version(target: Target, regions: list[Region]) -> tuple[int, int]:
    """glibc's version from its banner in its read-only data (read from memory, else from
    its file: a core keeps no read-only file pages), else from its file name."""
    libc = _libc(regions)
    if not libc:
        raise HeapError("no libc in the process (a static program, or another C library): "
                        "memheap reads glibc's malloc")
    key = (target.pid, libc[0].start, libc[0].path)
    known = VERSIONS.get(key)
    if known is None:
        known = _read_version(target, libc)
        VERSIONS.put(key, known)
    return known


def _read_version(target: Target, libc: list[Region]) -> tuple[int, int]:
    for region in libc:
        if region.perms.startswith("r-") and "x" not in region.perms:
            version = glibc_version(target.read_memory(region.start, region.size), "")
            if version is not None:
                return version
    try:
        with open(libc[0].file_path or libc[0].path, "rb") as fh:
            version = glibc_version(fh.read(64 << 20), libc[0].path)
    except OSError:
        version = glibc_version(None, libc[0].path)
    if version is None:
        raise HeapError(f"cannot tell which glibc {libc[0].path} is")
    return version


def _threads() -> list[HeapThread]:
    """Each stopped thread's registers, thread pointer and newest function (the selection
    is put back); a running thread (non-stop) has none to read, and is said to."""
    inferior = gdb.selected_inferior()
    out = []
    with selection_kept():
        for thread in sorted(inferior.threads(), key=lambda t: t.num):
            if not thread.is_valid() or thread.is_exited() or thread.is_running():
                continue
            thread.switch()
            newest = gdb.newest_frame()
            values = [v for v in (_register(newest, name) for name in REGISTERS)
                      if v is not None]
            out.append(HeapThread(thread.num, thread.ptid[1] or inferior.pid,
                                  _register(newest, "fs_base") or None,
                                  _register(newest, "rsp"), tuple(values), newest.name()))
    return out


def _register(frame: gdb.Frame, name: str) -> int | None:
    try:
        return int(frame.read_register(name)) & MASK64
    except (gdb.error, ValueError):
        return None


def running_threads() -> list[int]:
    """gdb's numbers of the threads that run now (non-stop): their registers are unknown."""
    return [t.num for t in gdb.selected_inferior().threads()
            if t.is_valid() and t.is_running()]


def heap_input(target: Target, at_hit: bool = False) -> tuple[HeapInput, list[Region]]:
    """What the walk needs; `at_hit`: inside a breakpoint's stop(), where gdb's threads may
    not be switched, so no thread's registers or thread pointer (the tcaches are then found
    at each arena's first chunk)."""
    # The map and its kinds, without smaps' figures (a tenth of the cost: memsnap --heap
    # takes a census at every hit).
    regions = target.maps()
    classify(regions, exe=target.exe(), threads=target.thread_stack_pointers(),
             pid=target.pid, read_memory=target.read_memory)
    target.name_regions(regions)
    if not regions:
        raise HeapError("no mappings to read the heap from")
    layout = layout_for(_libc_version(target, regions))
    libc = _libc(regions)
    return HeapInput(regions, layout, _static_address("main_arena", libc),
                     _static_address("mp_", libc), () if at_hit else _threads()), regions


def heap_memory(reader: MemoryReader) -> Memory:
    return Memory(reader.read_into)
