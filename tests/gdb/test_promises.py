"""gdbmem's promises in real gdb, under attack: files that are not regular files, names that
are bytes, a process killed under gdb, an exec, a journal that cannot be written or was torn,
and odd arguments. Each test here failed before these were kept."""

from __future__ import annotations

import json
import os
import re
import socket
import stat

import pytest

from gdbmem.safefile import temporary_name
from gdbmem.store.codec import encoded
from gdbmem.store.record import Record
from tests.gdb.conftest import (
    assert_error,
    assert_no_traceback,
    build,
    run_gdb,
)
from tests.helpers import fixture

MAPNAME_AT = 0x310000000000


@pytest.fixture(scope="module")
def specials(tmp_path_factory):
    """A directory of things that are not regular files."""
    d = tmp_path_factory.mktemp("specials")
    os.mkfifo(d / "fifo")
    os.mkdir(d / "dir")
    sock = socket.socket(socket.AF_UNIX)
    sock.bind(str(d / "sock"))
    if os.geteuid() == 0:
        os.mknod(d / "null", 0o666 | stat.S_IFCHR, os.makedev(1, 3))
    yield d
    sock.close()


def test_force_replaces_regular_files_only(layout_program, tmp_path, specials):
    names = ["fifo", "dir", "sock"] + (["null"] if os.geteuid() == 0 else [])
    commands = [f"set gdbmem snapshot-dir {tmp_path}/journal", "memsnap"]
    for name in names:
        commands += [f"memdump [heap] {specials}/{name} --force",
                     f"memstrings [heap] -o {specials}/{name} --force",
                     f"memsnap save {specials}/{name} --force"]
    gdb = run_gdb(commands, layout_program, [str(tmp_path)])
    assert_no_traceback(gdb)
    kinds = {"fifo": "a fifo", "dir": "a directory", "sock": "a socket",
             "null": "a character device"}
    for name in names:
        for command in (f"memdump [heap] {specials}/{name} --force",
                        f"memstrings [heap] -o {specials}/{name} --force",
                        f"memsnap save {specials}/{name} --force"):
            assert_error(gdb, command, f"{specials}/{name} is {kinds[name]}: gdbmem writes "
                                       "regular files only")
    assert stat.S_ISFIFO(os.lstat(specials / "fifo").st_mode)
    assert stat.S_ISSOCK(os.lstat(specials / "sock").st_mode)
    assert os.path.isdir(specials / "dir") and os.listdir(specials / "dir") == []
    if "null" in names:
        assert stat.S_ISCHR(os.lstat(specials / "null").st_mode)
    assert sorted(os.listdir(specials)) == sorted(names)  # no .json, no .part beside them


def test_a_dump_and_its_description_appear_together(layout_program, tmp_path):
    # 250 bytes: the name fits, its .json (255) fits, and the temporary names must too.
    long_name = "d" * 246 + ".bin"
    dead = tmp_path / temporary_name("old.bin", 999999999)  # a killed gdbmem's, pid gone
    dead.write_bytes(b"x" * 5000)
    live = tmp_path / temporary_name("other.bin", os.getpid())  # a live pid's: kept
    live.write_bytes(b"y")
    for path in (dead, live):
        path.chmod(0o600)
    gdb = run_gdb([f"memdump [heap] {tmp_path}/{long_name}",
                   f"memdump [heap] {tmp_path}/b.bin"], layout_program, [str(tmp_path)])
    assert_no_traceback(gdb)
    assert gdb[f"memdump [heap] {tmp_path}/{long_name}"]["ok"]
    assert (tmp_path / long_name).exists() and (tmp_path / (long_name + ".json")).exists()
    assert not dead.exists() and live.exists()
    said = gdb.output(f"memdump [heap] {tmp_path}/{long_name}")
    assert f"memdump: removed {dead} (" in said
    assert "left by a gdbmem that was killed while writing" in said
    assert [n for n in os.listdir(tmp_path) if n.endswith(".part")] == [live.name]


def test_a_user_s_file_that_looks_like_a_part_is_never_swept(layout_program, tmp_path):
    d = tmp_path / "dir"
    d.mkdir()
    notes = d / ".thesis.99999.part"  # echo notes > dir/.thesis.99999.part
    notes.write_text("notes\n")
    looks = [notes, d / ".h.bin.99999.0badcafe.part", d / ".x.99999.0badcafe.012345678901.part"]
    for path in looks[1:]:
        path.write_bytes(b"mine")
        path.chmod(0o600)
    gdb = run_gdb([f"memdump [heap] {d}/h.bin"], layout_program, [str(tmp_path)])
    assert_no_traceback(gdb)
    assert "removed" not in gdb.output(f"memdump [heap] {d}/h.bin")
    assert all(path.exists() for path in looks) and notes.read_text() == "notes\n"


