"""memmap and vmainfo in real gdb on testprogs/layout.c, stopped in ready(): exact figures."""

from __future__ import annotations

import pytest

from tests.gdb.conftest import assert_no_traceback, run_gdb

ANON, FILE, SHARED, DELETED, MEMFD = (0x200000000000, 0x210000000000, 0x220000000000,
                                      0x230000000000, 0x240000000000)

COMMANDS = [
    "memmap --json",
    "!cat /proc/{pid}/maps",
    "memmap -x",
    "!pmap -x {pid}",
    "memmap -d",
    "!pmap -d {pid}",
    "memmap",
    "memmap -k",
    "memmap -X",
    "memmap .so --group",
    "memmap --group --sort rss --top 3 --json",
    "memmap --kind thread-stack,guard --json",
    "memmap layout-file --json",
    "memmap /layout-.*bin/ --json",
    "memmap --sort rss --top 1 --json",
    "memmap --min-rss 1M --json",
    "memmap --perms rw-s --json",
    "memmap --range 0x200000000000,0x220000000001 --json",
    "memmap --range $sp,$sp+1 --json",
    "vmainfo $rsp --json",
    "vmainfo $rsp",
    "vmainfo heap_block --json",
    "vmainfo &heap_block --json",
    "vmainfo main --json",
    "vmainfo 0x10 --json",
    "vmainfo 0x10",
    "vmainfo 0x200000001000 --json",
    "vmainfo 0x210000000000 + 0x1008 --json",
    "print $vma_start($sp)",
    "print $vma_end($sp)",
    "python import gdbmem; r = gdbmem.region_at('$sp'); print(r.kind, hex(r.start), r.thread)",
    "python import gdbmem; print(len(gdbmem.regions()), gdbmem.region_at(0x10))",
    "thread 2",
    "vmainfo $sp --json",
    "thread 3",
    "vmainfo $sp --json",
    "thread 1",
    "help memmap",
    "help vmainfo",
    "help function vma_start",
    "complete memmap --kind ar",
    "complete memmap --kind heap,thr",
    "complete memmap --sort p",
    "complete memmap --js",
    "complete memmap layout-f",
    "complete memmap layout-d",
    "show gdbmem colour",
    "set gdbmem colour on",
    "show gdbmem colour",
    "set gdbmem colour off",
]


@pytest.fixture(scope="module")
def gdb(layout_program, tmp_path_factory):
    return run_gdb(COMMANDS, layout_program, [str(tmp_path_factory.mktemp("layout"))])


def by_start(regions):
    return {r["start"]: r for r in regions}


def test_no_traceback_anywhere(gdb):
    assert_no_traceback(gdb)


def test_known_regions_have_exact_figures(gdb):
    regions = by_start(gdb.json("memmap --json"))
    anon = regions[ANON]
    assert (anon["Size"], anon["Rss"], anon["Pss"], anon["Private_Dirty"], anon["Swap"]) == (
        3072, 1024, 1024, 1024, 0)
    assert (anon["kind"], anon["perms"], anon["path"], anon["deleted"]) == ("anon", "rw-p", "",
                                                                            False)
    assert (anon["end"], anon["offset"], anon["inode"], anon["thread"]) == (
        ANON + 3 * 2**20, 0, 0, None)
    file_map = regions[FILE]
    assert (file_map["Size"], file_map["Rss"], file_map["Private_Clean"]) == (256, 64, 64)
    assert (file_map["Shared_Dirty"], file_map["Private_Dirty"], file_map["kind"]) == (0, 0, "file")
    assert file_map["path"].endswith("/layout-file.bin") and file_map["inode"] > 0
    shared = regions[SHARED]
    assert (shared["Rss"], shared["Pss"], shared["Shared_Dirty"], shared["kind"]) == (
        128, 64, 128, "shm")  # the forked child maps the same 32 pages: PSS is half
    deleted = regions[DELETED]
    assert (deleted["Rss"], deleted["deleted"], deleted["kind"]) == (32, True, "file")
    assert deleted["path"].endswith("/layout-deleted.bin (deleted)")
    memfd = regions[MEMFD]
    assert (memfd["Size"], memfd["Rss"], memfd["kind"]) == (64, 16, "shm")
    assert memfd["path"] == "/memfd:gdbmem-memfd (deleted)"
    assert isinstance(anon["VmFlags"], list) and "wr" in anon["VmFlags"]


def test_every_region_has_one_kind_and_the_count_equals_maps(gdb):
    regions = gdb.json("memmap --json")
    maps_lines = gdb.output("!cat /proc/{pid}/maps").splitlines()
    assert len(regions) == len(maps_lines)
    assert [r["start"] for r in regions] == [int(line.split("-")[0], 16) for line in maps_lines]
    kinds = [r["kind"] for r in regions]
    assert all(kinds)
    for kind in ("heap", "stack", "thread-stack", "guard", "arena", "exe", "lib", "file",
                 "anon", "shm", "vdso", "vvar", "vsyscall"):
        assert kind in kinds, kind


