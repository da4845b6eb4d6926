"""gdbmem's promises, outside gdb: files published whole and together, stale parts swept,
journals created exclusively and read back whole or with their torn tail dropped, records
with impossible numbers refused, one series per process, totals over unknowns unknown,
negative sizes refused, sparse dumps hashed by their data, and the gdbmem command's odd
input answered in one line."""

from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
import sys
import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gdbmem.analysis.checks import DEFAULTS
from gdbmem.analysis.totals import process_summary, totals
from gdbmem.errors import OutputError, ParseError, UsageError
from gdbmem.model import Hole, Snapshot
from gdbmem.proc import parse_smaps
from gdbmem.render.checks import check_report
from gdbmem.render.growth import diff_report, trend_report
from gdbmem.safefile import SafeFile, create_exclusive, publish, sweep, temporary_name
from gdbmem.scan.dump import dump, extents_digest
from gdbmem.scan.walk import Piece
from gdbmem.store.codec import read_records
from gdbmem.store.journal import Journal, new_journal
from gdbmem.store.record import Record
from gdbmem.store.session import Session
from tests.helpers import ROOT, fixture, older_saved_line

SMAPS = fixture("layout.smaps")


def gdbmem(*argv: str, cwd=None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "gdbmem", *argv], capture_output=True,
                          text=True, timeout=60, cwd=cwd,
                          env=dict(os.environ, PYTHONPATH=str(ROOT)))


def one_line_error(done: subprocess.CompletedProcess, expected: str) -> None:
    assert done.returncode == 2, (done.stdout, done.stderr)
    assert done.stderr.count("\n") == 1 and "Traceback" not in done.stderr, done.stderr
    assert expected in done.stderr, done.stderr


# Files ---------------------------------------------------------------------------------------

def test_files_published_together_or_not_at_all(tmp_path):
    (tmp_path / "b.json").write_text("already here")
    data = SafeFile(str(tmp_path / "b"), publish_now=False)
    meta = SafeFile(str(tmp_path / "b.json"), force=True, publish_now=False)
    with data as out:
        out.write(b"dump")
    with meta as out:
        out.write(b"{}")
    (tmp_path / "b.json").unlink()
    os.mkdir(tmp_path / "b.json")  # became a directory meanwhile: the second cannot publish
    with pytest.raises(OutputError, match="is a directory"):
        publish([data, meta])
    assert sorted(os.listdir(tmp_path)) == ["b.json"]  # the first was taken back
    assert os.listdir(tmp_path / "b.json") == []


def test_a_long_name_keeps_a_short_temporary_name(tmp_path):
    name = "n" * 250
    with SafeFile(str(tmp_path / name)) as out:
        assert len(os.path.basename(out.temporary)) < 128
        out.write(b"x")
    assert os.listdir(tmp_path) == [name]


def test_stale_parts_of_dead_writers_are_swept(tmp_path):
    """Only files provably gdbmem's: its name form with the right MAC, 0600, regular, ours."""
    gone = subprocess.Popen(["true"])  # a pid that has exited
    gone.wait()
    stale = tmp_path / temporary_name("dump.bin", gone.pid)
    stale.write_bytes(bytes(8192))
    forged = temporary_name("dump.bin", gone.pid)
    kept = [tmp_path / temporary_name("dump.bin", os.getppid()),  # a live pid
            tmp_path / (forged[:-len("0123456789ab.part")] + "0123456789ab.part"),  # bad MAC
            tmp_path / f".dump.bin.{gone.pid}.12345678.part",  # an older form: unprovable
            tmp_path / f".old.bin.{gone.pid}.part",
            tmp_path / f".thesis.{gone.pid}.part",  # a user's own file that looks alike
            tmp_path / f"{temporary_name('dump.bin', gone.pid)}.txt",  # not ours
            tmp_path / "dump.bin"]
    for path in kept:
        path.write_bytes(b"k")
        path.chmod(0o600)
    loose = tmp_path / temporary_name("loose.bin", gone.pid)  # the right name, mode 0644
    loose.write_bytes(b"k")
    loose.chmod(0o644)
    kept.append(loose)
    stale.chmod(0o600)
    os.mkdir(tmp_path / temporary_name("d", gone.pid))  # not a regular file
    said = []
    with SafeFile(str(tmp_path / "new.bin"), notify=said.append) as out:
        out.write(b"n")
    assert not stale.exists() and all(p.exists() for p in kept)
    assert said == [f"removed {stale} (8K on disk), left by a gdbmem that was killed while "
                    "writing"]
    assert sweep(str(tmp_path)) == []


