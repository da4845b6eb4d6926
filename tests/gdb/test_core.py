"""Core files: the map from the core itself (load segments and NT_FILE), figures unknown,
kinds from the threads and the files, memory and strings through gdb."""

from __future__ import annotations

import json

import pytest

from tests.gdb.conftest import assert_no_traceback, assert_one_clean_line, run_gdb


@pytest.fixture(scope="module")
def core(layout_program, tmp_path_factory):
    d = tmp_path_factory.mktemp("core")
    made = run_gdb([f"gcore {d}/core.layout", "!cat /proc/{pid}/maps"], layout_program, [str(d)])
    maps = made.output("!cat /proc/{pid}/maps")
    session = run_gdb(["memmap --json", "memmap", "vmainfo $sp --json", "thread 2",
                       "vmainfo $sp --json", "thread 1", "memstrings heap_block --limit 1",
                       "memstrings [heap] --limit 1", "memdump 0x200000000000 +8k "
                       f"{d}/core-anon.bin", "memsnap", "memsnap trend", "memcheck --json",
                       "print $vma_start($sp)"],
                      None, before=(), gdb_args=[str(layout_program), f"{d}/core.layout"])
    return session, maps, d


def test_no_traceback(core):
    assert_no_traceback(core[0])


def test_the_map_of_the_core(core):
    gdb, maps, _ = core
    regions = {r["start"]: r for r in gdb.json("memmap --json")}
    live = {int(line.split("-")[0], 16): line for line in maps.splitlines()}
    # Every file mapping (NT_FILE) and every dumped segment of the live map is in the core's.
    for start, region in regions.items():
        assert start in live, hex(start)
        assert region["end"] == int(live[start].split()[0].split("-")[1], 16)
        assert "Rss" not in region  # unknown, never zero
    kinds = {r["kind"] for r in regions.values()}
    assert {"stack", "thread-stack", "heap", "exe", "lib", "file", "shm"} <= kinds
    assert regions[0x210000000000]["path"].endswith("/layout-file.bin")
    assert regions[0x200000000000]["perms"] == "rw-?"  # a core does not say private or shared
    (vdso,) = [start for start, line in live.items() if line.endswith(" [vdso]")]
    assert (regions[vdso]["path"], regions[vdso]["kind"]) == ("[vdso]", "vdso")  # from auxv
    text = gdb.output("memmap").splitlines()
    assert text[0].startswith("memmap: core file ") and text[0].endswith("(shown as ?)")


def test_stacks_from_the_threads(core):
    gdb, _, _ = core
    main, second = (json.loads(gdb.nth("vmainfo $sp --json", n)["output"]) for n in (0, 1))
    assert (main["region"]["kind"], main["region"]["thread"]) == ("stack", 1)
    assert (second["region"]["kind"], second["region"]["thread"]) == ("thread-stack", 2)
    assert main["page"] is None


def test_memory_strings_and_dumps_come_from_the_core(core):
    gdb, _, d = core
    assert gdb.output("memstrings heap_block --limit 1").split(" ", 1)[1].startswith("hhhh")
    assert (d / "core-anon.bin").read_bytes()[:4096] == b"\x01" + bytes(4095)
    assert gdb.output("print $vma_start($sp)").strip().endswith("(void *) 0x7ffffffde000")


def test_a_core_is_one_moment(core):
    gdb, _, _ = core
    message = gdb.error("memsnap")
    assert_one_clean_line(message)
    assert "a core file is one moment" in message
    assert [f["finding"] for f in gdb.json("memcheck --json")] == ["deleted-file"]
