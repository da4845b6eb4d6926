"""memtrace's accounting on made-up calls: exact bytes held per stack, churn holding 0,
partial unmaps, mremap, brk, arena growth by mprotect; folding allocator frames; and, under
hypothesis, that what the ledger says is held is what a page-by-page model says."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from gdbmem.trace.fold import Frame, is_allocator, site_frame, sites
from gdbmem.trace.ledger import MAP_ANONYMOUS, MAP_FIXED, Ledger

ANON = MAP_ANONYMOUS | 0x2  # MAP_PRIVATE
RW, NONE = 3, 0
A, B = (0x401000, 0x402000), (0x401100, 0x402000)  # two stacks


def mmap(ledger, at, size, stack, prot=RW, flags=ANON, fd=-1):
    return ledger.record("mmap", (at, size, prot, flags, fd, 0), at, stack)


def test_a_leak_holds_what_it_mapped_and_churn_holds_nothing():
    ledger = Ledger()
    for n in range(5):
        mmap(ledger, 0x7f0000000000 + n * 0x100000, 0x40000, A)  # kept
        mmap(ledger, 0x7f1000000000, 0x20000, B)  # mapped and unmapped: churn
        ledger.record("munmap", (0x7f1000000000, 0x20000), 0, B)
    held = ledger.held()
    a, b = ledger.stack_id(A), ledger.stack_id(B)
    assert held == {a: 5 * 0x40000}
    assert (ledger.use[a].calls, ledger.use[a].mapped, ledger.use[a].unmapped) == (
        5, 5 * 0x40000, 0)
    assert (ledger.use[b].calls, ledger.use[b].mapped, ledger.use[b].unmapped) == (
        10, 5 * 0x20000, 5 * 0x20000)


def test_a_partial_unmap_splits_and_a_fixed_map_takes_over():
    ledger = Ledger()
    mmap(ledger, 0x10000, 0x10000, A)
    ledger.record("munmap", (0x14000, 0x4000), 0, B)  # a hole in the middle
    a = ledger.stack_id(A)
    assert ledger.held() == {a: 0xC000}
    assert ledger.holder(0x13FFF) == a and ledger.holder(0x14000) is None
    assert ledger.holder(0x18000) == a
    mmap(ledger, 0x18000, 0x2000, B, flags=ANON | MAP_FIXED)
    b = ledger.stack_id(B)
    assert ledger.held() == {a: 0xA000, b: 0x2000}
    assert ledger.use[a].unmapped == 0x6000
    assert ledger.record("munmap", (0x99000, 0x1000), -22, A) == a  # failed: nothing
    assert ledger.held() == {a: 0xA000, b: 0x2000}


def test_mremap_moves_with_its_holder_and_grows_by_the_caller():
    ledger = Ledger()
    mmap(ledger, 0x100000, 0x4000, A)
    ledger.record("mremap", (0x100000, 0x4000, 0x10000, 1, 0), 0x200000, B)
    a, b = ledger.stack_id(A), ledger.stack_id(B)
    assert ledger.held() == {a: 0x4000, b: 0xC000}
    assert ledger.holder(0x200000) == a and ledger.holder(0x204000) == b
    ledger.record("mremap", (0x200000, 0x10000, 0x2000, 0, 0), 0x200000, B)  # shrinks
    assert ledger.held() == {a: 0x2000}


def test_brk_growth_is_the_heap_s_and_shrinking_gives_back():
    ledger = Ledger()
    ledger.record("brk", (0,), 0x555555559000, A)  # the first query: where the break is
    ledger.record("brk", (0x55555557A000,), 0x55555557A000, B)  # +132K
    ledger.record("brk", (0x55555559B000,), 0x55555559B000, A)  # +132K
    ledger.record("brk", (0x55555558A000,), 0x55555558A000, A)  # -68K from the top
    a, b = ledger.stack_id(A), ledger.stack_id(B)
    assert ledger.held() == {b: 0x21000, a: 0x10000}
    assert ledger.use[b].kinds == {"heap"}


def test_an_arena_grows_by_mprotect_of_its_reservation():
    ledger = Ledger()
    base = 0x7FFFE8000000
    # glibc maps twice the arena's size, then trims it to the 64 MiB boundary.
    mmap(ledger, base - 0x1000000, 128 << 20, A, prot=NONE)
    ledger.record("munmap", (base - 0x1000000, 0x1000000), 0, A)
    ledger.record("munmap", (base + (64 << 20), 0x3000000), 0, A)
    assert ledger.held() == {}  # the reservation: held by nobody
    assert ledger.held() == {}
    ledger.record("mprotect", (base, 0x21000, RW), 0, A)
    ledger.record("mprotect", (base + 0x21000, 0x8000, RW), 0, B)
    ledger.record("mprotect", (base + 0x21000, 0x8000, RW), 0, B)  # again: not twice
    a, b = ledger.stack_id(A), ledger.stack_id(B)
    assert ledger.held() == {a: 0x21000, b: 0x8000}
    assert ledger.use[b].kinds == {"arena"}
    ledger.record("mprotect", (base + 0x21000, 0x8000, NONE), 0, A)  # shrinks back
    assert ledger.held() == {a: 0x21000}
    ledger.record("mprotect", (0x999000, 0x1000, RW), 0, A)  # not a reservation: nothing
    assert ledger.held() == {a: 0x21000}
    # A reservation off the 64 MiB boundaries (a thread's stack) grows as anonymous memory.
    mmap(ledger, 0x7F0000201000, 0x100000, A, prot=NONE)
    ledger.record("mprotect", (0x7F0000202000, 0x80000, RW), 0, (0x9,))
    assert ledger.use[ledger.stack_id((0x9,))].kinds == {"anon"}


def test_shmat_and_shmdt():
    ledger = Ledger()
    ledger.record("shmat", (7, 0, 0), 0x7F0000000000, A, length=0x3000)
    assert ledger.held() == {ledger.stack_id(A): 0x3000}
    ledger.record("shmdt", (0x7F0000000000,), 0, B)
    assert ledger.held() == {}


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["map", "unmap", "fixed"]), st.integers(0, 63),
                          st.integers(1, 16), st.integers(0, 2)), max_size=40))
def test_held_bytes_are_what_a_page_model_says(steps):
    """Every page mapped belongs to the stack that last mapped it, until unmapped."""
    ledger, pages = Ledger(), {}
    stacks = [(0x1000 + n,) for n in range(3)]
    for op, first, count, who in steps:
        start, size = 0x100000 + first * 0x1000, count * 0x1000
        if op == "unmap":
            ledger.record("munmap", (start, size), 0, stacks[who])
            for p in range(first, first + count):
                pages.pop(p, None)
        else:
            mmap(ledger, start, size, stacks[who], flags=ANON | (MAP_FIXED if op == "fixed"
                                                               else 0))
            for p in range(first, first + count):
                pages[p] = ledger.stack_id(stacks[who])
    expected: dict[int, int] = {}
    for sid in pages.values():
        expected[sid] = expected.get(sid, 0) + 0x1000
    assert ledger.held() == expected
    for p, sid in pages.items():
        assert ledger.holder(0x100000 + p * 0x1000 + 5) == sid


def test_allocator_frames_are_folded():
    assert all(map(is_allocator, ["malloc", "__GI___libc_malloc", "_int_malloc", "sysmalloc",
                                  "__mmap64", "mmap64", "operator new(unsigned long)", "_Znwm",
                                  "je_malloc", "tc_malloc", "mi_malloc", "new_heap",
                                  "__libc_calloc", "sbrk", "__brk", "__default_morecore",
                                  "__GI___mmap64", "__GI___sbrk", "sysmalloc_mmap",
                                  "__minimal_malloc", "_mi_malloc_generic"]))
    assert not any(map(is_allocator, ["main", "leak_big", "tick", None, "mallocate_cache",
                                      "my_free_list", "_dl_map_segments", "touched"]))
    frames = [Frame(1, "__mmap64", "mmap64.c", 47), Frame(2, "sysmalloc", "malloc.c", 2500),
              Frame(3, "malloc", "malloc.c", 3300), Frame(4, "leak_big", "leaks.c", 40),
              Frame(5, "main", "leaks.c", 90)]
    assert site_frame(frames).function == "leak_big"
    assert site_frame(frames[:3]).function == "malloc"  # only allocator frames: the last


def test_sites_sum_their_stacks():
    ledger = Ledger()
    names = {0x1: ("__mmap64", None, None), 0x2: ("malloc", "malloc.c", 1),
             0x10: ("leak_big", "leaks.c", 40), 0x11: ("leak_big", "leaks.c", 40),
             0x20: ("main", "leaks.c", 90), 0x21: ("main", "leaks.c", 91)}
    resolve = lambda pc: Frame(pc, *names[pc])  # noqa: E731
    mmap(ledger, 0x10000, 0x4000, (0x1, 0x2, 0x10, 0x20))
    mmap(ledger, 0x20000, 0x4000, (0x1, 0x2, 0x11, 0x21))  # the same line, another caller
    mmap(ledger, 0x30000, 0x1000, (0x1, 0x20))
    found = sites(ledger, resolve)
    assert [(s.frame.function, s.calls, s.mapped, s.held) for s in found] == [
        ("leak_big", 2, 0x8000, 0x8000), ("main", 1, 0x1000, 0x1000)]
    assert len(found[0].stacks) == 2 and found[0].kinds == ["anon"]
    assert found[0].to_dict(1)["stack"][2] == {"pc": 0x10, "function": "leak_big",
                                               "file": "leaks.c", "line": 40}


def test_an_unmap_takes_its_range_at_its_entry():
    """Thread 1 enters munmap; thread 2's mmap is given the same range and returns first;
    thread 1's return then takes nothing from thread 2."""
    ledger = Ledger()
    mmap(ledger, 0x10000, 0x4000, A)
    parked = ledger.enter("munmap", (0x10000, 0x4000))
    mmap(ledger, 0x10000, 0x4000, B)  # the kernel gave the addresses again
    ledger.record("munmap", (0x10000, 0x4000), 0, A, parked=parked)
    a, b = ledger.stack_id(A), ledger.stack_id(B)
    assert ledger.held() == {b: 0x4000}
    assert (ledger.use[a].mapped, ledger.use[a].unmapped) == (0x4000, 0x4000)
    failed_call = ledger.enter("munmap", (0x10000, 0x4000))
    assert ledger.held() == {}
    ledger.record("munmap", (0x10000, 0x4000), -22, B, parked=failed_call)  # EINVAL
    assert ledger.held() == {b: 0x4000}  # given back