@pytest.fixture(scope="module")
def odd_name(tmp_path_factory):
    d = tmp_path_factory.mktemp("names")
    return os.path.join(os.fsencode(d), b"lat\xe9\xff file.bin")


def test_names_that_are_not_utf8(odd_name, tmp_path):
    program = build("mapname")
    shown = os.fsdecode(odd_name).encode("utf-8", "surrogateescape").decode(
        "utf-8", "backslashreplace")  # /tmp/.../lat\xe9\xff file.bin
    commands = [f"set gdbmem snapshot-dir {tmp_path}", "memmap --kind file", "memmap -x",
                "memmap --group", f"vmainfo {MAPNAME_AT:#x}", "memsnap", "memsnap show 1",
                f"memdump {MAPNAME_AT:#x} {tmp_path}/named.bin", "memmap --json"]
    gdb = run_gdb(commands, program, [os.fsdecode(odd_name)])
    assert_no_traceback(gdb)
    for command in commands[1:-1]:
        assert gdb[command]["ok"], (command, gdb[command]["error"])
    row = next(line for line in gdb.output("memmap --kind file").splitlines()
               if line.startswith(f"{MAPNAME_AT:#x}"))
    assert row.split()[2:6] == ["12K", "0x0", "rw-s", "12K"] and row.endswith(shown)
    assert "lat\\xe9\\xff file.bin" in gdb.output("memmap -x")
    assert shown in gdb.output("memmap --group")
    assert gdb.output(f"vmainfo {MAPNAME_AT:#x}").splitlines()[0] == (
        f"{MAPNAME_AT:#x} is in a mapped file {shown}")
    assert shown in gdb.output("memsnap show 1")
    assert gdb.output(f"memdump {MAPNAME_AT:#x} {tmp_path}/named.bin").startswith(
        f"memdump: {MAPNAME_AT:#x}-{MAPNAME_AT + 0x3000:#x} {shown} (12K)")
    described = json.loads((tmp_path / "named.bin.json").read_text())
    assert os.fsencode(described["path"]) == odd_name  # JSON keeps the bytes (as escapes)
    region = next(r for r in gdb.json("memmap --json") if r["start"] == MAPNAME_AT)
    assert os.fsencode(region["path"]) == odd_name and region["Rss"] == 12


def test_a_process_killed_under_gdb_has_exited(layout_program, tmp_path):
    commands = [f"set gdbmem snapshot-dir {tmp_path}", "!kill -9 {pid}", "!sleep 0.2",
                "vmainfo $sp", "memsnap", "memcheck", "memmap", "memdump [heap]",
                "memstrings [heap]", "p $vma_start($sp)"]
    gdb = run_gdb(commands, layout_program, [str(tmp_path)])
    assert_no_traceback(gdb)
    for command in commands[3:]:
        assert_error(gdb, command, "has exited")
    assert os.listdir(tmp_path) == [] or all(not n.startswith("memdump")
                                             for n in os.listdir(tmp_path))


def test_locations_are_named_when_taken_even_after_an_exec(tmp_path):
    program = build("execs")
    gdb = run_gdb([f"set gdbmem snapshot-dir {tmp_path}", "memsnap on tick", "run",
                   "memsnap list --json"], program, ["3"], before=())
    assert_no_traceback(gdb)
    records = gdb.json("memsnap list --json")
    line = next(n for n, text in enumerate(
        (build("execs").parent.parent / "execs.c").read_text().splitlines(), 1)
        if text.startswith("__attribute__((noinline)) void tick"))
    assert [r["location"] for r in records] == [f"tick at testprogs/execs.c:{line}"] * 3


