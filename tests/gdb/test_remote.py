"""Over gdbserver on 127.0.0.1: the same exact figures as a native target, /proc read through
the remote protocol, memory through gdb, and fresh at every stop."""

from __future__ import annotations

import json
import shutil

import pytest

from tests.gdb.conftest import assert_no_traceback, build, gdbserver, run_gdb

pytestmark = pytest.mark.skipif(shutil.which("gdbserver") is None,
                                reason="gdbserver is not installed (make setup installs it)")


@pytest.fixture(scope="module")
def remote(layout_program, tmp_path_factory):
    d = tmp_path_factory.mktemp("remote")
    server, port = gdbserver(layout_program, d)
    try:
        session = run_gdb([
            "memmap --json", "memmap -x", "!pmap -x {pid}", "vmainfo $sp --json", "vmainfo $sp",
            "thread 2", "vmainfo $sp --json", "thread 1",
            f"memdump 0x200000000000 +64k {d}/remote.bin",
            f"dump binary memory {d}/gdb.bin 0x200000000000 0x200000010000",
            "memstrings 0x210000000000 -n 4096 --limit 1 --json", "memsnap", "memsnap list --json",
            "memcheck --json",
        ], layout_program, before=(f"target remote 127.0.0.1:{port}", "break ready",
                                   "continue"))
    finally:
        server.kill()
        server.wait()
    return session, d


def test_no_traceback(remote):
    assert_no_traceback(remote[0])


def test_the_same_figures_as_native(remote):
    gdb, _ = remote
    regions = {r["start"]: r for r in gdb.json("memmap --json")}
    anon, shared = regions[0x200000000000], regions[0x220000000000]
    assert (anon["Size"], anon["Rss"], anon["Private_Dirty"], anon["kind"]) == (3072, 1024, 1024,
                                                                                "anon")
    assert (shared["Rss"], shared["Pss"], shared["kind"]) == (128, 64, "shm")
    assert regions[0x210000000000]["Rss"] == 64
    kinds = [r["kind"] for r in regions.values()]
    assert kinds.count("thread-stack") == 2 and "arena" in kinds and "exe" in kinds
    assert gdb.output("memmap -x") == gdb.output("!pmap -x {pid}")


def test_vmainfo_names_stacks_and_says_the_page_is_unknown(remote):
    gdb, _ = remote
    main, thread = (gdb.nth("vmainfo $sp --json", n) for n in (0, 1))
    main, thread = json.loads(main["output"]), json.loads(thread["output"])
    assert (main["region"]["kind"], main["region"]["thread"]) == ("stack", 1)
    assert (thread["region"]["kind"], thread["region"]["thread"]) == ("thread-stack", 2)
    assert main["page"] is None  # pagemap is not fetched over gdbserver


def test_dump_strings_snapshots_checks(remote):
    gdb, d = remote
    assert (d / "remote.bin").read_bytes() == (d / "gdb.bin").read_bytes()
    (found,) = gdb.json("memstrings 0x210000000000 -n 4096 --limit 1 --json")
    # Each page of the file holds one letter: one string over all 64 pages, read through
    # gdb (no pagemap over gdbserver, so the pages not resident are read too).
    assert found["address"] == 0x210000000000 and len(found["string"]) == 64 * 4096
    assert found["string"].startswith("a" * 4096 + "b" * 4096)
    (record,) = gdb.json("memsnap list --json")
    assert record["threads"] == 3 and record["rss_kb"] > 2000
    assert [f["finding"] for f in gdb.json("memcheck --json")] == ["deleted-file"]


def test_fresh_at_every_stop(tmp_path):
    """leaks file maps its file once more at each tick: each stop must show one more."""
    leaks = build("leaks")
    server, port = gdbserver(leaks, "file", 5, tmp_path)
    try:
        gdb = run_gdb(["memmap leaks-file --json", "continue", "memmap leaks-file --json",
                       "continue", "memmap leaks-file --json"], leaks,
                      before=(f"target remote 127.0.0.1:{port}", "break tick", "continue"))
    finally:
        server.kill()
        server.wait()
    counts = [len(json.loads(gdb.nth("memmap leaks-file --json", n)["output"]))
              for n in range(3)]
    assert counts == [1, 2, 3]


def test_vmainfo_says_why_the_page_state_is_unknown(remote):
    gdb, _ = remote
    assert "  page     unknown (no pagemap over gdbserver)\n" in gdb.output("vmainfo $sp")
