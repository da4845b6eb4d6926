"""gdbmem's promises, second round, in real gdb: odd input gets one line, commands behave
as gdb users expect (memsnap off is no snapshot, memsnap on twice is one breakpoint), help
has examples, completion offers region names and options, a failed load changes nothing."""

from __future__ import annotations

import os

import pytest

from tests.gdb.conftest import assert_error, assert_no_traceback, build, run_gdb

GOOD = ('{"format":"gdbmem-trace-1","call":"mmap","args":[0,4096,3,34,0],"result":1048576,'
        '"length":0,"pcs":[4198400],"tid":1,"time":1.0}\n')
SHORT = ('{"format":"gdbmem-trace-1","call":"munmap","args":[0],"result":0,"pcs":[],"tid":1,'
         '"time":1}\n')


@pytest.fixture(scope="module")
def gdb(layout_program, tmp_path_factory):
    d = tmp_path_factory.mktemp("again")
    (d / "bad.jsonl").write_text(GOOD + SHORT)
    commands = [
        f"memdump $sp -8 {d}/f1.bin", f"memdump $sp 0xffffffffffffffff {d}/f2.bin",
        "print $vma_start(1.5)", "memsnap off", "memsnap trnd", "memsnap one", "memsnap list",
        "memtrace foo", "memsnap trend --top 3", f"memsnap load {d}/bad.jsonl",
        "memtrace list --json",
        "help memsnap list", "help memsnap clear", "help memtrace off", "help memtrace clear",
        "help memsnap",
        "complete memmap [h", "complete vmainfo --j", "complete memdump --r",
        "complete memdump [he", "complete memtrace --region [h", "complete memstrings [st",
        "complete memmap libc.so", "complete memdump [heap] --fo",
    ]
    return run_gdb(commands, layout_program, [str(d)]), d


def test_odd_input_gets_one_line(gdb):
    session, d = gdb
    assert_no_traceback(session)
    for command in (f"memdump $sp -8 {d}/f1.bin", f"memdump $sp 0xffffffffffffffff {d}/f2.bin"):
        assert_error(session, command, "E, more than a file can hold")
    assert not [n for n in os.listdir(d) if n.startswith(("f1", "f2", ".f"))]
    assert_error(session, "print $vma_start(1.5)", "(1.5), not an address")
    assert_error(session, "memtrace foo", "memtrace: unrecognized arguments: foo (see")
    assert_error(session, "memsnap trend --top 3", "unrecognized arguments: --top 3 (see")


def test_a_failed_load_changes_nothing(gdb):
    session, d = gdb
    assert_error(session, f"memsnap load {d}/bad.jsonl", "line 2")
    assert "a munmap has 5 arguments" in session.error(f"memsnap load {d}/bad.jsonl")
    assert session.json("memtrace list --json") == []  # no junk site of the good first line


def test_memsnap_words_that_are_no_label(gdb):
    session, _ = gdb
    assert_error(session, "memsnap off", "no subcommand 'off'")
    assert "`delete N`" in session.error("memsnap off")
    assert_error(session, "memsnap trnd", "did you mean `memsnap trend`?")
    assert session.output("memsnap one").startswith("memsnap: #1 one taken")
    rows = [line for line in session.output("memsnap list").splitlines() if " one " in line]
    assert len(rows) == 1  # one snapshot: the label, never `off` or `trnd`


def test_help_has_examples(gdb):
    session, _ = gdb
    for command in ("memsnap list", "memsnap clear", "memtrace off", "memtrace clear"):
        assert "Example" in session.output(f"help {command}"), command
    usage = session.output("help memsnap").split("positional arguments")[0]
    for sub in ("on", "take", "list", "show", "diff", "trend", "clear", "save", "load",
                "report"):
        assert sub in usage, sub


def test_completion_offers_names_and_options(gdb):
    session, _ = gdb
    assert session.output("complete memmap [h") == "memmap [heap]\n"
    assert session.output("complete vmainfo --j") == "vmainfo --json\n"
    assert session.output("complete memdump --r") == "memdump --resident-only\n"
    assert session.output("complete memdump [he") == "memdump [heap]\n"
    assert session.output("complete memtrace --region [h") == "memtrace --region [heap]\n"
    assert session.output("complete memstrings [st") == "memstrings [stack]\n"
    assert session.output("complete memmap libc.so") == "memmap libc.so.6\n"
    assert session.output("complete memdump [heap] --fo") == "memdump [heap] --force\n"


def test_memsnap_on_twice_is_one_breakpoint(tmp_path):
    leaks = build("leaks")
    session = run_gdb([f"set gdbmem snapshot-dir {tmp_path}", "memsnap on tick",
                       "memsnap on tick", "run", "memsnap list --json"], leaks,
                      ["small", "5", str(tmp_path)], before=())
    assert_no_traceback(session)
    assert session.nth("memsnap on tick", 1)["output"].startswith("memsnap: already on:")
    assert len(session.json("memsnap list --json")) == 5


def test_two_processes_report_and_trend_by_pid_and_stable_regions_fold(tmp_path):
    """Two runs: a report, as a trend, asks for --pid N, and takes it; the trend folds its
    stable regions into one line, and --all lists them."""
    leaks = build("leaks")
    report = tmp_path / "r.html"
    last_pid = "import gdbmem.commands.state as s; pid = s.state().session.records[-1].pid; "
    session = run_gdb([
        f"set gdbmem snapshot-dir {tmp_path}/j", "memsnap on tick", "run", "run",
        f"memsnap report {report}",
        f"python {last_pid}gdb.execute('memsnap report {report} --pid %d' % pid)",
        f"python {last_pid}print(gdb.execute('memsnap trend --pid %d' % pid, to_string=True))",
        f"python {last_pid}"
        "print(gdb.execute('memsnap trend --all --pid %d' % pid, to_string=True))",
    ], leaks, ["heap", "24", str(tmp_path)], before=())
    assert_no_traceback(session)
    assert_error(session, f"memsnap report {report}", "choose it with --pid N")
    assert session.results[5]["ok"], session.results[5]["error"]
    assert "gdbmem-report-1" in report.read_text()
    folded, every = (r["output"] for r in session.results[-2:])
    assert "stable regions (--all lists them)" in folded and "[heap]" in folded
    assert "stable" not in "".join(line.split()[0] for line in folded.splitlines()[3:-2])
    assert len(every.splitlines()) > len(folded.splitlines())
