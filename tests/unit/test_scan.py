"""scan.py (walking memory, dumps, strings), spans, pagemap runs and safe output files."""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import stat
import struct
import subprocess

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gdbmem.analysis.spans import Span, merge_holes, range_span, unmapped
from gdbmem.errors import OutputError, UsageError
from gdbmem.model import Hole, Region
from gdbmem.proc.pagemap import absent_runs
from gdbmem.safefile import SafeFile, check_new
from gdbmem.scan.dump import dump
from gdbmem.scan.strings import StringFinder, find_strings
from gdbmem.scan.walk import Piece, Unreadable, walk

PAGE = 4096
MEMORY = bytes(range(256)) * 64  # 16 KiB = 4 pages at BASE
BASE = 0x10000


def reader(bad_pages=(), all_or_nothing=False):
    """A fake process: MEMORY at BASE; reads stop at a bad page (like /proc/PID/mem), or
    fail whole when they touch one (like gdb)."""
    def read(address, size):
        page = (address - BASE) // PAGE
        if page in bad_pages:
            raise Unreadable(address)
        end = address + size
        if all_or_nothing and any(BASE + p * PAGE < end and BASE + (p + 1) * PAGE > address
                                  for p in bad_pages):
            raise Unreadable(address)
        for p in sorted(bad_pages):
            if BASE + p * PAGE > address:
                end = min(end, BASE + p * PAGE)
        return MEMORY[address - BASE:end - BASE]
    return read


def layout_of(pieces):
    return [(p.address, p.end, p.hole.reason if p.hole else "data") for p in pieces]


@pytest.mark.parametrize("all_or_nothing", [False, True])
def test_walk_makes_holes_of_only_the_bad_pages(all_or_nothing):
    pieces = list(walk(reader({1, 2}, all_or_nothing), BASE, BASE + 4 * PAGE, chunk=8 * PAGE))
    assert layout_of(pieces) == [(BASE, BASE + PAGE, "data"),
                                 (BASE + PAGE, BASE + 3 * PAGE, "unreadable"),
                                 (BASE + 3 * PAGE, BASE + 4 * PAGE, "data")]


def test_walk_skips_what_it_is_told_to():
    skip = [Hole(BASE + PAGE, BASE + 2 * PAGE, "not resident")]
    pieces = list(walk(reader(), BASE, BASE + 3 * PAGE, skip, chunk=PAGE))
    assert layout_of(pieces) == [(BASE, BASE + PAGE, "data"),
                                 (BASE + PAGE, BASE + 2 * PAGE, "not resident"),
                                 (BASE + 2 * PAGE, BASE + 3 * PAGE, "data")]


def test_dump_writes_holes_as_zeros_and_hashes_what_it_wrote():
    written = bytearray()
    pieces = walk(reader({2}), BASE, BASE + 4 * PAGE, chunk=3 * PAGE)
    result = dump(pieces, written.extend, lambda n: written.extend(bytes(n)))
    expected = MEMORY[:2 * PAGE] + bytes(PAGE) + MEMORY[3 * PAGE:]
    assert bytes(written) == expected
    assert result.sha256 == hashlib.sha256(expected).hexdigest()
    assert (result.size, result.holes) == (4 * PAGE, [Hole(BASE + 2 * PAGE, BASE + 3 * PAGE,
                                                           "unreadable")])


def test_a_failing_write_stops_the_dump():
    def full_disk(data):
        raise OutputError("cannot write x: No space left on device")
    with pytest.raises(OutputError, match="No space"):
        dump(walk(reader(), BASE, BASE + 4 * PAGE, chunk=PAGE), full_disk, lambda n: None)


def test_absent_runs_read_the_present_bit():
    present, absent, swapped = 1 << 63, 1 << 55, 1 << 62  # soft-dirty alone: not present
    data = struct.pack("<6Q", present, absent, absent, present, swapped, 0)
    assert absent_runs(data, 100) == [(101, 103), (104, 106)]
    assert absent_runs(struct.pack("<2Q", present, present), 0) == []


def test_spans_and_holes():
    regions = [Region(0x1000, 0x3000, "rw-p"), Region(0x5000, 0x6000, "r--p")]
    span = range_span(regions, 0x0, 0x7000)
    assert len(span.regions) == 2
    assert unmapped(span) == [Hole(0x0, 0x1000, "not mapped"), Hole(0x3000, 0x5000, "not mapped"),
                              Hole(0x6000, 0x7000, "not mapped")]
    assert unmapped(Span(0x1000, 0x2000, regions[:1])) == []
    assert merge_holes([Hole(5, 9, "a"), Hole(0, 5, "a"), Hole(9, 12, "b"), Hole(3, 3, "a")]) \
        == [Hole(0, 9, "a"), Hole(9, 12, "b")]
    with pytest.raises(UsageError, match="empty or inverted range"):
        range_span(regions, 0x2000, 0x1000)


# Strings: the same as GNU strings ---------------------------------------------------------

def gnu_strings(tmp_path, data, encoding):
    path = tmp_path / "bytes.bin"
    path.write_bytes(data)
    args = ["strings", "-a", "-n", "10", "-t", "x"] + (["-e", "l"] if encoding == "utf16le" else [])
    out = subprocess.run([*args, str(path)], capture_output=True, text=True, check=True).stdout
    return [(int(m.group(1), 16), m.group(2))
            for m in (re.match(r" *([0-9a-f]+) (.*)", line) for line in out.split("\n") if line)]


