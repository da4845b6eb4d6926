"""memheap and memleak on testprogs/census.cpp, whose heap is known block by block: glibc's own
mallinfo2() at the stop, the program's own counts of what it holds, and valgrind's leak check
at the same point of the same program. Live, without libc's symbols, in a core, over
gdbserver; and a corrupted heap, a stop inside malloc, another allocator."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys

import pytest

from tests.gdb.conftest import (
    ROOT,
    assert_error,
    assert_no_traceback,
    build,
    gdbserver,
    run_gdb,
)

NO_SYMBOLS = ("-iex", "set debug-file-directory /nonexistent")
AT_CHECKPOINT = ("break checkpoint", "run")
JEMALLOC = "/usr/lib/x86_64-linux-gnu/libjemalloc.so.2"
COMMANDS = ["memheap --json", "memleak --json", "print g_mallinfo", "memheap", "memleak",
            "memheap --by size --limit 3", "memheap show 208 --json", "memheap show Alpha --json",
            "memheap show --limit 1 Beta", "memheap show nosuchtype", "memheap show 0x30 --json",
            "print/x (long)g_alpha[0]", "vmainfo g_alpha[0] --json", "vmainfo g_freed --json",
            "vmainfo g_interior[0] --json", "vmainfo g_mapped[1] + 4096 --json"]


@pytest.fixture(scope="module")
def program():
    return build("census-cpp")


@pytest.fixture(scope="module")
def live(program, tmp_path_factory):
    d = tmp_path_factory.mktemp("heap")
    session = run_gdb([*COMMANDS, f"gcore {d}/census.core"], program, before=AT_CHECKPOINT)
    return session, d / "census.core"


@pytest.fixture(scope="module")
def without_symbols(program):
    return run_gdb(COMMANDS, program, before=AT_CHECKPOINT, gdb_args=NO_SYMBOLS)


@pytest.fixture(scope="module", params=["symbols", "no symbols"])
def core(request, program, live):
    _session, core_file = live
    extra = NO_SYMBOLS if request.param == "no symbols" else ()
    return run_gdb(COMMANDS, None, before=(),
                   gdb_args=[*extra, str(program), str(core_file)])


@pytest.fixture(scope="module")
def remote(program, tmp_path_factory):
    if shutil.which("gdbserver") is None:
        pytest.skip("gdbserver is not installed (make setup installs it)")
    server, port = gdbserver(program)
    try:
        return run_gdb(COMMANDS, program, before=(f"target remote 127.0.0.1:{port}",
                                                  "break checkpoint", "continue"))
    finally:
        server.kill()
        server.wait()


_VALGRIND_RE = re.compile(r"(definitely lost|indirectly lost|possibly lost|still reachable): "
                          r"([\d,]+) bytes in ([\d,]+) blocks")


@pytest.fixture(scope="module")
def valgrind(program, tmp_path_factory):
    """valgrind's leak check at checkpoint() (VALGRIND_DO_LEAK_CHECK), blocks per category."""
    if shutil.which("valgrind") is None:
        pytest.skip("valgrind is not installed (make setup installs it)")
    log = tmp_path_factory.mktemp("valgrind") / "valgrind.log"
    subprocess.run(["valgrind", "--leak-check=summary", f"--log-file={log}", str(program)],
                   check=True, timeout=300, capture_output=True)
    counts = {}
    for kind, _bytes, blocks in _VALGRIND_RE.findall(log.read_text()):
        counts.setdefault(kind.replace(" ", "_"), int(blocks.replace(",", "")))  # the first
    return counts


def _mallinfo(printed: str) -> dict[str, int]:
    return {k: int(v) for k, v in re.findall(r"(\w+) = (\d+)", printed)}


def test_no_traceback(live, without_symbols):
    assert_no_traceback(live[0])
    assert_no_traceback(without_symbols)


def test_mallinfo2_is_glibcs_own(live, without_symbols):
    for session in (live[0], without_symbols):
        heap = session.json("memheap --json")
        assert heap["mallinfo2"] == _mallinfo(session.output("print g_mallinfo"))
        assert heap["glibc"] == "2.36"
    assert live[0].json("memheap --json")["found_by"] == "symbols"
    assert without_symbols.json("memheap --json")["found_by"] == "structure"


