"""The heap layer without gdb: the walk, mallinfo2 and the leak check on census.cpp's memory as
captured at its checkpoint (tests/fixtures/capture_heap.py), the marking against a plain
transcription of memcheck's algorithm on fuzzed graphs, the census's helpers, and a corrupted
heap that must give a HeapError, never another exception or a hang."""

from __future__ import annotations

import bisect
import json

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gdbmem.errors import HeapError
from gdbmem.heap import reach
from gdbmem.heap.census import _text, census, group, type_name
from gdbmem.heap.chunks import (
    FASTBIN,
    IN_USE,
    MALLOC,
    TCACHE,
    TOP,
    HeapInput,
    HeapThread,
)
from gdbmem.heap.layout import glibc_version, layout_for
from gdbmem.heap.memory import Memory
from gdbmem.heap.walk import walk_heap
from gdbmem.model import Region
from tests.helpers import FIXTURES

# What valgrind's leak check says at the same checkpoint of the same program (tests/gdb/
# test_heap.py compares memleak with valgrind itself).
VALGRIND = {"definitely_lost": 7, "indirectly_lost": 9, "possibly_lost": 4,
            "still_reachable": 229}


class Captured:
    """The captured process: its map, threads and memory."""

    def __init__(self) -> None:
        data = np.load(FIXTURES / "census-heap.npz")
        self.meta = json.loads(str(data["meta"]))
        self.segments = {int(k[1:], 16): data[k].tobytes() for k in data.files if k != "meta"}
        self.starts = sorted(self.segments)

    def regions(self) -> list[Region]:
        return [Region(start, end, perms, 0, path=path, kind=kind)
                for start, end, perms, path, kind in self.meta["regions"]]

    def threads(self) -> list[HeapThread]:
        return [HeapThread(n, lwp, fs, sp, tuple(regs), fn)
                for n, lwp, fs, sp, regs, fn in self.meta["threads"]]

    def read_into(self, address: int, view: memoryview) -> int:
        i = bisect.bisect_right(self.starts, address) - 1
        if i < 0:
            return 0
        start = self.starts[i]
        data = self.segments[start]
        offset = address - start
        if offset >= len(data):
            return 0
        got = min(len(view), len(data) - offset)
        view[:got] = data[offset:offset + got]
        return got

    def input(self, symbols: bool = True) -> HeapInput:
        layout = layout_for(tuple(self.meta["version"]))
        return HeapInput(self.regions(), layout,
                         self.meta["main_arena"] if symbols else None,
                         self.meta["mp"] if symbols else None, self.threads())


@pytest.fixture(scope="module")
def captured():
    return Captured()


def test_mallinfo2_equals_glibcs_with_and_without_symbols(captured):
    for symbols in (True, False):
        heap = walk_heap(Memory(captured.read_into), captured.input(symbols))
        assert heap.mallinfo2() == captured.meta["mallinfo2"]
        assert heap.main_arena == captured.meta["main_arena"]
        assert heap.mp == captured.meta["mp"]  # found by its structure when no symbols
        assert heap.found_by == ("symbols" if symbols else "structure")


def test_where_each_chunk_is(captured):
    heap = walk_heap(Memory(captured.read_into), captured.input())
    states = dict(zip(*np.unique(heap.state, return_counts=True)))
    assert states[TCACHE] == 15 + 7 and states[FASTBIN] == 1 and states[TOP] == 2
    assert states[MALLOC] == 2  # the two threads' tcache structs
    assert states[IN_USE] == sum(VALGRIND.values())
    assert sorted((t.thread, t.chunks, t.bytes) for t in heap.tcaches) == [(1, 15, 1824),
                                                                          (2, 7, 560)]
    assert (heap.n_mmaps, heap.mmapped_mem) == (3, 3 * 303104)


def test_leak_check_equals_valgrind(captured):
    mem = Memory(captured.read_into)
    heap = walk_heap(mem, captured.input(symbols=False))
    leaks = reach.leak_check(mem, heap, captured.regions(), captured.threads())
    assert {k: v["blocks"] for k, v in leaks.totals().items()} == VALGRIND