def test_threads_own_their_stacks_and_guards(gdb):
    stacks = gdb.json("memmap --kind thread-stack,guard --json")
    assert [(r["kind"], r["Size"], r["perms"], r["thread"]) for r in stacks] == [
        ("guard", 4, "---p", 3), ("thread-stack", 512, "rw-p", 3),
        ("guard", 4, "---p", 2), ("thread-stack", 256, "rw-p", 2)]
    assert stacks[0]["end"] == stacks[1]["start"] and stacks[2]["end"] == stacks[3]["start"]
    main = [r for r in gdb.json("memmap --json") if r["kind"] == "stack"]
    assert [(r["path"], r["thread"]) for r in main] == [("[stack]", 1)]


def test_the_worker_arena(gdb):
    arenas = [r for r in gdb.json("memmap --json") if r["kind"] == "arena"]
    head, tail = arenas
    assert head["start"] % (64 << 20) == 0 and head["perms"] == "rw-p"
    assert tail["start"] == head["end"] and tail["perms"] == "---p"
    assert tail["end"] - head["start"] == 64 << 20


def test_memmap_x_is_pmap_x_at_the_same_stop(gdb):
    assert gdb.output("memmap -x") == gdb.output("!pmap -x {pid}")


def test_memmap_d_is_pmap_d_at_the_same_stop(gdb):
    assert gdb.output("memmap -d") == gdb.output("!pmap -d {pid}")


def test_totals_row_equals_pmap_total(gdb):
    pmap_total = gdb.output("!pmap -x {pid}").splitlines()[-1].split()  # total kB SIZE RSS DIRTY
    table = gdb.output("memmap -k").splitlines()
    totals_row = table[-2].split()
    assert totals_row[0] == pmap_total[2]  # Size
    assert (totals_row[1], totals_row[3]) == (pmap_total[3], pmap_total[4])  # RSS, Dirty
    regions = gdb.json("memmap --json")
    assert str(sum(r["Rss"] for r in regions)) == pmap_total[3]
    assert table[-1].startswith("process: RSS ") and table[-1].endswith("(from smaps_rollup)")


def test_default_table(gdb):
    lines = gdb.output("memmap").splitlines()
    assert lines[0].split() == ["Start", "End", "Size", "Offset", "Perms", "RSS", "PSS", "Dirty",
                                "Swap", "Kind", "Mapping"]
    assert set(lines[1]) == {"-", " "}  # tabulate's simple format: dashes under the titles
    assert lines[2].split() == ["0x200000000000", "0x200000300000", "3M", "0x0", "rw-p", "1M",
                                "1M", "1M", "0", "anon"]
    assert "\x1b" not in gdb.output("memmap")  # captured output is never coloured
    every = gdb.output("memmap -X").splitlines()
    assert "VmFlags" in every[0].split() and len(every) == len(lines) - 1


def test_group_sums_a_library(gdb):
    rows = [line.split() for line in gdb.output("memmap .so --group").splitlines()[1:]]
    libc = [row for row in rows if row[-1].endswith("/libc.so.6")]
    assert libc and libc[0][0] == "5" and libc[0][-2] == "lib"


def test_group_sort_and_top_apply_to_the_groups(gdb):
    rows = gdb.json("memmap --group --sort rss --top 3 --json")
    assert len(rows) == 3 and [r["rss_kb"] for r in rows] == sorted(
        (r["rss_kb"] for r in rows), reverse=True)
    libc = next(r for r in rows if r["name"].endswith("/libc.so.6"))
    assert (libc["regions"], libc["kind"]) == (5, "lib")  # all its regions, not one
    # The 3 MiB anonymous region with 1 MiB touched (layout.c) is in the [anon] row.
    anon = next(r for r in rows if r["name"] == "[anon]")
    assert anon["kind"] == "anon" and anon["rss_kb"] >= 1024


@pytest.mark.parametrize("command, starts", [
    ("memmap layout-file --json", [FILE]),
    ("memmap /layout-.*bin/ --json", [FILE, DELETED]),
    ("memmap --sort rss --top 1 --json", [ANON]),
    ("memmap --min-rss 1M --json", [ANON]),
    ("memmap --perms rw-s --json", [SHARED, MEMFD]),
    ("memmap --range 0x200000000000,0x220000000001 --json", [ANON, FILE, SHARED]),
])
def test_filters(gdb, command, starts):
    assert [r["start"] for r in gdb.json(command)] == starts


def test_range_takes_expressions(gdb):
    (region,) = gdb.json("memmap --range $sp,$sp+1 --json")
    assert region["kind"] == "stack"


