"""memcheck's findings on synthetic regions and on the captured layout."""

from __future__ import annotations

from gdbmem.analysis.checks import Thresholds, check
from gdbmem.analysis.growth import Trend
from gdbmem.model import Region, Snapshot
from tests.helpers import layout


def region(start, size_kb, perms="rw-p", path="", kind="anon", offset=0, inode=0, **fields):
    figures = {"Size": size_kb, "Rss": 0, "Pss": 0, "Shared_Dirty": 0, "Private_Dirty": 0,
               "Swap": 0}
    figures.update(fields)
    r = Region(start, start + size_kb * 1024, perms, offset, "08:01", inode, path, figures)
    r.kind = kind
    return r


def names(findings):
    return [f.name for f in findings]


def test_the_captured_layout_has_one_deleted_file():
    findings = check(Snapshot(1, layout()))
    assert names(findings) == ["deleted-file"]
    assert findings[0].regions == ["/tmp/tmp.L6H94ykvre/layout-deleted.bin (deleted)"]


def test_each_finding():
    t = Thresholds(anon_rss_kb=1024, anon_regions=3, large_region_kb=1024, dirty_share=0.9,
                   swap_share=0.2)
    regions = [
        region(0x1000, 4096, Rss=2048, Private_Dirty=2000),  # large anonymous (dirty: no news)
        region(0x500000, 8), region(0x600000, 8), region(0x700000, 8, perms="rwxp"),
        region(0x710000, 8, perms="rwxp"),  # JIT code: said once, as a note
        region(0x800000, 4096, Rss=100, Swap=2000),  # mostly in swap
        region(0x900000, 4096, "rw-p", "/var/db/data.bin", "file", Rss=2048,
               Private_Dirty=2000),  # a file's pages copied and written
        region(0x7E0000000, 100, "rwxp", "/opt/app/plugin.so", "lib", inode=5),
        region(0x7F0000000, 100, "r-xp", "/usr/lib/libz.so.1", "lib", inode=7),
        region(0x7F1000000, 100, "r-xp", "/usr/lib/libz.so.1", "lib", inode=7),
        region(0x7F2000000, 100, "r-xp", "/opt/old/libz.so.1", "lib", inode=9),
        # libc mapped read-only as data (python's mmap of a file), beside its one load
        region(0x7F5000000, 100, "r--p", "/usr/lib/libc.so.6", "lib", inode=13),
        region(0x7F6000000, 100, "r--p", "/usr/lib/libc.so.6", "lib", inode=13),
        region(0x7F6100000, 100, "r-xp", "/usr/lib/libc.so.6", "lib", 0x1000, inode=13),
        region(0x7F3000000, 100, "r-xp", "/usr/lib/libold.so.2 (deleted)", "lib", inode=11),
        region(0x7F4000000, 100, "rw-s", "/memfd:jit (deleted)", "shm"),  # not an upgrade
    ]
    growing = Trend("[heap]", "heap", [0, 100, 200, 300], 100.0, 50.0, "leak")
    found = check(Snapshot(1, regions), t, [growing])
    assert names(found) == ["growing", "large-anonymous", "fragmentation", "loaded-twice",
                            "loaded-twice", "private-dirty", "swap", "swap", "jit-code",
                            "writable-exec", "deleted-file"]
    by_name = {f.name: f for f in found}
    assert by_name["growing"].regions == ["[heap]"]
    assert "+100K/snapshot" in by_name["growing"].why
    assert by_name["large-anonymous"].regions == ["0x1000-0x401000 anon"]
    assert by_name["fragmentation"].why.startswith("6 anonymous regions (more than 3)")
    assert by_name["private-dirty"].regions == ["0x900000-0xd00000 /var/db/data.bin"]
    assert "97%" in by_name["private-dirty"].why
    assert by_name["jit-code"].regions == ["0x700000-0x702000 anon", "0x710000-0x712000 anon"]
    assert by_name["jit-code"].severity == "note" and "2 anonymous regions (16K)" in \
        by_name["jit-code"].why
    assert by_name["writable-exec"].regions == ["0x7e0000000-0x7e0019000 /opt/app/plugin.so"]
    assert [f.severity for f in found].count("note") == 1
    assert by_name["deleted-file"].regions == ["/usr/lib/libold.so.2 (deleted)"]
    twice = [f for f in found if f.name == "loaded-twice"]
    assert "mapped at 2 bases" in twice[0].why
    assert twice[1].regions == ["/opt/old/libz.so.1", "/usr/lib/libz.so.1"]
    assert found[0].to_dict()["finding"] == "growing"