def test_census_types(captured):
    mem = Memory(captured.read_into)
    heap = walk_heap(mem, captured.input())
    def name_of(address: int):
        return None  # no symbols here: types come from gdb (tests/gdb/test_heap.py)

    found = census(mem, heap, captured.regions(), name_of)
    types = {g.key: g.chunks for g in found.by_type()}
    assert types["text"] == 6  # the strdup'd strings
    assert sum(types.values()) == sum(VALGRIND.values())
    sizes = {g.key: g.chunks for g in found.sizes()}
    assert (sizes[208], sizes[303104]) == (40, 3)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_a_corrupted_heap_is_a_heap_error(captured, data):
    """Words of the heaps overwritten anywhere: an answer or a HeapError, nothing else."""
    heap_regions = [(r.start, r.end) for r in captured.regions() if r.kind in ("heap", "arena")
                    and r.start in captured.segments]
    start, _end = data.draw(st.sampled_from(heap_regions))
    original = captured.segments[start]
    words = np.frombuffer(original, dtype=np.uint64).copy()
    for _ in range(data.draw(st.integers(1, 4))):
        at = data.draw(st.integers(0, min(len(words), 4096) - 1))  # where the chunks are
        value = data.draw(st.sampled_from([0, 1, 0x10, 0x7FFF0, 2**63, int(words[at]) ^ 8,
                                           int(words[at]) + 16, 0xFFFFFFFFFFFFFFF0]))
        words[at] = value & (2**64 - 1)
    captured.segments[start] = words.tobytes()
    try:
        mem = Memory(captured.read_into)
        heap = walk_heap(mem, captured.input(data.draw(st.booleans())))
        reach.leak_check(mem, heap, captured.regions(), captured.threads())
    except HeapError as exc:
        assert "\n" not in str(exc)
    finally:
        captured.segments[start] = original


# memleak's marking against memcheck's algorithm ------------------------------------------


def memcheck(n: int, edges: list[tuple[int, int, bool]], roots: list[tuple[int, bool]]):
    """mc_leakcheck.c's marking, transcribed plainly: push with upgrades, then cliques."""
    state = ["unreached"] * n
    stack: list[int] = []

    def push(block: int, at_start: bool, prior_definite: bool) -> None:
        if state[block] == "reachable":
            return
        if at_start and prior_definite:
            state[block] = "reachable"
            stack.append(block)
        elif state[block] == "unreached":
            state[block] = "possible"
            stack.append(block)

    for block, at_start in roots:
        push(block, at_start, True)
    while stack:
        block = stack.pop()
        for source, target, at_start in edges:
            if source == block:
                push(target, at_start, state[block] == "reachable")
    for leader in range(n):
        if state[leader] != "unreached":
            continue
        clique = [leader]
        while clique:
            block = clique.pop()
            for source, target, _at_start in edges:
                if source == block and target != leader and state[target] == "unreached":
                    state[target] = "indirect"
                    clique.append(target)
    codes = {"reachable": reach.REACHABLE, "possible": reach.POSSIBLE,
             "indirect": reach.INDIRECT, "unreached": reach.DEFINITE}
    return [codes[s] for s in state]


def marked(n: int, edges: list[tuple[int, int, bool]], roots: list[tuple[int, bool]]):
    edges = sorted(edges, key=lambda e: e[0])
    source = np.array([e[0] for e in edges], dtype=reach.INDEX)
    target = np.array([e[1] for e in edges], dtype=reach.INDEX)
    is_start = np.array([e[2] for e in edges], dtype=bool)
    indptr = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(np.bincount(source, minlength=n), out=indptr[1:])
    graph = reach.Graph(indptr, source, target, is_start)
    root_target = np.array([r[0] for r in roots], dtype=reach.INDEX)
    root_start = np.array([r[1] for r in roots], dtype=bool)
    return reach.classify(n, graph, root_target, root_start).tolist()


@st.composite
def graphs(draw):
    n = draw(st.integers(1, 24))
    block = st.integers(0, n - 1)
    edges = draw(st.lists(st.tuples(block, block, st.booleans()), max_size=60))
    roots = draw(st.lists(st.tuples(block, st.booleans()), max_size=8))
    return n, edges, roots


@settings(max_examples=400, deadline=None)
@given(graphs())
def test_marking_equals_memchecks(graph):
    assert marked(*graph) == memcheck(*graph)


def test_a_long_list_is_marked_without_a_round_per_node():
    n = 200_000  # a list: root -> 0 -> 1 -> ... (depth first: the numpy rounds would crawl)
    edges = [(i, i + 1, True) for i in range(n - 1)]
    assert set(marked(n, edges, [(0, True)])) == {reach.REACHABLE}


@pytest.mark.parametrize(("edges", "roots", "expected"), [
    # valgrind's manual, "Memory leak detection": RRR is the root set, AAA and BBB blocks 0, 1.
    ([], [(1, True)], [reach.DEFINITE, reach.REACHABLE]),              # 1: RRR ---> BBB
    ([(0, 1, True)], [(0, True)], [reach.REACHABLE] * 2),              # 2: RRR ---> AAA ---> BBB
    ([], [], [reach.DEFINITE] * 2),                                     # 3: RRR   BBB
    ([(0, 1, True)], [], [reach.DEFINITE, reach.INDIRECT]),            # 4: RRR   AAA ---> BBB
    ([], [(1, False)], [reach.DEFINITE, reach.POSSIBLE]),              # 5: RRR ~~~> BBB
    ([(0, 1, True)], [(0, False)], [reach.POSSIBLE] * 2),              # 6: RRR ~~~> AAA ---> BBB
    ([(0, 1, False)], [(0, True)], [reach.REACHABLE, reach.POSSIBLE]),  # 7: RRR ---> AAA ~~~> BBB
    ([(0, 1, False)], [], [reach.DEFINITE, reach.INDIRECT]),           # 8: RRR   AAA ~~~> BBB
    ([(0, 1, False)], [(0, False)], [reach.POSSIBLE] * 2),             # 9: RRR ~~~> AAA ~~~> BBB
    ([(0, 1, True), (1, 0, True)], [], [reach.DEFINITE, reach.INDIRECT]),  # a lost cycle
])
def test_valgrinds_nine_cases(edges, roots, expected):
    assert marked(2, edges, roots) == expected