def test_mremap_onto_another_s_mapping_and_a_file_s_growth():
    ledger = Ledger()
    mmap(ledger, 0x200000, 0x10000, A)  # the victim
    mmap(ledger, 0x300000, 0x4000, B)
    parked = ledger.enter("mremap", (0x300000, 0x4000, 0x10000, 3, 0x200000))
    ledger.record("mremap", (0x300000, 0x4000, 0x10000, 3, 0x200000), 0x200000, B,
                  parked=parked)
    a, b = ledger.stack_id(A), ledger.stack_id(B)
    assert ledger.held() == {b: 0x10000}
    assert (ledger.use[a].mapped, ledger.use[a].unmapped) == (0x10000, 0x10000)
    mmap(ledger, 0x500000, 0x4000, A, prot=1, flags=0x2, fd=3)  # a file
    ledger.record("mremap", (0x500000, 0x4000, 0x10000, 1, 0), 0x600000, (0x7,))
    assert ledger.use[ledger.stack_id((0x7,))].kinds == {"file"}


def test_a_late_start_knows_the_heap_s_end_and_the_reservations():
    ledger = Ledger()
    ledger.seed(0x555555600000, [(0x7FFFE8000000, 0x7FFFEC000000)])
    ledger.record("brk", (0x555555601000,), 0x555555601000, A)  # sbrk(4096)
    ledger.record("mprotect", (0x7FFFE8000000, 0x21000, RW), 0, B)
    a, b = ledger.stack_id(A), ledger.stack_id(B)
    assert ledger.held() == {a: 0x1000, b: 0x21000}
    assert ledger.use[b].kinds == {"arena"}


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["map", "enter", "return"]), st.integers(0, 31),
                          st.integers(1, 8), st.integers(0, 2)), max_size=50))
