"""memsnap in real gdb: snapshots at each hit of a breakpoint while testprogs/leaks.c runs to
its end, the verdict on each, and every subcommand with its bad input."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys

import pytest

from gdbmem.store.codec import read_records
from tests.gdb.conftest import (
    ROOT,
    assert_error,
    assert_no_traceback,
    assert_one_clean_line,
    build,
    run_gdb,
)

TICKS = 24


@pytest.fixture(scope="module")
def leaks():
    return build("leaks")


def trend_of(leaks, mode, tmp_path):
    session = run_gdb([f"set gdbmem snapshot-dir {tmp_path}", "memsnap on tick", "run",
                       "memsnap trend --json", "memsnap list --json"], leaks,
                      [mode, str(TICKS), str(tmp_path)], before=())
    assert_no_traceback(session)
    return session.json("memsnap trend --json"), session


@pytest.mark.parametrize("mode, key_kind", [
    ("heap", ("[heap]", "heap")), ("mmap", ("[anon]", "anon")), ("arena", (None, "arena")),
    ("file", (None, "file")),
])
def test_a_leak_is_found_where_it_is(leaks, tmp_path, mode, key_kind):
    trend, session = trend_of(leaks, mode, tmp_path)
    assert trend["verdict"] == "leak" and trend["snapshots"] == TICKS
    top = trend["regions"][0]  # largest growth first
    key, kind = key_kind
    assert (top["verdict"], top["kind"]) == ("leak", kind)
    if key is not None:
        assert top["key"] == key
    if mode == "file":
        assert top["key"] == f"{tmp_path}/leaks-file.bin" and top["path"] == top["key"]
    if mode == "arena":
        assert top["key"].startswith("arena@0x")
    assert len(top["series_kb"]) == TICKS
    assert [r["verdict"] for r in trend["regions"][1:]].count("leak") == 0
    growth = {"heap": 16, "mmap": 260, "arena": 32, "file": 64}[mode]
    assert top["growth_kb_per_snapshot"] == pytest.approx(growth, rel=0.1)
    assert len(session.json("memsnap list --json")) == TICKS


@pytest.mark.parametrize("mode", ["cache", "churn"])
def test_warm_up_and_churn_are_not_leaks(leaks, tmp_path, mode):
    trend, _ = trend_of(leaks, mode, tmp_path)
    assert trend["verdict"] == "stable"
    assert {r["verdict"] for r in trend["regions"]} <= {"stable", "shrinking"}


@pytest.fixture(scope="module")
def session(leaks, tmp_path_factory):
    d = tmp_path_factory.mktemp("snaps")
    commands = [
        f"set gdbmem snapshot-dir {d}/journal",
        "memsnap",  # no process yet
        "memsnap on tick --every 5", "run",
        "memsnap list", "memsnap list --json", "memsnap diff 1 4", "memsnap diff 1 4 --json",
        "memsnap show 2 --json", "memsnap show 2", "memsnap trend",
        f"memsnap save {d}/saved.jsonl", f"memsnap save {d}/saved.jsonl",
        "memsnap clear", "memsnap list", "memsnap trend",
        f"memsnap load {d}/saved.jsonl", "memsnap list --json",
        "memsnap diff 1 4 --json", "memsnap diff 2 3 --json", "memsnap trend --json",
        "memsnap diff 1 99", "memsnap show 0", "memsnap on no_such_function_here",
        "memsnap on tick --every 0", "memsnap --bogus", "memsnap diff one two",
        f"memsnap load {d}/missing.jsonl", f"memsnap load {d}/bad.jsonl",
        "help memsnap",
    ]
    (d / "bad.jsonl").write_text('{"format": "gdbmem-snapshot-1", "pid": "x"}\n')
    return run_gdb(commands, leaks, ["heap", "20", str(d)], before=()), d


def test_no_snapshot_without_a_process(session):
    gdb, _ = session
    message = gdb.error("memsnap")
    assert_one_clean_line(message)
    assert "no process" in message


def test_every_nth_hit_and_the_journal(session):
    gdb, d = session
    listed = gdb.nth("memsnap list --json", 0)
    records = json.loads(listed["output"])
    assert [r["label"] for r in records] == [f"hit {n} of tick" for n in (5, 10, 15, 20)]
    assert all(r["location"].startswith("tick at testprogs/leaks.c:") for r in records)
    assert [r["threads"] for r in records] == [1, 1, 1, 1]
    # Four taken; after `memsnap clear`, the four loaded back go to a new journal.
    journals = sorted(os.listdir(d / "journal"), key=lambda n: (len(n), n))
    assert len(journals) == 2 and journals[1] == journals[0].replace(".jsonl", "-2.jsonl")
    for journal in journals:
        written = read_records((d / "journal" / journal).read_bytes())
        assert [r.label for r in written] == [f"hit {n} of tick" for n in (5, 10, 15, 20)]
        assert stat.S_IMODE((d / "journal" / journal).stat().st_mode) == 0o600
    assert "journal: " in gdb.output("memsnap list")


def test_diff_and_show(session):
    gdb, _ = session
    result = gdb.json("memsnap diff 1 4 --json")
    heap = next(c for c in result["changes"] if c["key"] == "[heap]")
    assert heap["change"] == "grown"
    assert heap["rss_delta_kb"] == pytest.approx(15 * 16, abs=24)  # 15 ticks of 16 KiB
    assert result["changes"][0]["key"] == "[heap]"
    text = gdb.output("memsnap diff 1 4").splitlines()
    assert text[0].startswith("from #1 to #4") and "grown" in text[3] and "[heap]" in text[3]
    shown = gdb.json("memsnap show 2 --json")
    assert shown["number"] == 2 and shown["totals"]["rss_kb"] > 0
    assert any(r["kind"] == "heap" for r in shown["regions"])
    assert gdb.output("memsnap show 2").startswith("snapshot #2 hit 10 of tick")


def test_trend_table(session):
    gdb, _ = session
    lines = gdb.nth("memsnap trend", 0)["output"].splitlines()
    assert lines[0].startswith("process: leak")
    assert lines[3].split()[0] == "leak" and lines[3].split()[-1] == "[heap]"


def test_a_saved_file_reads_outside_gdb(session):
    gdb, d = session
    assert gdb[f"memsnap save {d}/saved.jsonl"]["ok"]  # written in gdb, read outside it
    done = subprocess.run([sys.executable, "-m", "gdbmem", "trend", f"{d}/saved.jsonl",
                           "--json"], capture_output=True, text=True, timeout=60, cwd=ROOT)
    trend = json.loads(done.stdout)
    assert (trend["verdict"], trend["snapshots"]) == ("leak", 4)
    assert trend["regions"][0]["key"] == "[heap]"


@pytest.mark.parametrize("in_gdb, outside, nth", [
    ("memsnap diff 1 4 --json", ["diff", "saved.jsonl", "--from", "1", "--to", "4"], 1),
    ("memsnap diff 2 3 --json", ["diff", "saved.jsonl", "--from", "2", "--to", "3"], 0),
    ("memsnap trend --json", ["trend", "saved.jsonl"], 0),
])
def test_gdb_and_the_gdbmem_command_print_the_same_report(session, in_gdb, outside, nth):
    gdb, d = session
    printed = gdb.nth(in_gdb, nth)  # after `memsnap load` of the saved file
    assert printed["ok"], printed["error"]
    done = subprocess.run([sys.executable, "-m", "gdbmem", *outside, "--json"],
                          capture_output=True, text=True, timeout=60, cwd=d,
                          env=dict(os.environ, PYTHONPATH=str(ROOT)))
    assert done.returncode == 0, done.stderr
    assert done.stdout == printed["output"]
    assert json.loads(done.stdout)  # and it is a report, not an empty one


def test_save_clear_load(session):
    gdb, d = session
    saved = f"{d}/saved.jsonl"
    assert gdb.output(f"memsnap save {saved}") == f"memsnap: 4 snapshots -> {saved}\n"
    assert "exists" in gdb.nth(f"memsnap save {d}/saved.jsonl", 1)["error"]
    assert gdb.output("memsnap clear") == "memsnap: 4 snapshots forgotten\n"
    assert gdb.nth("memsnap list", 1)["output"].startswith("memsnap: no snapshots yet")
    assert "a trend needs two snapshots or more" in gdb.nth("memsnap trend", 1)["error"]
    assert "4 snapshots loaded" in gdb.output(f"memsnap load {d}/saved.jsonl")
    assert len(json.loads(gdb.nth("memsnap list --json", 1)["output"])) == 4


BAD = {
    "memsnap diff 1 99": "no snapshot #99 (there are 1 to 4)",
    "memsnap show 0": "no snapshot #0",
    "memsnap on tick --every 0": "--every takes a number of hits",
    "memsnap --bogus": "unrecognized arguments: --bogus",
    "memsnap diff one two": "invalid int value",
}


@pytest.mark.parametrize("command", list(BAD))
def test_bad_input(session, command):
    assert_error(session[0], command, BAD[command])


def test_an_unknown_location_is_pending_as_with_break(session):
    gdb, _ = session
    text = gdb.output("memsnap on no_such_function_here")
    assert "(no_such_function_here) pending." in text  # gdb's own words, as `break` says
    assert text.splitlines()[-1].startswith("memsnap: breakpoint ")
    assert text.endswith(" at no_such_function_here is pending: nothing of that name is loaded "
                         "yet (a stripped program, a library not loaded); once it is, the "
                         "breakpoint takes a snapshot at each hit\n")


def test_bad_files(session):
    gdb, d = session
    assert "cannot read" in gdb.error(f"memsnap load {d}/missing.jsonl")
    message = gdb.error(f"memsnap load {d}/bad.jsonl")
    assert_one_clean_line(message)
    assert "line 1" in message and "not a snapshot record" in message
    assert_no_traceback(gdb)
    assert "memsnap on LOCATION" in gdb.output("help memsnap")


def test_stop_stops_at_the_nth_hit(leaks, tmp_path):
    gdb = run_gdb([f"set gdbmem snapshot-dir {tmp_path}", "memsnap on tick --every 3 --stop",
                   "run", "print i", "memsnap list --json"], leaks,
                  ["heap", "10", str(tmp_path)], before=())
    assert gdb.output("print i").strip() == "$1 = 2"  # the third hit: i = 2
    assert len(gdb.json("memsnap list --json")) == 1