pieces_of_text = st.lists(st.one_of(
    st.binary(max_size=24),
    st.text(alphabet="abcdefXYZ 0189\t", min_size=1, max_size=40).map(str.encode),
    st.text(alphabet="abcxyz ", min_size=1, max_size=24).map(lambda s: s.encode("utf-16-le")),
), max_size=25).map(b"".join)


@pytest.mark.skipif(shutil.which("strings") is None, reason="binutils' strings is needed")
@settings(max_examples=150, deadline=None)
@given(data=pieces_of_text, cuts=st.lists(st.integers(0, 2000), max_size=4),
       encoding=st.sampled_from(["ascii", "utf16le"]))
def test_strings_equal_gnu_strings_however_memory_is_cut(tmp_path_factory, data, cuts, encoding):
    bounds = sorted({0, len(data), *(c for c in cuts if c < len(data))})
    pieces = [Piece(a, data[a:b], None) for a, b in zip(bounds, bounds[1:])]
    ours = [(f.address, f.text) for f in find_strings(pieces, 10, encoding)]
    assert ours == gnu_strings(tmp_path_factory.mktemp("s"), data, encoding)


long_runs = st.lists(st.one_of(
    st.binary(max_size=8),
    st.integers(1, 300).map(lambda n: b"q" * n),
    st.integers(1, 150).map(lambda n: "w".encode("utf-16-le") * n),
), max_size=8).map(b"".join)


@pytest.mark.skipif(shutil.which("strings") is None, reason="binutils' strings is needed")
@settings(max_examples=150, deadline=None)
@given(data=long_runs, sizes=st.lists(st.integers(1, 9), min_size=1, max_size=6),
       encoding=st.sampled_from(["ascii", "utf16le"]))
def test_strings_longer_than_many_pieces(tmp_path_factory, data, sizes, encoding):
    """Pieces of 1 to 9 bytes, each often all of a string that began pieces before (and,
    in UTF-16LE, cut inside a character): the strings are still GNU strings'."""
    pieces, at = [], 0
    while at < len(data):
        size = sizes[len(pieces) % len(sizes)]
        pieces.append(Piece(at, data[at:at + size], None))
        at += size
    ours = [(f.address, f.text) for f in find_strings(pieces, 10, encoding)]
    assert ours == gnu_strings(tmp_path_factory.mktemp("s"), data, encoding)
    # Streamed: a string comes by the piece that shows where it ends, not at the very end.
    finder, step = StringFinder(10, encoding), 1 if encoding == "ascii" else 2
    for k, piece in enumerate([*pieces, None]):
        for f in finder.feed(piece.address, piece.data) if piece else finder.end():
            ender = f.address + len(f.text) * step + step - 1  # a byte that surely ends it
            assert k <= next((i for i, p in enumerate(pieces)
                              if p.address <= ender < p.address + len(p.data)), len(pieces))


def test_a_hole_ends_a_string_and_all_finds_both_encodings():
    text, wide = b"0123456789abc", "wide string here".encode("utf-16-le")
    pieces = [Piece(0, text[:7], None), Piece(7, None, Hole(7, 8, "unreadable")),
              Piece(8, text[8:] + b"\x01" + wide, None)]
    assert [(f.address, f.text) for f in find_strings(pieces, 10)] == []
    found = list(find_strings([Piece(0x100, text + b"\x01" + wide, None)], 10, "all"))
    assert [(f.address, f.text, f.encoding) for f in found] == [
        (0x100, "0123456789abc", "ascii"), (0x10E, "wide string here", "utf16le")]
    with pytest.raises(ValueError):
        StringFinder(10, "ebcdic")


# Safe output files -------------------------------------------------------------------------

def test_safe_file_appears_whole_with_mode_0600(tmp_path):
    path = tmp_path / "dump.bin"
    with SafeFile(str(path)) as out:
        out.write(b"abc")
        out.skip(5)
        assert not path.exists()  # not before it is complete
    assert path.read_bytes() == b"abc" + bytes(5)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert os.listdir(tmp_path) == ["dump.bin"]


def test_safe_file_leaves_nothing_on_error(tmp_path):
    path = tmp_path / "dump.bin"
    with pytest.raises(KeyboardInterrupt), SafeFile(str(path)) as out:
        out.write(b"partial")
        raise KeyboardInterrupt
    assert os.listdir(tmp_path) == []


def test_safe_file_never_replaces_without_force(tmp_path):
    path = tmp_path / "dump.bin"
    path.write_bytes(b"precious")
    with pytest.raises(OutputError, match=r"exists \(use --force"):
        check_new([str(path)])
    with SafeFile(str(path), force=True) as out:
        out.write(b"new")
    assert path.read_bytes() == b"new"


def test_safe_file_does_not_follow_a_symlink(tmp_path):
    target = tmp_path / "elsewhere"
    target.write_bytes(b"precious")
    link = tmp_path / "dump.bin"
    link.symlink_to(target)
    with pytest.raises(OutputError, match="exists"):
        check_new([str(link)])
    with SafeFile(str(link), force=True) as out:
        out.write(b"dump")
    assert target.read_bytes() == b"precious" and not link.is_symlink()


def test_safe_file_reports_an_unwritable_place(tmp_path):
    with pytest.raises(OutputError, match="no directory"):
        check_new([str(tmp_path / "missing" / "x.bin")])
    with pytest.raises(OutputError, match="is a directory"):
        check_new([str(tmp_path)], force=True)
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o500)
    if os.access(locked, os.W_OK):  # root writes anywhere: check the message another way
        pytest.skip("running as root: every directory is writable")
    with pytest.raises(OutputError, match="not writable"):
        check_new([str(locked / "x.bin")])