def test_arenas_tcaches_and_mmapped_chunks(live):
    heap = live[0].json("memheap --json")
    main, thread, mmapped = heap["arenas"]
    assert (main["arena"], main["threads"], thread["threads"]) == ("main arena", [1], [2])
    # The worker: 40 blocks of 64 bytes kept (80-byte chunks); of the 8 it freed, 7 sit in
    # its tcache and 1 in a fastbin.
    assert thread["in_use"] == {"chunks": 40, "bytes": 40 * 80}
    assert thread["free"]["tcache"] == {"chunks": 7, "bytes": 7 * 80}
    assert thread["free"]["fastbins"] == {"chunks": 1, "bytes": 80}
    # The main thread's tcache: 7 of the 10 freed 200-byte blocks, 7 of the 10 40-byte ones,
    # and the 16-byte block freed 4,000 times.
    assert main["free"]["tcache"] == {"chunks": 15, "bytes": 7 * 208 + 7 * 48 + 32}
    assert sum(main["free"][b]["chunks"] for b in ("unsorted", "small bins", "large bins")) \
        == heap["mallinfo2"]["ordblks"] - 2  # each arena's top is the other ordblk
    assert mmapped["in_use"] == {"chunks": 3, "bytes": 3 * 303104}  # 300,000 + 16, in pages
    tcaches = {t["thread"]: (t["chunks"], t["bytes"]) for t in heap["tcaches"]}
    assert tcaches == {1: (15, 1824), 2: (7, 560)}


def test_sizes_and_types_are_what_the_program_holds(live):
    heap = live[0].json("memheap --json")
    sizes = {s["size"]: s["chunks"] for s in heap["sizes"]}
    assert (sizes[208], sizes[3008], sizes[5008], sizes[303104]) == (40, 8, 1, 3)
    types = {t["type"]: (t["chunks"], t["bytes"]) for t in heap["types"]}
    assert types["Alpha"] == (5 + 2, 7 * 32)  # 5 kept, 2 lost: 24 bytes, 32-byte chunks
    assert types["Beta"] == (3, 3 * 48)
    assert types["text"] == (6, 6 * 48)  # strdup of 25 characters
    text = live[0].output("memheap")
    assert "main_arena at 0x" in text and "Alpha" in text and "arena 0x" in text
    lines = live[0].output("memheap --by size --limit 3").splitlines()
    assert [line.split()[0] for line in lines[-4:-1]] == ["303104", "72720", "3008"]
    assert lines[-1].startswith("... and ") and "Type" not in "".join(lines)


def test_show_samples_blocks(live):
    session = live[0]
    medium = session.json("memheap show 208 --json")
    assert len(medium) == 8 and all(b["size"] == 208 and b["usable"] == 200 for b in medium)
    assert all(b["bytes"] == "a3" * 64 for b in medium)
    alpha = session.json("memheap show Alpha --json")
    assert len(alpha) == 7 and {b["type"] for b in alpha} == {"Alpha"}
    assert int(session.output("print/x (long)g_alpha[0]").split("= ")[1], 16) in \
        {b["address"] for b in alpha}
    assert "1 of 3 blocks of type Beta" in session.output("memheap show --limit 1 Beta")
    assert_error(session, "memheap show nosuchtype", "no block in use is of type")
    assert {b["size"] for b in session.json("memheap show 0x30 --json")} == {48}


def test_memleak_equals_valgrind(live, without_symbols, valgrind):
    for session in (live[0], without_symbols):
        leaks = session.json("memleak --json")
        assert {k: leaks[k]["blocks"] for k in valgrind} == valgrind
    leaks = live[0].json("memleak --json")
    assert {k: leaks[k]["blocks"] for k in valgrind} == {
        "definitely_lost": 4 + 2 + 1, "indirectly_lost": 9, "possibly_lost": 3 + 1,
        "still_reachable": 229}


def test_memleak_groups_name_the_lost(live):
    groups = {(g["category"], g["size"], g["type"]): g["blocks"]
              for g in live[0].json("memleak --json")["groups"]}
    assert groups[("definitely_lost", 80, "unknown")] == 4  # 72 bytes, pointers dropped
    assert groups[("definitely_lost", 32, "Alpha")] == 2
    assert groups[("definitely_lost", 64, "unknown")] == 1  # the list's head
    assert groups[("indirectly_lost", 64, "unknown")] == 9  # the rest of the list
    assert groups[("possibly_lost", 272, "unknown")] == 3  # only pointers 40 bytes inside
    assert "definitely lost" in live[0].output("memleak")


