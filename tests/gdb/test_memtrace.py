"""memtrace in real gdb on testprogs/leaks.c, whose call sites are known: each leak charged
to its function and line with the bytes it mapped, churn holding 0, the kinds right, vmainfo
naming the site of a leaked block, and bad input in one line."""

from __future__ import annotations

import json
import re
import subprocess
import sys

import pytest

from gdbmem.store.codec import read_records
from gdbmem.trace.account import Accounts
from tests.gdb.conftest import (
    ROOT,
    assert_error,
    assert_no_traceback,
    build,
    gdbserver,
    run_gdb,
    run_gdb_until_exit,
    waiting_to_be_attached,
)

TICKS = 10
SOURCE = (ROOT / "testprogs" / "leaks.c").read_text().splitlines()


def line_of(text: str) -> int:
    return next(n for n, line in enumerate(SOURCE, 1) if text in line)


MALLOC = line_of("char *p = malloc(size);")  # touched(): every malloc of the testprog
FILE_MAP = line_of("mmap(NULL, 16 * 4096, PROT_READ, MAP_PRIVATE, fd, 0)")
REMAP = line_of("mmap(NULL, 32 * 4096, PROT_READ | PROT_WRITE,")


@pytest.fixture(scope="module")
def leaks():
    return build("leaks")


HEAP = 128 * 1024 + 4096  # the heap the first malloc makes: glibc's top pad and a page


def pool_of(gdb, pool: str) -> dict:
    """malloc's pool ([heap] or [arena]) in a session's `memtrace --json`."""
    return next(s for s in gdb.json("memtrace --json") if s.get("pool") == pool)


def traced(leaks, mode, tmp_path, extra=()):
    gdb = run_gdb(["memtrace on", *extra, "run", "memtrace --json"], leaks,
                  [mode, str(TICKS), str(tmp_path)], before=())
    assert_no_traceback(gdb)
    return {(s["function"], s["line"]): s for s in gdb.json("memtrace --json")
            if s["file"] == "testprogs/leaks.c"}, gdb


def test_large_mallocs_are_charged_to_their_caller(leaks, tmp_path):
    found, gdb = traced(leaks, "mmap", tmp_path)
    site = found["touched", MALLOC]  # past malloc, sysmalloc and mmap64
    block = 256 * 1024 + 4096  # malloc's header rounds a 256 KiB block up a page
    assert (site["calls"], site["mapped"], site["unmapped"], site["held"]) == (
        TICKS, TICKS * block, 0, TICKS * block)
    assert site["kinds"] == ["anon"]
    assert [f["function"] for f in site["stack"]][-2:] == ["touched", "main"]
    # The first malloc also makes the heap: brk(0), then brk growing it by glibc's top pad
    # (128 KiB and a page on this glibc). That is malloc's pool, which touched() grew.
    pool = pool_of(gdb, "heap")
    assert (pool["calls"], pool["held"]) == (2, HEAP)
    assert [(g["function"], g["line"], g["bytes"]) for g in pool["grown_by"]] == [
        ("touched", MALLOC, HEAP)]


def test_a_file_mapped_again_and_again(leaks, tmp_path):
    found, _ = traced(leaks, "file", tmp_path)
    site = found["main", FILE_MAP]
    assert (site["calls"], site["held"], site["kinds"]) == (TICKS, TICKS * 64 * 1024, ["file"])


def test_a_site_that_maps_and_unmaps_holds_nothing(leaks, tmp_path):
    found, _ = traced(leaks, "remap", tmp_path)
    site = found["main", REMAP]
    assert (site["calls"], site["mapped"], site["unmapped"], site["held"]) == (
        TICKS, TICKS * 128 * 1024, TICKS * 128 * 1024, 0)


@pytest.mark.parametrize("mode, kind, least", [("heap", "heap", TICKS * 16 * 1024),
                                                ("arena", "arena", TICKS * 8 * 4096)])
