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