def test_threads_interleaved_are_what_a_page_model_says(steps):
    """Three threads: maps are whole; an unmap takes its pages at its entry and settles at
    its return, with other threads' maps between. Held is what the pages say."""
    ledger, pages = Ledger(), {}
    stacks = [(0x1000 + n,) for n in range(3)]
    pending: dict[int, tuple] = {}
    for op, first, count, tid in steps:
        start, size = 0x100000 + first * 0x1000, count * 0x1000
        if op == "map":
            mmap(ledger, start, size, stacks[tid], flags=ANON | MAP_FIXED)
            for p in range(first, first + count):
                pages[p] = ledger.stack_id(stacks[tid])
        elif op == "enter" and tid not in pending:
            pending[tid] = ((start, size), ledger.enter("munmap", (start, size)))
            for p in range(first, first + count):
                pages.pop(p, None)
        elif op == "return" and tid in pending:
            args, parked = pending.pop(tid)
            ledger.record("munmap", args, 0, stacks[tid], parked=parked)
    expected: dict[int, int] = {}
    for sid in pages.values():
        expected[sid] = expected.get(sid, 0) + 0x1000
    assert ledger.held() == expected


def test_malloc_s_pool_is_its_own_site():
    ledger = Ledger()
    names = {0x1: ("__brk", None, None), 0x2: ("sysmalloc", "malloc.c", 1),
             0x3: ("malloc", "malloc.c", 2), 0x10: ("batch", "t.c", 5),
             0x11: ("leak", "t.c", 9), 0x12: ("grow", "t.c", 12), 0x4: ("sbrk", None, None)}
    resolve = lambda pc: Frame(pc, *names[pc])  # noqa: E731
    ledger.record("brk", (0,), 0x555555559000, (0x1, 0x2, 0x3, 0x10))
    ledger.record("brk", (0x55555557A000,), 0x55555557A000, (0x1, 0x2, 0x3, 0x10))
    ledger.record("brk", (0x55555559B000,), 0x55555559B000, (0x1, 0x2, 0x3, 0x11))
    ledger.record("brk", (0x55555559C000,), 0x55555559C000, (0x1, 0x4, 0x12))  # sbrk(4096)
    found = {s.frame.function: s for s in sites(ledger, resolve)}
    pool = found["[heap]"]
    assert (pool.pool, pool.held, pool.calls) == ("heap", 0x42000, 3)
    assert [(f.function, size) for f, size in pool.grown_by] == [("batch", 0x21000),
                                                                  ("leak", 0x21000)]
    assert "batch" not in found and "leak" not in found
    assert (found["grow"].held, found["grow"].pool) == (0x1000, None)  # a direct sbrk
    assert pool.to_dict(1)["grown_by"][0] == {"pc": 0x10, "function": "batch", "file": "t.c",
                                              "line": 5, "bytes": 0x21000}