def test_brk_is_the_heap_s_growth_and_mprotect_an_arena_s(leaks, tmp_path, mode, kind, least):
    """Grown from inside malloc: malloc's pool, which touched() grew (never its holding)."""
    found, gdb = traced(leaks, mode, tmp_path)
    assert ("touched", MALLOC) not in found
    pool = pool_of(gdb, kind)
    assert pool["kinds"] == [kind] and pool["function"] == f"[{kind}]"
    assert pool["held"] >= least and pool["held"] % 4096 == 0
    assert pool["unmapped"] == 0
    grown = {(g["function"], g["line"]): g["bytes"] for g in pool["grown_by"]}
    assert grown[("touched", MALLOC)] >= least


def test_vmainfo_names_the_site_and_memsnap_goes_on_beside_it(leaks, tmp_path):
    returns = line_of("    return p;")  # in touched(): p is a block just allocated
    gdb = run_gdb([f"set gdbmem snapshot-dir {tmp_path}/j", "memtrace on", "memsnap on tick",
                   "break tick if i == 4", "run", f"break leaks.c:{returns}", "continue",
                   "vmainfo p --json", "vmainfo p", "memsnap list --json"], leaks,
                  ["mmap", str(TICKS), str(tmp_path)], before=())
    assert_no_traceback(gdb)
    mapped_by = gdb.json("vmainfo p --json")["mapped_by"]
    assert (mapped_by["function"], mapped_by["file"], mapped_by["line"]) == (
        "touched", "testprogs/leaks.c", MALLOC)
    assert (f"  traced   mapped by touched at testprogs/leaks.c:{MALLOC} (memtrace)"
            in gdb.output("vmainfo p"))
    assert len(gdb.json("memsnap list --json")) == 5  # hits 1 to 5, then the stop


def test_bad_input(leaks, layout_program, tmp_path):
    gdb = run_gdb(["memtrace", "memtrace on", "memtrace on", "break tick if i == 2", "run",
                   "memtrace stack 999",
                   "memtrace --region nowhere", "memtrace --top 0", "memtrace on --depth 0",
                   "memtrace off", "memtrace off", "memtrace clear", "memtrace",
                   "help memtrace"], leaks, ["mmap", "3", str(tmp_path)], before=())
    assert_no_traceback(gdb)
    assert_error(gdb, "memtrace", "nothing traced yet")
    assert gdb.nth("memtrace on", 1)["output"].startswith("memtrace: already on")
    assert_error(gdb, "memtrace stack 999", "no site 999 (there are 1 to")
    assert_error(gdb, "memtrace --region nowhere", "nothing matches 'nowhere'")
    assert_error(gdb, "memtrace --top 0", "--top takes a number of sites")
    assert_error(gdb, "memtrace on --depth 0", "--depth takes a number of frames")
    assert gdb.nth("memtrace off", 0)["output"] == "memtrace: off\n"
    assert gdb.nth("memtrace off", 1)["error"] == "memtrace off: memtrace is not on"
    assert "memtrace stack SITE" in gdb.output("help memtrace")


def test_the_user_s_own_catchpoints_still_stop(leaks, tmp_path):
    """A catchpoint of the user's on a traced call stops there (memtrace records the call and
    leaves the stop alone); one whose condition fails does not stop; every call is traced."""
    plain, _ = traced(leaks, "remap", tmp_path)
    gdb = run_gdb(["memtrace on", "catch syscall munmap", "catch syscall mmap", "condition 3 0",
                   "run", "bt 1", "delete 2", "continue", "memtrace --json"], leaks,
                  ["remap", str(TICKS), str(tmp_path)], before=())
    assert_no_traceback(gdb)
    assert "munmap" in gdb.output("bt 1")  # stopped at the user's catchpoint 2, not mmap
    assert _own(gdb.json("memtrace --json")) == _own(list(plain.values()))


