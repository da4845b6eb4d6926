"""State tied to gdb's events, in real gdb: memtrace's accounts follow the address space
(exec, kill and run, file and run), its names reach the journal as they are known (a gdb
killed mid-trace, memsnap clear), and each cache is emptied by its event."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys

import pytest

from tests.gdb.conftest import GDBINIT, ROOT, assert_no_traceback, build, run_gdb

SOURCES = ROOT / "testprogs"
LEAKS_SOURCE = (SOURCES / "leaks.c").read_text().splitlines()
EXECS_SOURCE = (SOURCES / "execs.c").read_text().splitlines()


def line_of(source: list[str], text: str) -> int:
    return next(n for n, line in enumerate(source, 1) if text in line)


MALLOC = line_of(LEAKS_SOURCE, "char *p = malloc(size);")
HOLD = line_of(EXECS_SOURCE, "void *p = mmap(NULL, 8 << 20")
BLOCK = 256 * 1024 + 4096  # leaks mmap: a 256 KiB malloc, a page of header rounding
HEAP = 128 * 1024 + 4096  # the first malloc's heap (glibc's top pad and a page)


@pytest.fixture(scope="module")
def programs():
    return build("leaks"), build("execs")


def by_site(sites: list[dict]) -> dict:
    return {(s["function"], s["file"], s["line"]): s for s in sites}


def test_an_exec_ends_the_old_image_s_account(programs, tmp_path):
    """execs maps 8 MiB, then becomes leaks: at leaks' third tick the report is leaks' own,
    named by its functions, without the old image's 8 MiB; the old account keeps them,
    named by execs' functions."""
    leaks, execs = programs
    gdb = run_gdb(["memtrace on", "break tick if i == 2", "run", "memtrace --json",
                   "memtrace list --json", "memtrace --account 1 --json"], execs,
                  ["1", str(leaks), "mmap", "5", str(tmp_path)], before=())
    assert_no_traceback(gdb)
    now = gdb.json("memtrace --json")
    assert all(s["function"] != "hold_before_exec" and s["file"] != "testprogs/execs.c"
               for s in now)
    touched = by_site(now)["touched", "testprogs/leaks.c", MALLOC]
    assert (touched["calls"], touched["held"]) == (3, 3 * BLOCK)
    assert by_site(now)["[heap]", None, None]["held"] == HEAP  # malloc's pool, the new one
    assert sum(s["held"] for s in now) < 8 << 20
    old, new = gdb.json("memtrace list --json")
    assert (old["account"], old["exe"], old["ended"]) == (1, str(execs), "exec")
    assert (new["account"], new["pid"], new["exe"], new["ended"]) == (
        2, old["pid"], str(leaks), None)
    hold = by_site(gdb.json("memtrace --account 1 --json"))[
        "hold_before_exec", "testprogs/execs.c", HOLD]
    assert (hold["calls"], hold["mapped"], hold["held"]) == (1, 8 << 20, 8 << 20)


def test_kill_and_run_again_start_afresh(programs, tmp_path):
    """The second run's account is its own: the heap's growth is counted whole (the first
    process's brk does not carry over) and nothing the first held is added."""
    leaks, _ = programs
    gdb = run_gdb(["memtrace on", "break tick if i == 2", "run", "memtrace --json", "kill",
                   "run", "memtrace --json", "memtrace list --json"], leaks,
                  ["heap", "5", str(tmp_path)], before=())
    assert_no_traceback(gdb)
    first = by_site(json.loads(gdb.nth("memtrace --json", 0)["output"]))
    second = by_site(json.loads(gdb.nth("memtrace --json", 1)["output"]))
    key = ("[heap]", None, None)  # malloc's pool, grown by touched()
    assert second[key]["kinds"] == ["heap"]
    assert [second[key][k] for k in ("calls", "mapped", "unmapped", "held")] == [
        first[key][k] for k in ("calls", "mapped", "unmapped", "held")]
    assert second[key]["mapped"] == second[key]["held"] >= 3 * 16 * 1024
    accounts = gdb.json("memtrace list --json")
    assert [(a["account"], a["ended"]) for a in accounts] == [(1, "exited"), (2, None)]
    assert accounts[0]["pid"] != accounts[1]["pid"]