def test_vmainfo_of_the_stack_pointer(gdb):
    info = gdb.json("vmainfo $rsp --json")
    region = info["region"]
    assert info["mapped"] and (region["kind"], region["path"], region["thread"]) == (
        "stack", "[stack]", 1)
    assert info["offset"] == info["address"] - region["start"]
    assert info["file_offset"] is None and info["page"]["state"] == "resident"
    text = gdb.output("vmainfo $rsp")
    assert text.splitlines()[0].startswith(f"{info['address']:#x} is in the main stack [stack]")
    assert "thread 1 (LWP" in text.splitlines()[0] and "VmFlags" in text


def test_vmainfo_of_a_heap_pointer_and_of_static_data(gdb):
    assert gdb.json("vmainfo heap_block --json")["region"]["kind"] == "heap"
    data = gdb.json("vmainfo &heap_block --json")
    assert (data["region"]["kind"], data["symbol"], data["section"]) == ("exe", "heap_block",
                                                                         ".bss")
    assert data["file_offset"] == data["region"]["offset"] + data["offset"]
    code = gdb.json("vmainfo main --json")
    assert (code["region"]["kind"], code["region"]["perms"], code["symbol"], code["section"]) \
        == ("exe", "r-xp", "main", ".text")


def test_vmainfo_of_known_pages(gdb):
    touched = gdb.json("vmainfo 0x200000001000 --json")
    assert (touched["offset"], touched["page"]["state"]) == (0x1000, "resident")
    assert touched["page"]["exclusive"]
    in_file = gdb.json("vmainfo 0x210000000000 + 0x1008 --json")
    assert (in_file["offset"], in_file["file_offset"]) == (0x1008, 0x1008)
    assert in_file["page"]["state"] == "resident"


def test_vmainfo_of_an_unmapped_address(gdb):
    info = gdb.json("vmainfo 0x10 --json")
    assert (info["mapped"], info["region"], info["below"]) == (False, None, None)
    assert (info["above"]["start"], info["above"]["gap"]) == (ANON, ANON - 0x10)
    text = gdb.output("vmainfo 0x10").splitlines()
    assert text[0] == "0x10 is not mapped."
    assert text[2].strip().startswith("above  0x200000000000-0x200000300000 rw-p 3M (anon)")


def test_a_thread_stack_pointer_names_its_thread(gdb):
    second, third = (gdb.nth("vmainfo $sp --json", n) for n in (0, 1))
    for result, thread, size in ((second, 2, 256), (third, 3, 512)):
        import json
        region = json.loads(result["output"])["region"]
        assert (region["kind"], region["thread"], region["Size"]) == ("thread-stack", thread, size)


def test_convenience_functions_and_python_api(gdb):
    stack = next(r for r in gdb.json("memmap --json") if r["kind"] == "stack")
    assert gdb.output("print $vma_start($sp)").strip().endswith(f"(void *) {stack['start']:#x}")
    assert gdb.output("print $vma_end($sp)").strip().endswith(f"(void *) {stack['end']:#x}")
    api = "python import gdbmem; r = gdbmem.region_at('$sp'); print(r.kind, hex(r.start), r.thread)"
    assert gdb.output(api).split() == ["stack", hex(stack["start"]), "1"]
    count = len(gdb.json("memmap --json"))
    assert gdb.output("python import gdbmem; print(len(gdbmem.regions()), "
                      "gdbmem.region_at(0x10))").split() == [str(count), "None"]


def test_help_shows_usage_and_examples(gdb):
    text = gdb.output("help memmap")
    assert text.startswith("Show every mapping of the process")
    assert "usage: memmap" in text and "Examples:" in text and "--kind" in text
    assert text.count("Show every mapping") == 1
    assert "usage: vmainfo [-h] [--json] [--bytes N] ADDR\n" in gdb.output("help vmainfo")
    assert "x/8gx $vma_start($sp)" in gdb.output("help function vma_start")


def test_completion(gdb):
    assert gdb.output("complete memmap --kind ar").split() == ["memmap", "--kind", "arena"]
    assert gdb.output("complete memmap --kind heap,thr").splitlines() == [
        "memmap --kind heap,thread-stack"]
    assert gdb.output("complete memmap --sort p").splitlines() == ["memmap --sort pss"]
    assert gdb.output("complete memmap --js").splitlines() == ["memmap --json"]
    assert gdb.output("complete memmap layout-f").splitlines() == ["memmap layout-file.bin"]
    assert gdb.output("complete memmap layout-d").splitlines() == ["memmap layout-deleted.bin"]


def test_colour_setting(gdb):
    first, second = (gdb.nth("show gdbmem colour", n)["output"] for n in (0, 1))
    assert first.strip() == "gdbmem colours its output: auto."
    assert second.strip() == "gdbmem colours its output: on."