def test_the_toolchain_s_frames_are_folded():
    frames = [Frame(1, "__mmap64", None, None), Frame(2, "malloc", None, None),
              Frame(3, "operator new(unsigned long)", None, None),
              Frame(4, "std::__new_allocator<int>::allocate",
                    "/usr/include/c++/12/bits/new_allocator.h", 137),
              Frame(5, "std::vector<int>::_M_realloc_insert<int const&>",
                    "/usr/include/c++/12/bits/vector.tcc", 445),
              Frame(6, "fill_vector", "grow.cpp", 12)]
    assert site_frame(frames).function == "fill_vector"
    rust = [Frame(1, "malloc", None, None), Frame(2, "__rdl_alloc", None, None),
            Frame(3, "alloc::raw_vec::RawVecInner<A>::try_allocate_in",
                  "/rustc/17067e9ac6d7e98f18d4a3a1ac1b8e5c3b9e3b1a/library/alloc/src/raw_vec.rs",
                  476),
            Frame(4, "alloc::raw_vec::finish_grow<alloc::alloc::Global>",
                  "/rustc/17067e9ac6d7e98f18d4a3a1ac1b8e5c3b9e3b1a/library/alloc/src/raw_vec.rs",
                  690),
            Frame(5, "grow::fill_vec", "src/main.rs", 4)]
    assert site_frame(rust).function == "grow::fill_vec"