def test_file_and_run_name_the_new_program_by_its_own_functions(programs, tmp_path):
    """Both are PIE programs loaded at the same base (gdb turns ASLR off): the same pcs mean
    other functions in each, and each account names its own."""
    leaks, execs = programs
    gdb = run_gdb(["memtrace on", "break tick if i == 1", "run", "memtrace --json", "kill",
                   f"file {execs}", "run 3", "memtrace --json", "memtrace --account 1 --json"],
                  leaks, ["mmap", "3", str(tmp_path)], before=())
    assert_no_traceback(gdb)
    b = gdb.nth("memtrace --json", 1)
    assert b["ok"], b["error"]
    sites = json.loads(b["output"])
    assert not [s for s in sites if s["file"] == "testprogs/leaks.c" or s["function"] in
                ("touched", "worker")]
    hold = by_site(sites)["hold_before_exec", "testprogs/execs.c", HOLD]
    assert hold["held"] == 8 << 20
    assert sum(s["held"] for s in sites) < 8 << 20 + 2 * BLOCK  # nothing of leaks' blocks
    a = by_site(gdb.json("memtrace --account 1 --json"))
    assert a["touched", "testprogs/leaks.c", MALLOC]["held"] == 2 * BLOCK


def trace_of(journal) -> list[dict]:
    done = subprocess.run([sys.executable, "-m", "gdbmem", "trace", str(journal), "--json"],
                          capture_output=True, text=True, timeout=60, cwd=ROOT)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_a_gdb_killed_mid_trace_leaves_a_named_journal(programs, tmp_path):
    """No memtrace report ever ran: the names went into the journal as they were known."""
    leaks, _ = programs
    journals = tmp_path / "j"
    done = subprocess.run(
        ["gdb", "-nx", "-batch", "-q", "-ex", f"source {GDBINIT}",
         "-ex", f"set gdbmem snapshot-dir {journals}", "-ex", "memtrace on",
         "-ex", "break tick if i == 3", "-ex", "run", "-ex", "shell kill -9 $PPID",
         "--args", str(leaks), "mmap", "10", str(tmp_path)],
        capture_output=True, text=True, timeout=120, env=dict(os.environ,
                                                               XDG_STATE_HOME=str(tmp_path)))
    assert done.returncode == -signal.SIGKILL, done.stderr
    (journal,) = journals.iterdir()
    touched = by_site(trace_of(journal))["touched", "testprogs/leaks.c", MALLOC]
    assert (touched["calls"], touched["held"]) == (4, 4 * BLOCK)


def test_memsnap_clear_keeps_the_names_in_each_journal(programs, tmp_path):
    """A clear closes the journal and the next is new: both name their own calls' sites."""
    leaks, _ = programs
    journals = tmp_path / "j"
    gdb = run_gdb([f"set gdbmem snapshot-dir {journals}", "memtrace on", "memsnap on tick",
                   "break tick if i == 3", "run", "memsnap clear", "continue"], leaks,
                  ["mmap", "10", str(tmp_path)], before=())
    assert_no_traceback(gdb)
    # snapshots-PID-T.jsonl, then snapshots-PID-T-2.jsonl (or a later T)
    first, second = sorted(journals.iterdir(), key=lambda p: (p.name.count("-"), p.name))
    before = by_site(trace_of(first))["touched", "testprogs/leaks.c", MALLOC]
    assert (before["calls"], before["held"]) == (4, 4 * BLOCK)
    after = by_site(trace_of(second))["touched", "testprogs/leaks.c", MALLOC]
    assert (after["calls"], after["held"]) == (6, 6 * BLOCK)  # the blocks of ticks 4 to 9


CACHES = ("python import gdbmem.caches as c; "
          "print(json.dumps({k.name: len(k) for k in c.REGISTRY}))")


def sizes(gdb, n: int) -> dict:
    return json.loads(gdb.nth(CACHES, n)["output"])


def test_each_cache_is_emptied_by_its_event(programs, tmp_path):
    """A snapshot at a hit fills the caches of a process (its open /proc files, its
    executable, its threads' stacks); the exec and the exit empty them. The regions a
    command parsed are given back when it ends."""
    leaks, execs = programs
    gdb = run_gdb(["python import json", "memsnap on tick", "break tick if i == 1", "run",
                   "memsnap list", CACHES, "catch exec", "continue", CACHES,
                   "continue", "memsnap list", CACHES, "memsnap clear", CACHES, "kill", CACHES],
                  execs, ["2", str(leaks), "arena", "3", str(tmp_path)], before=())
    assert_no_traceback(gdb)
    at_hit, after_exec, again, cleared, killed = (sizes(gdb, n) for n in range(5))
    process = ("open /proc files", "executable paths", "thread stacks")
    assert all(at_hit[name] > 0 for name in process), at_hit
    assert all(after_exec[name] == 0 for name in process), after_exec
    assert all(again[name] > 0 for name in process), again
    assert cleared["open /proc files"] > 0  # memsnap clear is not the process's end
    assert [s["parsed regions"] for s in (at_hit, again, cleared)] == [0, 0, 0]
    assert all(killed[name] == 0 for name in process), killed