def test_an_unwritable_journal_stops_and_the_snapshots_stay(layout_program, tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    gdb = run_gdb([f"set gdbmem snapshot-dir {blocker}/journal", "memsnap one", "memsnap two",
                   "memsnap list --json", "memsnap list"], layout_program, [str(tmp_path)])
    assert_no_traceback(gdb)
    one, two = gdb.output("memsnap one"), gdb.output("memsnap two")
    assert one.startswith(f"memsnap: the journal stopped (cannot use the directory "
                          f"'{blocker}/journal': Not a directory); snapshots are kept in memory")
    assert one.splitlines()[1].startswith("memsnap: #1 one taken")
    assert two.startswith("memsnap: #2 two taken")  # said once
    assert [r["label"] for r in gdb.json("memsnap list --json")] == ["one", "two"]
    assert gdb.output("memsnap list").splitlines()[-1].startswith("journal: stopped: ")


def test_a_torn_journal_loads_its_complete_records(layout_program, tmp_path):
    smaps = fixture("layout.smaps")
    whole = b"".join(encoded(Record(42, 1000.0 + n, smaps, label=f"s{n}")) for n in range(3))
    torn = tmp_path / "torn.jsonl"
    torn.write_bytes(whole[: len(whole) - 500])  # gdb killed while writing the third
    gdb = run_gdb([f"set gdbmem snapshot-dir {tmp_path}/j", f"memsnap load {torn}",
                   "memsnap list --json"], layout_program, [str(tmp_path)])
    assert gdb.output(f"memsnap load {torn}").splitlines() == [
        f"memsnap load: {torn}: the last record is cut short (gdb was killed while writing "
        "it?): dropped; 2 complete snapshots read",
        f"memsnap: 2 snapshots loaded from {torn} (now 2)"]
    assert [r["label"] for r in gdb.json("memsnap list --json")] == ["s0", "s1"]


def test_the_journal_bound_is_a_setting(layout_program, tmp_path):
    gdb = run_gdb(["show gdbmem journal-max-size", "set gdbmem journal-max-size 300M",
                   "show gdbmem journal-max-size", "set gdbmem journal-max-size lots",
                   "show gdbmem journal-max-size"], layout_program, [str(tmp_path)])
    assert gdb.nth("show gdbmem journal-max-size", 0)["output"] == (
        "memsnap's journals take at most 1G together.\n")
    assert gdb.nth("show gdbmem journal-max-size", 1)["output"] == (
        "memsnap's journals take at most 300M together.\n")
    assert_error(gdb, "set gdbmem journal-max-size lots", "journal-max-size: bad size 'lots'")
    assert gdb.nth("show gdbmem journal-max-size", 2)["output"] == (
        "memsnap's journals take at most 300M together.\n")


def test_odd_arguments(layout_program, tmp_path):
    commands = ["vmainfo $sp -0x10 --json", "vmainfo --json $sp-0x10",
                f"memdump /libc/ --first {tmp_path}/libc.bin",
                "p $vma_start()", "p $vma_start(1, 2)", "p $vma_start(main)",
                "p $vma_end(&main)", "info symbol $vma_start(main)",
                f"memdump main ready {tmp_path}/x.bin", f"memdump ready main {tmp_path}/x.bin",
                "memmap a file with space"]
    gdb = run_gdb(commands, layout_program, [str(tmp_path)])
    assert_no_traceback(gdb)
    assert gdb.json("vmainfo $sp -0x10 --json") == gdb.json("vmainfo --json $sp-0x10")
    assert gdb.output(f"memdump /libc/ --first {tmp_path}/libc.bin").startswith("memdump: 0x")
    assert (tmp_path / "libc.bin").exists() and (tmp_path / "libc.bin.json").exists()
    for call in ("p $vma_start()", "p $vma_start(1, 2)"):
        assert_error(gdb, call, "$vma_start takes one address: $vma_start(ADDR)")
    start = int(re.search(r"0x[0-9a-f]+", gdb.output("p $vma_start(main)")).group(0), 16)
    end = int(re.search(r"0x[0-9a-f]+", gdb.output("p $vma_end(&main)")).group(0), 16)
    assert start < end and start % 4096 == 0 and end % 4096 == 0
    # One order is a range, the other inverted: either way the reading is said.
    ranges = [gdb[f"memdump {a} {b} {tmp_path}/x.bin"] for a, b in (("main", "ready"),
                                                                     ("ready", "main"))]
    (done,) = [r for r in ranges if r["ok"]]
    (refused,) = [r for r in ranges if not r["ok"]]
    end = done["command"].split()[2]
    assert done["output"].startswith(f"memdump: read '{end}' as the end of a range (0x")
    assert f"for a file of that name write ./{end}, or give START +LEN" in done["output"]
    assert "empty or inverted range" in refused["error"]
    assert_error(gdb, "memmap a file with space",
                 "a name with spaces needs quotes, as in memmap 'a file with space'")
