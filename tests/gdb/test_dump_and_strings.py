"""memdump and memstrings in real gdb: bytes equal to gdb's own dump, strings equal to
strings(1), safe files, and one clear line for each kind of bad input."""

from __future__ import annotations

import hashlib
import json
import os
import re
import stat
import subprocess

import pytest

from tests.gdb.conftest import (
    assert_error,
    assert_no_traceback,
    assert_one_clean_line,
    build,
    run_gdb,
)

REGION, SIZE = 0x300000000000, 8 << 20
RESERVATION = REGION + SIZE + (1 << 30)
GIB64 = 64 << 30


@pytest.fixture(scope="module")
def heaplike():
    return build("heaplike")


@pytest.fixture(scope="module")
def out(tmp_path_factory):
    return tmp_path_factory.mktemp("out")


@pytest.fixture(scope="module")
def gdb(heaplike, out):
    o = str(out)
    commands = [
        f"dump binary memory {o}/gdb.bin {REGION:#x} {REGION + SIZE:#x}",
        f"memdump {REGION:#x} {o}/ours.bin",
        f"memdump region {o}/ours.bin",  # exists now
        f"memdump region {o}/ours.bin --force --json",
        f"memdump {RESERVATION:#x} +16M {o}/sparse.bin --resident-only",
        "memdump [vvar]",
        f"memstrings {REGION:#x}",
        "memstrings region -e utf16le",
        "memstrings region -e all --limit 3 --json",
        "memstrings region --grep 'record 0000010[0-4]'",
        "memstrings region -n 61 --limit 2",
        f"memstrings {RESERVATION:#x}",
        f"memstrings {RESERVATION:#x} +2M --all-pages --limit 300",
        f"memstrings region --limit 5 -o {o}/strings.txt",
        f"memstrings region --limit 5 -o {o}/strings.txt",
        "memdump 0x10",
        "memdump 0x2000 0x1000",
        "memdump nosuch-region-name",
        "memdump region a.bin b.bin",
        "memdump",
        "memdump region /proc/gdbmem-test.bin",
        "memstrings region -n 99999999999999999999", "memdump $sp +-1 z.bin",
        f"memdump region {o}/missing-dir/x.bin",
        "memstrings region -n 0",
        "memstrings region --limit 0",
        "memstrings region --grep '('",
        "memstrings region -e ebcdic",
        "memstrings region extra-word",
        f"memstrings region -o {o}/link.txt",
        "help memdump",
        "help memstrings",
    ]
    os.symlink("/etc/hostname", out / "link.txt")
    return run_gdb(commands, heaplike, ["8"], cwd=out)


def test_no_traceback(gdb):
    assert_no_traceback(gdb)


def test_dump_equals_gdbs_dump_binary_memory(gdb, out):
    assert gdb["dump binary memory"
               f" {out}/gdb.bin {REGION:#x} {REGION + SIZE:#x}"]["ok"]
    line = gdb.output(f"memdump {REGION:#x} {out}/ours.bin")
    assert line.startswith(f"memdump: {REGION:#x}-{REGION + SIZE:#x} anon (8M) -> {out}/ours.bin")
    ours, theirs = (out / "ours.bin").read_bytes(), (out / "gdb.bin").read_bytes()
    assert ours == theirs and len(ours) == SIZE
    assert stat.S_IMODE((out / "ours.bin").stat().st_mode) == 0o600
    assert stat.S_IMODE((out / "ours.bin.json").stat().st_mode) == 0o600


def test_the_description_beside_the_dump(gdb, out, heaplike):
    info = json.loads((out / "ours.bin.json").read_text())
    assert (info["start"], info["end"], info["size"], info["perms"], info["path"],
            info["kind"], info["holes"]) == (REGION, REGION + SIZE, SIZE, "rw-p", "", "anon", [])
    assert info["executable"] == str(heaplike) and info["pid"] > 0
    assert info["sha256"] == hashlib.sha256((out / "ours.bin").read_bytes()).hexdigest()
    assert info["file"] == str(out / "ours.bin")


