"""Snapshots that cost what changed (testprogs/leaks cache: its 16 slots filled in the first
16 ticks, then only rewritten): a hit where the kernel's counters and the map did not change
carries the last full read, marked so; a change forces a full read; the full read comes back
at its interval; --exact reads every time; the verdicts are those of full reads."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.gdb.conftest import ROOT, assert_no_traceback, build, run_gdb

TICKS = 40
CARRIED = "python import gdbmem.commands.state as s; " \
          "print(''.join('c' if r.carried else 'f' for r in s.state().session.records))"


@pytest.fixture(scope="module")
def leaks():
    return build("leaks")


def hunt(leaks, tmp_path, mode, *setup, on="memsnap on tick"):
    session = run_gdb([f"set gdbmem snapshot-dir {tmp_path}/j", *setup, on, "run", CARRIED,
                       "memsnap list --json", "memsnap trend --json"], leaks,
                      [mode, str(TICKS), str(tmp_path)], before=())
    assert_no_traceback(session)
    return session, session.output(CARRIED).strip()


def test_hits_where_nothing_changed_carry_and_say_so(leaks, tmp_path):
    carried, pattern = hunt(leaks, tmp_path / "a", "cache")
    exact, every = hunt(leaks, tmp_path / "b", "cache", on="memsnap on tick --exact")
    # The slots fill during the first 16 ticks: from the 17th hit on, nothing changes.
    assert pattern == "f" * 16 + "c" * (TICKS - 16)
    assert every == "f" * TICKS
    listed = carried.json("memsnap list --json")
    assert [r["carried"] for r in listed] == [p == "c" for p in pattern]
    assert [r["rss_kb"] for r in listed] == [r["rss_kb"] for r in exact.json(
        "memsnap list --json")]
    a, b = carried.json("memsnap trend --json"), exact.json("memsnap trend --json")
    assert a["verdict"] == b["verdict"]
    assert [(r["key"], r["verdict"], r["series_kb"]) for r in a["regions"]] == [
        (r["key"], r["verdict"], r["series_kb"]) for r in b["regions"]]


def test_a_change_at_every_hit_reads_in_full(leaks, tmp_path):
    session, pattern = hunt(leaks, tmp_path, "heap")
    assert pattern == "f" * TICKS
    assert session.json("memsnap trend --json")["verdict"] == "leak"


def test_the_full_read_comes_back_at_its_interval(leaks, tmp_path):
    _, pattern = hunt(leaks, tmp_path, "cache", "set gdbmem memsnap-full-every 5")
    assert pattern == "f" * 16 + ("ccccf" * TICKS)[:TICKS - 16]  # a full read every 5th hit


def test_a_journal_marks_what_it_carried(leaks, tmp_path):
    session, pattern = hunt(leaks, tmp_path, "cache")
    (journal,) = (tmp_path / "j").iterdir()
    marked = [json.loads(line).get("carried", False) for line in journal.read_bytes().split(b"\n")
              if line.startswith(b'{"format":"gdbmem-snapshot-1"')]
    assert marked == [p == "c" for p in pattern]
    outside = subprocess.run([sys.executable, "-m", "gdbmem", "trend", str(journal), "--json"],
                             capture_output=True, text=True, timeout=60, cwd=ROOT)
    assert json.loads(outside.stdout)["verdict"] == session.json("memsnap trend --json")[
        "verdict"]