def test_vmainfo_names_the_chunk(live):
    session = live[0]
    alpha = session.json("vmainfo g_alpha[0] --json")["chunk"]
    assert (alpha["size"], alpha["state"], alpha["type"]) == (32, "in use", "Alpha")
    assert alpha["leak"] == "still_reachable"  # memleak ran at this stop
    assert session.json("vmainfo g_freed --json")["chunk"]["state"] == "tcache"
    inside = session.json("vmainfo g_interior[0] --json")["chunk"]
    assert (inside["size"], inside["offset"], inside["leak"]) == (272, 40, "possibly_lost")
    mapped = session.json("vmainfo g_mapped[1] + 4096 --json")["chunk"]
    assert (mapped["size"], mapped["arena"]) == (303104, "mmapped")


def test_a_core_file_gives_the_same_answers(live, core):
    assert_no_traceback(core)
    for command in ("memheap --json", "memleak --json"):
        got, want = core.json(command), live[0].json(command)
        got.pop("found_by", None), want.pop("found_by", None)
        assert got == want


def test_gdbserver_gives_the_same_answers(live, remote):
    assert_no_traceback(remote)
    for command in ("memheap --json", "memleak --json"):
        assert remote.json(command) == live[0].json(command)


def test_a_corrupted_heap_is_one_line(program):
    session = run_gdb(["memheap", "memleak", "vmainfo g_small[10]"], program,
                      args=["corrupt"], before=AT_CHECKPOINT)
    assert_no_traceback(session)
    assert_error(session, "memheap", "has a bad size field 0x7fff0")
    assert_error(session, "memleak", "has a bad size field 0x7fff0")
    assert session["vmainfo g_small[10]"]["ok"]  # the mapping is still told


def test_a_stop_inside_malloc_says_so(program):
    session = run_gdb(["memheap", "memleak --json", "stepi 40", "memheap --json"], program,
                      args=["inmalloc"], before=("break stop_in_malloc", "run", "break free",
                                                 "continue"))
    assert_no_traceback(session)
    assert "thread 1 is stopped in" in session.output("memheap")
    after = session["memheap --json"]  # deep inside free: an answer with its note, or a line
    assert after["ok"] or "\n" not in after["error"].strip()


@pytest.mark.skipif(not shutil.os.path.exists(JEMALLOC),
                    reason="libjemalloc2 is not installed (make setup installs it)")
@pytest.mark.parametrize("extra", [(), NO_SYMBOLS], ids=["symbols", "no symbols"])
def test_another_allocator_is_named(program, extra):
    session = run_gdb(["memheap", "memleak"], program, before=(
        f"set environment LD_PRELOAD={JEMALLOC}", *AT_CHECKPOINT), gdb_args=extra)
    assert_no_traceback(session)
    assert_error(session, "memheap", "allocates with jemalloc (libjemalloc.so.2)")
    assert_error(session, "memleak", "allocates with jemalloc")


@pytest.fixture(scope="module")
def censused(tmp_path_factory):
    """leaks heap 12: 16 blocks of 1 KiB leaked per tick, a snapshot and a census at each."""
    d = tmp_path_factory.mktemp("censused")
    session = run_gdb(["memsnap on tick --heap", "break tick if i == 11", "run",
                       "memsnap trend --json", "memsnap trend", f"memsnap save {d}/saved.jsonl",
                       f"memsnap report {d}/report.html"], build("leaks"),
                      ["heap", "12", str(d)], before=(f"set gdbmem snapshot-dir {d}/journals",))
    return session, d


def test_the_trend_says_which_sizes_and_types_grew(censused):
    session, _d = censused
    assert_no_traceback(session)
    (heap,) = [r for r in session.json("memsnap trend --json")["regions"] if r["key"] == "[heap]"]
    (main,) = heap["heap"]
    # Censuses at ticks 0 to 11 (the stop at 11 is a hit of memsnap's breakpoint too): 11
    # ticks of 16 blocks of 1,024 bytes (1,040-byte chunks) since the first, all of them
    # written with 'Z' (text)
    assert main["arena"] == "main arena"
    assert main["sizes"][0] == {"size": 1040, "chunks": 176, "bytes": 176 * 1040}
    assert main["types"][0] == {"type": "text", "chunks": 176, "bytes": 176 * 1040}
    assert "[heap] (main arena): size 1040 +176 chunks" in session.output("memsnap trend")
    assert "a census of malloc's heap" in session.stderr + session.output("run")