def test_an_existing_file_needs_force(gdb, out):
    message = gdb.error(f"memdump region {out}/ours.bin")
    assert_one_clean_line(message)
    assert message == f"memdump: {out}/ours.bin exists (use --force to replace it)"
    (report,) = gdb.json(f"memdump region {out}/ours.bin --force --json")
    assert report["start"] == REGION and report["sha256"]


def test_resident_only_makes_a_sparse_file(gdb, out):
    path = out / "sparse.bin"
    info = json.loads((out / "sparse.bin.json").read_text())
    assert info["holes"] == [{"start": RESERVATION + (1 << 20), "end": RESERVATION + (16 << 20),
                              "reason": "not resident"}]
    assert path.stat().st_size == 16 << 20
    assert path.stat().st_blocks * 512 < 4 << 20  # the 15 MiB hole takes no disk
    data = path.read_bytes()
    assert data[:len(b"reserved page 0000")] == b"reserved page 0000"
    assert data[1 << 20:] == bytes(15 << 20)


def test_an_unreadable_region_is_one_hole_of_zeros(gdb, out):
    line = gdb.output("memdump [vvar]")
    name = re.search(r"-> (\S+), 1 hole,", line).group(1)
    info = json.loads((out / (name + ".json")).read_text())
    assert info["kind"] == "vvar"
    assert info["holes"] == [{"start": info["start"], "end": info["end"], "reason": "unreadable"}]
    assert (out / name).read_bytes() == bytes(info["end"] - info["start"])


def strings_of(path, start, *extra):
    done = subprocess.run(["strings", "-a", "-n", "10", "-t", "x", *extra, str(path)],
                          capture_output=True, text=True, check=True)
    return [f"{start + int(m.group(1), 16):#x} {m.group(2)}"
            for m in (re.match(r" *([0-9a-f]+) (.*)", line) for line in done.stdout.split("\n"))
            if m]


def test_strings_equal_strings_on_gdbs_dump(gdb, out):
    lines = gdb.output(f"memstrings {REGION:#x}").splitlines()
    assert lines == strings_of(out / "gdb.bin", REGION)
    assert len(lines) == SIZE // 8192 and lines[1] == (
        f"{REGION + 8192:#x} record 00000001: the quick brown fox jumps over the lazy dog")
    wide = gdb.output("memstrings region -e utf16le").splitlines()
    assert wide == strings_of(out / "gdb.bin", REGION, "-e", "l")
    assert len(wide) == SIZE // 65536 and wide[0].endswith(" wide record: utf-16 text here")


def test_strings_options(gdb):
    found = gdb.json("memstrings region -e all --limit 3 --json")
    assert [(f["address"], f["encoding"]) for f in found] == [
        (REGION, "ascii"), (REGION + 4096, "utf16le"), (REGION + 8192, "ascii")]
    grep = gdb.output("memstrings region --grep 'record 0000010[0-4]'").splitlines()
    assert [line.split()[2] for line in grep] == [f"000001{n:02d}:" for n in range(5)]
    assert gdb.output("memstrings region -n 61 --limit 2").splitlines() == []  # records are 60


def test_strings_skip_pages_not_resident(gdb):
    lines = gdb.output(f"memstrings {RESERVATION:#x}").splitlines()  # 64 GiB, 1 MiB touched
    assert len(lines) == 256
    assert lines[-1] == f"{RESERVATION + 255 * 4096:#x} reserved page 0255: touched and resident"
    every = gdb.output(f"memstrings {RESERVATION:#x} +2M --all-pages --limit 300").splitlines()
    assert every == lines


def test_strings_to_a_file(gdb, out):
    assert gdb.output(f"memstrings region --limit 5 -o {out}/strings.txt") == \
        f"memstrings: 5 strings -> {out}/strings.txt\n"
    text = (out / "strings.txt").read_text().splitlines()
    assert text == gdb.output(f"memstrings {REGION:#x}").splitlines()[:5]
    assert stat.S_IMODE((out / "strings.txt").stat().st_mode) == 0o600
    assert "exists" in gdb.nth(f"memstrings region --limit 5 -o {out}/strings.txt", 1)["error"]