# The census's helpers ----------------------------------------------------------------------


def test_text_needs_four_printable_bytes_then_a_nul_or_eight():
    words = np.frombuffer(b"abcdefgh" b"abcd\0xyz" b"abc\0xyzw" b"\x01bcdefgh" b"ab\tde\nfg",
                          dtype=np.uint64)
    assert _text(words).tolist() == [True, True, False, False, True]


def test_type_names():
    assert type_name("vtable for Alpha + 16", False) == "Alpha"
    assert type_name("vtable for ns::Beta<int> + 16", False) == "ns::Beta<int>"
    assert type_name("PyList_Type", True) == "-> PyList_Type (+8)"
    assert type_name("some_function", True, ".text") is None  # a second word into code
    assert type_name("table + 24", False) is None  # inside another object: no type


@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(2, 1 << 20).map(lambda s: s * 16), min_size=1, max_size=300))
def test_counting_sizes_without_a_sort_equals_unique(sizes):
    keys = np.array(sizes, dtype=np.uint64)
    counted = group(keys, keys)
    uniq, counts = np.unique(keys, return_counts=True)
    expected = sorted(((int(k), int(c), int(k) * int(c)) for k, c in zip(uniq, counts)),
                      key=lambda g: (-g[2], -g[1], str(g[0])))
    assert [(g.key, g.chunks, g.bytes) for g in counted] == expected


def test_glibc_versions():
    banner = b"\0GNU C Library (Debian GLIBC 2.36-9+deb12u14) stable release version 2.36.\n"
    assert glibc_version(banner) == (2, 36)
    assert glibc_version(None, "/lib/x86_64-linux-gnu/libc-2.31.so") == (2, 31)
    assert glibc_version(b"no banner", "/lib/libc.so.6") is None
    assert layout_for((2, 36)).heap_info_size == 48
    assert layout_for((2, 31)).heap_info_size == 32
    with pytest.raises(HeapError, match=r"from 2\.30 on"):
        layout_for((2, 29))


def test_census_growth_per_arena():
    from gdbmem.heap.census import census_growth

    first = {"arenas": [{"arena": "main arena", "spans": [[0, 100]], "in_use": [3, 96],
                         "sizes": [[32, 3, 96]], "types": [["Alpha", 3, 96]]}]}
    last = {"arenas": [
        {"arena": "main arena", "spans": [[0, 100]], "in_use": [5, 1136],
         "sizes": [[1040, 1, 1040], [32, 4, 128]], "types": [["Alpha", 4, 128],
                                                             ["text", 1, 1040]]},
        {"arena": "arena 0x7f0000000030", "spans": [[200, 300]], "in_use": [1, 64],
         "sizes": [[64, 1, 64]], "types": [["unknown", 1, 64]]}]}
    main, thread = census_growth(first, last)
    assert main.sizes == [(1040, 1, 1040), (32, 1, 32)]
    assert main.types == [("text", 1, 1040), ("Alpha", 1, 32)]
    assert (thread.arena, thread.sizes) == ("arena 0x7f0000000030", [(64, 1, 64)])
    assert thread.overlaps(250, 260) and not thread.overlaps(0, 200)
    assert census_growth(last, last) == []


def test_a_census_goes_through_the_codec():
    from gdbmem.store.codec import encoded, read_records
    from gdbmem.store.record import Record

    record = Record(42, 1.5, b"", label="x")
    record.heap = {"arenas": [{"arena": "main arena", "spans": [[1, 2]], "in_use": [1, 32],
                               "sizes": [[32, 1, 32]], "types": [["text", 1, 32]]}],
                   "seconds": 0.001}
    (back,) = read_records(encoded(record))
    assert back.heap == record.heap
    (plain,) = read_records(encoded(Record(42, 1.5, b"")))
    assert plain.heap is None


def test_tcaches_without_thread_pointers_are_found_at_each_arenas_first_chunk(captured):
    """At a breakpoint's hit no thread pointer is read (memsnap --heap): each arena's first
    chunk, where glibc put its first thread's tcache, is checked and taken."""
    inp = captured.input()
    inp.threads = [t._replace(fs_base=None) for t in inp.threads]
    heap = walk_heap(Memory(captured.read_into), inp)
    assert sorted((t.thread, t.chunks) for t in heap.tcaches) == [(None, 7), (None, 15)]
    assert heap.mallinfo2() == captured.meta["mallinfo2"]