def test_next_and_finish_step_as_they_would_without_it(leaks, tmp_path):
    """A call traced while the user steps leaves the step alone: `next` over a line that
    mmaps stops at the next line, `finish` in the function that maps returns to its caller."""
    mmap_line = line_of("sink += (unsigned long)touched(256 * 1024);")
    gdb = run_gdb([f"break {mmap_line}", "run", "memtrace on", "next", "info line *$pc",
                   "delete 1", "break touched", "continue", "finish", "bt 1", "memtrace --json"],
                  leaks, ["mmap", "3", str(tmp_path)], before=())
    assert_no_traceback(gdb)
    assert gdb.output("info line *$pc").startswith(f"Line {mmap_line + 1} of")
    # back in the caller, in the call's line, not run on to the next stop
    assert re.fullmatch(rf"#0  (0x[0-9a-f]+ in )?main \(.*\) at testprogs/leaks.c:{mmap_line}\n",
                        gdb.output("bt 1"))
    site = traced_malloc(gdb)
    block = 256 * 1024 + 4096
    assert (site["calls"], site["held"]) == (2, 2 * block)
    assert pool_of(gdb, "heap")["held"] == HEAP  # the first malloc made the heap


def _own(sites: list[dict]) -> dict:
    """The testprog's own sites and their accounts."""
    return {(s["function"], s["line"]): (s["calls"], s["mapped"], s["unmapped"], s["held"],
                                         s["kinds"])
            for s in sites if s["file"] == "testprogs/leaks.c"}


@pytest.mark.parametrize("mode", ["arena", "mmap"])
def test_non_stop_mode_takes_up_every_thread_as_all_stop_does(leaks, tmp_path, mode):
    # arena: the worker thread (never the selected one) makes every call that leaks;
    # memsnap's breakpoint in that thread goes on beside memtrace.
    all_stop, _ = traced(leaks, mode, tmp_path)
    gdb = run_gdb_until_exit(
        ["set non-stop on", f"set gdbmem snapshot-dir {tmp_path}/j", "memtrace on",
         "memsnap on tick", "run &"],
        ["memtrace --json", "memsnap list --json"], leaks, [mode, str(TICKS), str(tmp_path)])
    assert_no_traceback(gdb)
    assert "not recorded" not in gdb.stdout
    non_stop = _own(gdb.json("memtrace --json"))
    assert non_stop == _own(list(all_stop.values()))
    pools = {s["pool"]: s for s in gdb.json("memtrace --json") if s.get("pool")}
    if mode == "arena":
        assert pools["arena"]["held"] >= TICKS * 8 * 4096 and pools["arena"]["unmapped"] == 0
        assert ("touched", MALLOC) not in non_stop
    else:
        calls, _, _, held, _ = non_stop["touched", MALLOC]
        assert (calls, held) == (TICKS, TICKS * (256 * 1024 + 4096))
        assert pools["heap"]["held"] == HEAP
    assert len(gdb.json("memsnap list --json")) == TICKS


def test_a_core_is_one_moment(layout_program, tmp_path):
    core = tmp_path / "core"
    made = run_gdb([f"gcore {core}"], layout_program, [str(tmp_path)])
    assert made[f"gcore {core}"]["ok"]
    gdb = run_gdb(["memtrace on"], None, before=(), gdb_args=[str(layout_program), str(core)])
    assert_error(gdb, "memtrace on", "a core file is one moment: memtrace needs a live process")


def test_memsnap_trend_names_the_sites_of_what_leaks(leaks, tmp_path):
    gdb = run_gdb([f"set gdbmem snapshot-dir {tmp_path}/j", "memtrace on", "memsnap on tick",
                   "run", "memsnap trend --json", "memsnap trend"], leaks,
                  ["mmap", str(TICKS), str(tmp_path)], before=())
    assert_no_traceback(gdb)
    (anon,) = [r for r in gdb.json("memsnap trend --json")["regions"] if r["key"] == "[anon]"]
    assert anon["verdict"] == "leak"
    top = anon["sites"][0]
    assert (top["function"], top["line"]) == ("touched", MALLOC)
    assert top["held"] >= (TICKS - 1) * (256 * 1024 + 4096)  # the blocks in [anon] at the end
    assert "sites" not in next(r for r in gdb.json("memsnap trend --json")["regions"]
                               if r["verdict"] == "stable")
    text = gdb.output("memsnap trend")
    assert ("call sites holding what grew (memtrace):\n"
            f"  [anon]: touched at testprogs/leaks.c:{MALLOC} holds") in text