def test_growing_files_are_created_exclusively(tmp_path):
    precious = tmp_path / "precious"
    precious.write_text("mine")
    os.chmod(precious, 0o644)
    (tmp_path / "snapshots-1.jsonl").symlink_to(precious)
    with pytest.raises(OutputError, match="gdbmem never appends to a file it did not create"):
        create_exclusive(str(tmp_path / "snapshots-1.jsonl"))
    journal = new_journal(str(tmp_path), "snapshots-1")
    assert journal.path == str(tmp_path / "snapshots-1-2.jsonl")
    journal.append(Record(1, 1.0, SMAPS))
    journal.close()
    assert precious.read_text() == "mine" and oct(precious.stat().st_mode)[-3:] == "644"
    assert oct(os.stat(journal.path).st_mode)[-3:] == "600"
    with pytest.raises(OutputError, match="cannot use the directory"):
        new_journal(str(precious / "sub"), "x")


# Journals --------------------------------------------------------------------------------------

HEAP_RSS = b"Rss:                  72 kB"  # the heap's line in layout.smaps


def journal_bytes(directory) -> tuple[bytes, list[int]]:
    """A journal written by a session: a first record, one the same, one whose heap grew
    (a delta of one block), one with a region more (a delta with a new block); and where
    each record ends in the file."""
    grown = SMAPS.replace(HEAP_RSS, b"Rss:                  76 kB", 1)
    extra = (b"7ffff7ff0000-7ffff7ff1000 rw-p 00000000 00:00 0 \nSize:                  4 kB\n"
             b"Rss:                   4 kB\n")
    at = SMAPS.index(b"\n7ffff7") + 1
    added = grown[:at] + extra + grown[at:]
    session, ends = Session(), []
    for n, smaps in enumerate((SMAPS, SMAPS, grown, added)):
        session.add(Record(7, 100.0 + n, smaps, label=f"#{n}", pc=0x401000 + n),
                    lambda: str(directory))
        ends.append(session.journal.size)
    with open(session.journal.path, "rb") as fh:
        return fh.read(), ends


def test_a_session_journals_what_changed_and_reads_back_the_same(tmp_path):
    whole, ends = journal_bytes(tmp_path)
    sizes = [b - a for a, b in zip([0, *ends], ends)]
    assert sizes[1] < 400 and sizes[2] < 1500 < len(SMAPS) < sizes[0]  # same; one block
    assert sizes[3] < 400  # the grown heap is the record before's: only the new region
    records = read_records(whole)
    grown = SMAPS.replace(HEAP_RSS, b"Rss:                  76 kB", 1)
    assert [r.smaps == s for r, s in zip(records, (SMAPS, SMAPS, grown))] == [True] * 3
    assert len(records[3].snapshot.regions) == len(records[0].snapshot.regions) + 1
    heap = next(r for r in records[2].snapshot.regions if r.path == "[heap]")
    assert heap.rss_kb == 76
    # In memory, unchanged blocks are the very same bytes objects as the record before's.
    assert records[2].blocks[0] is records[1].smaps_blocks()[0] or records[1].blocks is None


@pytest.fixture(scope="module")
def journal(tmp_path_factory):
    return journal_bytes(tmp_path_factory.mktemp("journal"))


@settings(max_examples=200, deadline=None)
@given(data=st.data())
def test_a_journal_cut_anywhere_loads_its_complete_records(journal, data):
    whole, ends = journal
    cut = data.draw(st.integers(0, len(whole)))
    said: list[str] = []
    records = read_records(whole[:cut], "j", said.append)
    complete = sum(1 for end in ends if end <= cut)
    assert [r.label for r in records] == [f"#{n}" for n in range(complete)]
    assert said == ([] if cut in (0, *ends) else [
        f"j: the last record is cut short (gdb was killed while writing it?): dropped; "
        f"{complete} complete snapshot{'s' if complete != 1 else ''} read"])
    if cut not in (0, *ends):
        with pytest.raises(ParseError):  # without `torn`, as strict as before
            read_records(whole[:cut], "j")


def test_damage_inside_a_journal_is_still_an_error(tmp_path):
    whole, ends = journal_bytes(tmp_path)
    damaged = whole[:ends[0]] + b"{not json}\n" + whole[ends[0]:]
    with pytest.raises(ParseError, match="line"):
        read_records(damaged, "j", lambda message: None)