def test_censuses_are_saved_and_read_outside_gdb(censused):
    session, d = censused
    done = subprocess.run([sys.executable, "-m", "gdbmem", "trend", f"{d}/saved.jsonl",
                           "--json"], capture_output=True, text=True, check=True,
                          cwd=ROOT)
    outside = json.loads(done.stdout)
    inside = session.json("memsnap trend --json")
    assert [r.get("heap") for r in outside["regions"]] == [r.get("heap")
                                                           for r in inside["regions"]]


def test_the_report_shows_the_census_and_the_leaks(censused):
    _session, d = censused
    page = (d / "report.html").read_text()
    data = json.loads(page.split('id="gdbmem-data">')[1].split("</script>")[0])
    assert data["heap"]["censuses"] == 12
    # At tick 11: 12 ticks of 16 blocks, each dropped (leaks.c keeps no pointer to them)
    lost = data["heap"]["leaks"]["definitely_lost"]
    assert lost["blocks"] == 12 * 16 - 1  # the last one's address is still in a register
    assert lost["bytes"] == lost["blocks"] * 1040
    assert "What grew from the first census to the last" in page


@pytest.fixture(scope="module")
def with_heaptrack(program):
    if shutil.which("heaptrack") is None:
        pytest.skip("heaptrack is not installed (make setup installs it)")
    return run_gdb(["memleak --json", "memleak", "vmainfo g_alpha[0] --json",
                    "vmainfo g_interior[2] --json", "vmainfo g_freed --json"], program,
                   before=("memtrace on --malloc", *AT_CHECKPOINT))


def test_memleak_names_allocation_sites_through_heaptrack(with_heaptrack):
    assert_no_traceback(with_heaptrack)
    groups = {(g["category"], g["size"], g["type"]): g
              for g in with_heaptrack.json("memleak --json")["groups"]}
    dropped = groups[("definitely_lost", 80, "unknown")]
    (site,) = dropped["sites"]
    # 4 blocks of 72 bytes asked for, by make_leaks (heaptrack counts what was asked)
    assert (site["function"], site["blocks"], site["requested"]) == ("make_leaks()", 4, 288)
    (alpha,) = groups[("definitely_lost", 32, "Alpha")]["sites"]
    assert (alpha["function"], alpha["requested"]) == ("make_leaks()", 2 * 24)
    (inner,) = groups[("possibly_lost", 272, "unknown")]["sites"]
    assert (inner["blocks"], inner["requested"]) == (3, 3 * 256)
    assert "Allocated by (heaptrack)" in with_heaptrack.output("memleak")


def test_vmainfo_names_the_allocation_site(with_heaptrack):
    alpha = with_heaptrack.json("vmainfo g_alpha[0] --json")["chunk"]["allocated_by"]
    assert (alpha["function"], alpha["requested"]) == ("make_heap()", 24)
    assert alpha["file"].endswith("census.cpp")
    inner = with_heaptrack.json("vmainfo g_interior[2] --json")["chunk"]
    assert (inner["offset"], inner["allocated_by"]["requested"]) == (40, 256)
    freed = with_heaptrack.json("vmainfo g_freed --json")["chunk"]
    assert freed["state"] == "tcache" and "allocated_by" not in freed  # free: no owner


def test_a_static_program_is_one_line(tmp_path):
    session = run_gdb(["memheap", "memleak", "vmainfo $sp"], build("leaks-static"),
                      ["heap", "3", str(tmp_path)], before=("break tick", "run"))
    assert_no_traceback(session)
    assert_error(session, "memheap", "no libc in the process (a static program")
    assert_error(session, "memleak", "no libc in the process")
    assert session["vmainfo $sp"]["ok"]


def test_vmainfo_finds_an_mmapped_chunk_before_any_walk(program):
    """Without memheap at this stop, vmainfo of an anonymous address reads the chunk headers
    at its mapping's start and walks the heap only when one holds it."""
    session = run_gdb(["vmainfo g_mapped[2] + 100 --json", "vmainfo g_mapped[0] --json"],
                      program, before=AT_CHECKPOINT)
    assert_no_traceback(session)
    for command in ("vmainfo g_mapped[2] + 100 --json", "vmainfo g_mapped[0] --json"):
        chunk = session.json(command)["chunk"]
        assert (chunk["size"], chunk["arena"], chunk["state"]) == (303104, "mmapped", "in use")