def test_kept_in_the_journal_saved_loaded_and_read_outside_gdb(leaks, tmp_path):
    saved = tmp_path / "traced.jsonl"
    gdb = run_gdb([f"set gdbmem snapshot-dir {tmp_path}/j", "memtrace on", "memsnap on tick",
                   "run", "memtrace --json", f"memsnap save {saved}", "memsnap list"], leaks,
                  ["mmap", str(TICKS), str(tmp_path)], before=())
    assert_no_traceback(gdb)
    in_gdb = gdb.output("memtrace --json")
    assert gdb.output(f"memsnap save {saved}").startswith(f"memsnap: {TICKS} snapshots and ")
    outside = subprocess.run([sys.executable, "-m", "gdbmem", "trace", str(saved), "--json"],
                             capture_output=True, text=True, timeout=60, cwd=ROOT)
    assert outside.returncode == 0, outside.stderr
    assert outside.stdout == in_gdb  # one report, in gdb and outside it
    # The journal had each call as it happened (and the names, once memtrace reported).
    (journal,) = (tmp_path / "j").iterdir()
    accounts = Accounts()
    read_records(journal.read_bytes(), str(journal), None, accounts)
    (account,) = accounts.traced()
    assert len(account.events) == sum(s["calls"] for s in json.loads(in_gdb))
    from_journal = subprocess.run([sys.executable, "-m", "gdbmem", "trace", str(journal),
                                   "--json"], capture_output=True, text=True, timeout=60,
                                  cwd=ROOT)
    assert from_journal.stdout == in_gdb
    again = run_gdb([f"memsnap load {saved}", "memtrace --json"], leaks,
                    ["mmap", "1", str(tmp_path)], before=())
    assert again.output(f"memsnap load {saved}").startswith(
        f"memsnap: {TICKS} snapshots and {len(account.events)} traced calls loaded")
    assert again.output("memtrace --json") == in_gdb


def traced_malloc(gdb) -> dict:
    """The site of touched()'s malloc in a session's `memtrace --json`, which ran cleanly."""
    assert_no_traceback(gdb)
    return next(s for s in gdb.json("memtrace --json")
                if (s["function"], s["line"]) == ("touched", MALLOC))


def test_over_gdbserver(leaks, tmp_path):
    server, port = gdbserver(leaks, "mmap", 5, tmp_path)
    try:
        gdb = run_gdb(["memtrace on", "continue", "memtrace --json"], None,
                      before=(f"file {leaks}", f"target remote 127.0.0.1:{port}"))
    finally:
        server.kill()
        server.wait()
    site = traced_malloc(gdb)
    assert (site["calls"], site["held"]) == (5, 5 * (256 * 1024 + 4096))
    assert pool_of(gdb, "heap")["held"] == HEAP


def test_non_stop_over_gdbserver(leaks, tmp_path):
    all_stop, _ = traced(leaks, "arena", tmp_path)
    server, port = gdbserver(leaks, "arena", TICKS, tmp_path)
    try:
        gdb = run_gdb_until_exit(
            ["set non-stop on", f"target remote 127.0.0.1:{port}", "memtrace on", "continue &"],
            ["memtrace --json"], leaks)
    finally:
        server.kill()
        server.wait()
    assert_no_traceback(gdb)
    assert _own(gdb.json("memtrace --json")) == _own(list(all_stop.values()))


def test_after_attaching_to_a_running_process(leaks, tmp_path):
    """Attached mid-run, after 20 of 60 blocks were mapped: the 40 mapped from then on are
    charged to their site, exactly, and the 20 from before the attach are not."""
    with waiting_to_be_attached([leaks, "mmap", 60, tmp_path], tmp_path / "leaks.ready",
                                {"LEAKS_WAIT_AT": "20"}) as program:
        gdb = run_gdb(["memtrace on", "signal SIGUSR1", "memtrace --json"], None,
                      before=(f"attach {program.pid}",))
    assert_no_traceback(gdb)
    site = traced_malloc(gdb)
    block = 256 * 1024 + 4096
    assert (site["calls"], site["held"], site["mapped"]) == (40, 40 * block, 40 * block)
