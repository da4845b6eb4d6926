"""gdbmem's settings, declared once as data: every one listed by `show gdbmem`, values out of
range refused in one line (the setting keeping its value), help for each."""

from __future__ import annotations

from tests.gdb.conftest import assert_error, assert_no_traceback, run_gdb

NAMES = ["colour", "style", "table-format", "debug", "snapshot-dir", "journal-max-size",
         "memsnap-full-every", "memsnap-full-seconds", "leak-min-growth", "check-anon-rss",
         "check-anon-regions", "check-large-region", "check-dirty-share", "check-swap-share"]


def test_show_lists_every_setting_and_ranges_hold(layout_program, tmp_path):
    gdb = run_gdb(["show gdbmem", "set gdbmem check-dirty-share 150",
                   "show gdbmem check-dirty-share", "set gdbmem check-dirty-share 80",
                   "show gdbmem check-dirty-share",
                   "set gdbmem journal-max-size 99999999999999999999999T",
                   "set gdbmem journal-max-size 10k", "show gdbmem journal-max-size",
                   "set gdbmem check-anon-regions 0", "show gdbmem nope",
                   "help set gdbmem leak-min-growth"], layout_program, [str(tmp_path)])
    assert_no_traceback(gdb)
    lines = gdb.output("show gdbmem").splitlines()
    assert [line.split(":")[0] for line in lines] == NAMES
    assert "leak-min-growth: memsnap trend counts growth from 64 kB." in lines
    assert "check-dirty-share: percent of a large region Private_Dirty that is suspicious: 90." \
        in lines
    assert_error(gdb, "set gdbmem check-dirty-share 150",
                 "check-dirty-share: 150 is out of range: from 0 to 100")
    assert gdb.nth("show gdbmem check-dirty-share", 0)["output"].endswith(": 90.\n")
    assert gdb.nth("show gdbmem check-dirty-share", 1)["output"].endswith(": 80.\n")
    assert_error(gdb, "set gdbmem journal-max-size 99999999999999999999999T",
                 "journal-max-size: ")
    assert "out of range: from 1M to 1P" in gdb.error(
        "set gdbmem journal-max-size 99999999999999999999999T")
    assert_error(gdb, "set gdbmem journal-max-size 10k", "10K is out of range")
    assert gdb.output("show gdbmem journal-max-size") == (
        "memsnap's journals take at most 1G together.\n")
    assert_error(gdb, "set gdbmem check-anon-regions 0", "from 1 to")
    assert_error(gdb, "show gdbmem nope", "no setting 'nope'")
    assert "Usage: set gdbmem leak-min-growth KB" in gdb.output("help set gdbmem leak-min-growth")