BAD = {
    "memdump 0x10": "0x10 is not mapped",
    "memdump 0x2000 0x1000": "empty or inverted range 0x2000-0x1000",
    "memdump nosuch-region-name": "nothing matches 'nosuch-region-name'",
    "memdump region a.bin b.bin": "too many arguments: b.bin",
    "memdump": "a TARGET is needed",
    "memdump region /proc/gdbmem-test.bin": "cannot create /proc/",
    "memstrings region -n 0": "-n takes a length from 1 to 1048576",
    "memstrings region -n 99999999999999999999": "-n takes a length from 1 to 1048576",
    "memdump $sp +-1 z.bin": "ends past the 64-bit address space",
    "memstrings region --limit 0": "--limit takes a number of strings",
    "memstrings region --grep '('": "bad regular expression",
    "memstrings region -e ebcdic": "invalid choice: 'ebcdic'",
    "memstrings region extra-word": "too many arguments: extra-word",
}


@pytest.mark.parametrize("command", list(BAD))
def test_bad_input_gets_one_line(gdb, command):
    assert_error(gdb, command, BAD[command])


def test_missing_directory_and_symlinks(gdb, out):
    assert "no directory" in gdb.error(f"memdump region {out}/missing-dir/x.bin")
    assert "exists" in gdb.error(f"memstrings region -o {out}/link.txt")
    assert os.readlink(out / "link.txt") == "/etc/hostname"  # untouched
    assert not [name for name in os.listdir(out) if name.endswith(".part")]


def test_help(gdb):
    assert "usage: memdump" in gdb.output("help memdump")
    assert "mode 0600" in gdb.output("help memdump")
    assert "strings -a -n MIN" in gdb.output("help memstrings")


def test_several_regions_one_file_each(layout_program, tmp_path):
    session = run_gdb(["memdump --kind thread-stack", "memdump libc x.bin",
                       "memdump libc x.bin --first"], layout_program, [str(tmp_path)],
                      cwd=tmp_path)
    # The note goes to gdb's stderr, which a to_string capture takes in too.
    note, *lines = session.output("memdump --kind thread-stack").splitlines()
    assert note == ("memdump: 2 regions of kind thread-stack: taking them all "
                    "(--first takes the first)")
    assert len(lines) == 2 and all(" -> memdump-" in line for line in lines)
    assert "5 regions match: give no FILE" in session.error("memdump libc x.bin")
    assert session.output("memdump libc x.bin --first").startswith("memdump: ")
    dumps = (p for p in os.listdir(tmp_path) if p.endswith(".bin") and not p.startswith("layout"))
    assert sorted(dumps) == sorted(
        [line.split(" -> ")[1].split(",")[0] for line in lines] + ["x.bin"])


def test_a_process_killed_mid_dump_leaves_no_file(tmp_path):
    heaplike = build("heaplike")
    session = run_gdb(["!(sleep 0.3; kill -9 {pid}) >/dev/null 2>&1 &",
                       f"memdump {REGION:#x} {tmp_path}/big.bin"], heaplike, ["1024"])
    message = session.error(f"memdump {REGION:#x} {tmp_path}/big.bin")
    assert_one_clean_line(message)
    assert "exited during the read" in message
    assert os.listdir(tmp_path) == []


def test_ctrl_c_stops_a_huge_sparse_dump(tmp_path):
    """A dump of the 64 GiB reservation takes minutes (its zeros read and hashed); an
    interrupt a second in ends it with one line and leaves no file (were it not seen, the
    dump would run on past the test's time)."""
    heaplike = build("heaplike")
    session = run_gdb(["!(sleep 1; kill -INT $PPID) >/dev/null 2>&1 &",
                       f"memdump {RESERVATION:#x} +64G {tmp_path}/huge.bin"], heaplike, ["8"],
                      timeout=90)
    assert session.error(f"memdump {RESERVATION:#x} +64G {tmp_path}/huge.bin") == (
        "memdump: interrupted")
    assert os.listdir(tmp_path) == []