@pytest.mark.parametrize("key, raw, why", [
    ("pid", "Infinity", "pid is not a whole number"),
    ("pid", "1e400", "pid is not a whole number"),
    ("pid", "true", "pid is not a whole number"),
    ("pid", "-1", "pid is not a whole number"),
    ("pc", "1e400", "pc is not a whole number"),
    ("taken_at", "NaN", "taken_at is not a finite number"),
    ("threads", "[[1, 2, 1e99]]", "a stack pointer is not a whole number"),
    ("label", '{"x": 1}', "label is not a string"),
])
def test_records_with_impossible_numbers_are_refused(key, raw, why):
    record = json.loads(older_saved_line(Record(1, 5.0, b"")))
    record[key] = "@"
    line = json.dumps(record).replace('"@"', raw) + "\n"
    with pytest.raises(ParseError, match=why):
        read_records(line.encode())


def test_deep_nesting_is_a_parse_error():
    with pytest.raises(ParseError, match="not a snapshot record"):
        read_records(b'{"x":' * 100000 + b"1" + b"}" * 100000 + b"\n")


def test_the_session_keeps_snapshots_when_the_journal_fails(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("")
    session, said = Session(), []
    for n in range(3):
        assert session.add(Record(1, float(n), SMAPS), lambda: str(blocker / "j"),
                           said.append) == n + 1
    assert len(said) == 1 and said[0].startswith("the journal stopped (cannot use the directory")
    assert session.journal_state().startswith("stopped: cannot use the directory")
    session.clear()
    session.add(Record(1, 9.0, SMAPS), lambda: str(tmp_path / "ok"), said.append)
    assert session.journal_state().startswith(str(tmp_path / "ok" / "snapshots-"))


def test_a_full_disk_takes_the_part_written_back(tmp_path):
    journal = Journal.__new__(Journal)
    journal.path, journal.size = "/dev/full", 0
    journal.fd = os.open("/dev/full", os.O_WRONLY)
    with pytest.raises(OutputError, match="cannot append to the journal /dev/full"):
        journal.append(Record(1, 1.0, SMAPS))
    journal.close()


# One series per process ------------------------------------------------------------------------

def snapshots_of(*pids: int) -> list[Snapshot]:
    return [Record(pid, float(n), SMAPS).snapshot for n, pid in enumerate(pids)]


def test_trend_and_diff_follow_one_process():
    mixed = snapshots_of(10, 10, 11, 11, 10)
    with pytest.raises(UsageError, match=r"of 2 processes \(10, 11\): a trend follows one, "
                                         "so choose it with --pid N"):
        trend_report(mixed, 64, True)
    assert json.loads(trend_report(mixed, 64, True, pid=10))["snapshots"] == 3
    with pytest.raises(UsageError, match="no snapshot is of process 12"):
        trend_report(mixed, 64, True, pid=12)
    with pytest.raises(UsageError, match="#1 is of process 10 and #3 of process 11"):
        diff_report(mixed[0], mixed[2], 1, 3, True)
    # A capture that does not say its pid (0) goes with any.
    assert json.loads(trend_report(snapshots_of(0, 10, 10), 64, True))["snapshots"] == 3


def test_memcheck_judges_a_process_by_its_own_snapshots():
    grown = SMAPS.replace(b"Rss:                  72 kB", b"Rss:                 9072 kB", 1)
    other = [Record(99, float(n), grown if n > 2 else SMAPS).snapshot for n in range(8)]
    live = Record(10, 9.0, SMAPS).snapshot
    assert json.loads(check_report(live, other, DEFAULTS, 64, True)) == [
        {"finding": "deleted-file", "why": "mapped files deleted or replaced on disk since "
         "(an upgrade under a running process?)",
         "regions": ["/tmp/tmp.L6H94ykvre/layout-deleted.bin (deleted)"],
         "severity": "warning"}]


# Figures ---------------------------------------------------------------------------------------

def test_a_total_over_an_unknown_is_unknown(tmp_path):
    cut = SMAPS[: SMAPS.rindex(b"Swap:")]  # the last region loses Swap and what follows
    regions = parse_smaps(cut)
    assert regions[-1].swap_kb is None and regions[0].swap_kb == 0
    assert totals(regions).swap_kb is None and totals(regions).rss_kb == 2796
    assert process_summary(None, regions).swap_kb is None
    (tmp_path / "cut.smaps").write_bytes(cut)
    done = gdbmem("map", str(tmp_path / "cut.smaps"), "-k")
    assert done.returncode == 0, done.stderr
    *_, total, summary = done.stdout.splitlines()
    assert total.split()[:5] == ["72472", "2796", "1569", "1364", "?"]
    assert "Swap ?" in summary


@pytest.mark.parametrize("line", [b"Rss:                  -5 kB", b"Rss:                 - kB"])
def test_a_negative_size_is_a_parse_error(line):
    bad = SMAPS.replace(b"Rss:                  72 kB", line, 1)
    with pytest.raises(ParseError, match="Rss is not a number of kB"):
        parse_smaps(bad)
    wide = SMAPS.replace(b"Locked:                0 kB", b"Locked:               -1 kB", 1)
    with pytest.raises(ParseError, match="Locked is not a number of kB"):
        parse_smaps(wide)[0].fields["Locked"]


# Sparse dumps -----------------------------------------------------------------------------------

def test_a_sparse_dumps_digest_is_of_its_data(tmp_path):
    pieces = [Piece(0x1000, b"a" * 100, None), Piece(0x1064, None, Hole(0x1064, 0x9000, "x")),
              Piece(0x9000, b"b" * 50, None)]
    written = bytearray()
    result = dump(pieces, written.extend, lambda n: written.extend(bytes(n)), hash_holes=False)
    assert result.sha256 == hashlib.sha256(b"a" * 100 + b"b" * 50).hexdigest()
    assert result.sha256 == extents_digest(lambda o, n: bytes(written[o:o + n]), len(written),
                                           result.holes, 0x1000)
    full = dump(pieces, lambda b: None, lambda n: None)
    assert full.sha256 == hashlib.sha256(bytes(written)).hexdigest()


def test_verify_a_dump(tmp_path):
    data = b"a" * 4096 + bytes(8192) + b"b" * 4096
    (tmp_path / "d.bin").write_bytes(data)
    holes = [{"start": 0x11000, "end": 0x13000, "reason": "not resident"}]
    digest = hashlib.sha256(b"a" * 4096 + b"b" * 4096).hexdigest()
    description = {"start": 0x10000, "size": len(data), "holes": holes, "sha256": digest,
                   "sha256_of": "data extents"}
    (tmp_path / "d.bin.json").write_text(json.dumps(description))
    done = gdbmem("verify", str(tmp_path / "d.bin"))
    assert done.stdout == (f"{tmp_path}/d.bin: ok (the sha256 of its data extents is the one "
                           "described)\n")
    (tmp_path / "d.bin").write_bytes(data[:-1] + b"c")
    one_line_error(gdbmem("verify", str(tmp_path / "d.bin.json")), "does not match")
    (tmp_path / "d.bin.json").write_text("{")
    one_line_error(gdbmem("verify", str(tmp_path / "d.bin")), "not a memdump description")


# The gdbmem command's odd input -----------------------------------------------------------------

@pytest.mark.parametrize("content", [
    '{"format":"gdbmem-snapshot-1","pid":Infinity,"taken_at":1,"smaps":""}',
    '{"format":"gdbmem-snapshot-1","pid":1,"pc":1e400,"taken_at":1,"smaps":""}',
    '{"format":"gdbmem-snapshot-1","pid":1,"taken_at":NaN,"smaps":""}',
    '{"x":' * 50000 + "1" + "}" * 50000,
])
def test_bad_records_get_one_line(tmp_path, content):
    (tmp_path / "bad.jsonl").write_text(content + "\n")
    for command in ("trend", "map", "check"):
        one_line_error(gdbmem(command, str(tmp_path / "bad.jsonl"), "--json"),
                       "not a snapshot record")


def test_capture_odd_input(tmp_path):
    existing = tmp_path / "a-file"
    existing.write_text("")
    pid = str(os.getpid())
    for out, expected in ((existing, "cannot use the directory"),
                          ("/proc/foo", "cannot use the directory"),
                          ("/dev/full", "cannot use the directory")):
        one_line_error(gdbmem("capture", pid, "--count", "1", "--out", str(out)), expected)
    one_line_error(gdbmem("capture", pid, "--every", "99999999999999h", "--out", str(tmp_path)),
                   "longer than a week")
    one_line_error(gdbmem("capture", "999999999", "--out", str(tmp_path / "none")),
                   "no process 999999999")
    assert not (tmp_path / "none").exists()


def test_a_sample_of_a_process_that_exits_is_dropped(tmp_path):
    from gdbmem.cli import _sample

    child = subprocess.Popen(["sleep", "30"])
    try:
        for _ in range(500):  # until the loader has mapped libc: the map is then settled
            if b"libc.so" in _sample(child.pid):
                break
            time.sleep(0.01)
        whole = _sample(child.pid).count(b"\nVmFlags:")
        assert whole > 5
        child.kill()
        # While it exits its smaps loses one mapping after another: every read from the kill
        # on is either the whole map (the signal not yet taken) or no sample at all.
        seen = set()
        while child.poll() is None:
            data = _sample(child.pid)
            seen.add(None if data is None else data.count(b"\nVmFlags:"))
        assert seen <= {whole, None}
    finally:
        child.wait()
    assert _sample(child.pid) is None  # gone


@settings(max_examples=60, deadline=None)
@given(edits=st.lists(st.tuples(st.sampled_from(["same", "grow", "add", "remove"]),
                                st.integers(0, 40)), min_size=1, max_size=24))
def test_a_session_gives_back_every_smaps_it_was_given(tmp_path_factory, edits):
    """Kept as blocks shared between records, most records' lists let go, and journalled as
    deltas: every record's smaps is still byte for byte what was read, in memory and from
    the journal."""
    from gdbmem.store.delta import split_blocks

    directory = tmp_path_factory.mktemp("session")
    blocks = split_blocks(SMAPS)
    taken = [SMAPS]
    session = Session()
    session.add(Record(3, 0.0, SMAPS), lambda: str(directory))
    for n, (edit, where) in enumerate(edits, 1):
        at = where % len(blocks)
        if edit == "grow":  # its Rss figure grows by 4 kB
            blocks[at] = re.sub(rb"(Rss:\s+)(\d+)", lambda m: m.group(1) + str(
                int(m.group(2)) + 4).encode(), blocks[at], count=1)
        elif edit == "add":
            blocks.insert(at, f"{0x500000000000 + n * 4096:x}-{0x500000001000 + n * 4096:x}"
                              " rw-p 00000000 00:00 0 \nRss:                   4 kB\n".encode())
        elif edit == "remove" and len(blocks) > 1:
            del blocks[at]
        smaps = b"".join(blocks)
        taken.append(smaps)
        session.add(Record(3, float(n), smaps), lambda: str(directory))
    assert [r.smaps for r in session.records] == taken
    assert sum(r.blocks is not None for r in session.records) <= 2 + len(taken) // 8
    # Snapshots made of blocks parsed once are what a parse of their text gives.
    for record, smaps in zip(session.records, taken):
        direct = Record(3, 0.0, smaps).snapshot.regions
        assert [(r.start, r.end, r.perms, r.path, r.rss_kb, r.kind, dict(r.fields))
                for r in record.snapshot.regions] == [
            (r.start, r.end, r.perms, r.path, r.rss_kb, r.kind, dict(r.fields)) for r in direct]
    with open(session.journal.path, "rb") as fh:
        assert [r.smaps for r in read_records(fh.read())] == taken


def test_journals_are_bounded_the_oldest_first(tmp_path):
    now = time.time()
    old = []
    head = b'{"format":"gdbmem-snapshot-1"}\n'  # how a journal of gdbmem's begins
    for n in range(3):
        path = tmp_path / f"snapshots-{n + 10}-{1000 + n}.jsonl"
        path.write_bytes(head + bytes(400_000 - len(head)))
        path.chmod(0o600)
        os.utime(path, (now - 3600 * (3 - n), now - 3600 * (3 - n)))
        old.append(path)
    (tmp_path / "notes.txt").write_bytes(bytes(500_000))  # not a journal: never counted
    # Named like one, but a user's own (not a journal's first bytes), the oldest of all.
    alike = tmp_path / "snapshots-1-1.jsonl"
    alike.write_bytes(b"my notes\n" + bytes(500_000))
    alike.chmod(0o600)
    os.utime(alike, (now - 9000, now - 9000))
    session, said = Session(), []
    for n in range(3):
        session.add(Record(1, now + n, SMAPS), lambda: str(tmp_path), said.append,
                    lambda: 900_000)
    assert [p.exists() for p in old] == [False, True, True]  # 800K + this one's under 900K
    assert (tmp_path / "notes.txt").exists() and os.path.exists(session.journal.path)
    assert alike.read_bytes().startswith(b"my notes")
    assert said == [f"removed 1 old journal (390K) from {tmp_path}, the oldest first: together "
                    "they stay under 878K (set gdbmem journal-max-size); said once"]
    session.add(Record(1, now + 9, SMAPS), lambda: str(tmp_path), said.append, lambda: 1)
    assert len(said) == 1 and os.path.exists(session.journal.path)  # never the current one
