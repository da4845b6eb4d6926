"""memcheck in real gdb: findings on the layout testprog, thresholds as settings, and the
`growing` finding from memsnap's snapshots."""

from __future__ import annotations

import json

from tests.gdb.conftest import assert_no_traceback, assert_one_clean_line, build, run_gdb


def test_findings_and_thresholds(layout_program, tmp_path):
    gdb = run_gdb(["memcheck --json", "memcheck", "set gdbmem check-anon-rss 512",
                   "show gdbmem check-anon-rss", "memcheck --json", "memcheck --bogus",
                   "help memcheck"], layout_program, [str(tmp_path)])
    assert_no_traceback(gdb)
    (deleted,) = gdb.json("memcheck --json")  # the first run: default thresholds
    assert deleted["finding"] == "deleted-file"
    assert deleted["regions"] == [f"{tmp_path}/layout-deleted.bin (deleted)"]
    text = gdb.output("memcheck").splitlines()
    assert text[0] == "memcheck: 1 finding"
    assert text[1].split() == ["Finding", "Why", "Where"]
    assert text[3].split()[:3] == ["deleted-file", "mapped", "files"]
    assert text[3].endswith(f"{tmp_path}/layout-deleted.bin (deleted)")
    assert gdb.output("show gdbmem check-anon-rss").strip() == (
        "kB resident in one anonymous region that is large: 512.")
    lowered = json.loads(gdb.nth("memcheck --json", 1)["output"])
    large = [f for f in lowered if f["finding"] == "large-anonymous"]
    assert [f["regions"] for f in large] == [["0x200000000000-0x200000300000 anon"]]
    assert_one_clean_line(gdb.error("memcheck --bogus"))
    assert "check-swap-share" in gdb.output("help memcheck")


def test_growing_from_snapshots(tmp_path):
    leaks = build("leaks")
    gdb = run_gdb([f"set gdbmem snapshot-dir {tmp_path}", "memsnap on tick",
                   "break tick if i == 19", "run", "memcheck --json"], leaks,
                  ["heap", "40", str(tmp_path)], before=())
    findings = gdb.json("memcheck --json")
    growing = [f for f in findings if f["finding"] == "growing"]
    assert len(growing) == 1 and growing[0]["regions"] == ["[heap]"]


def test_a_healthy_process_with_a_jit_gets_no_warning():
    """testprogs/jitlike.c: JIT code in rwx anonymous memory, a 96 MiB anonymous heap."""
    gdb = run_gdb(["memcheck --json", "memcheck"], build("jitlike"))
    assert_no_traceback(gdb)
    findings = gdb.json("memcheck --json")
    assert [(f["finding"], f["severity"]) for f in findings] == [("jit-code", "note")]
    assert findings[0]["regions"] == ["0x320000000000-0x320000010000 anon"]
    why = ("1 anonymous region (64K) writable and executable: code a JIT compiles (a JVM, "
           "node, ...)")
    width = len(why)
    assert gdb.output("memcheck").splitlines() == [
        "memcheck: 1 finding (a note: nothing to act on)",
        "Finding          " + "Why".ljust(width) + "  Where",
        "---------------  " + "-" * width + "  " + "-" * len("0x320000000000-0x320000010000 anon"),
        "jit-code (note)  " + why + "  0x320000000000-0x320000010000 anon"]
