"""kinds.classify on the captured layout, with the thread stack pointers gdb would give."""

from __future__ import annotations

import struct

import pytest

from gdbmem.kinds import ThreadStackPointer, classify, kind_by_name
from gdbmem.model import Region
from gdbmem.proc import parse_smaps
from tests.helpers import fixture, layout

EXPECTED = (
    ["anon", "file", "shm", "file", "shm"] + ["exe"] * 5 + ["heap", "arena", "arena"]
    + ["guard", "thread-stack", "guard", "thread-stack", "anon"] + ["lib"] * 5
    + ["anon", "anon", "vvar", "vvar", "vdso"] + ["lib"] * 5 + ["stack", "vsyscall"]
)


def test_every_region_of_the_layout_gets_its_kind():
    assert [r.kind for r in layout()] == EXPECTED


def test_stacks_and_guards_name_their_threads():
    regions = layout()
    owners = {r.start: (r.kind, r.thread, r.lwp) for r in regions if r.thread is not None}
    assert owners == {
        0x7FFFF7D10000: ("guard", 3, 5607), 0x7FFFF7D11000: ("thread-stack", 3, 5607),
        0x7FFFF7D91000: ("guard", 2, 5606), 0x7FFFF7D92000: ("thread-stack", 2, 5606),
        0x7FFFFFFDE000: ("stack", 1, 5602),
    }
    assert regions[14].size_kb == 512 and regions[16].size_kb == 256


def test_without_threads_the_stacks_are_anonymous():
    kinds = [r.kind for r in layout(threads=[])]
    assert kinds[13:17] == ["anon"] * 4
    assert kinds[-2] == "stack"  # the kernel names the main one


def heap_info_reader(ar_ptr_offset, size):
    def read(address, length):
        return struct.pack("<3Q", address + ar_ptr_offset, 0, size)[:length]
    return read


def test_arena_needs_a_plausible_heap_info_when_memory_is_readable():
    assert [r.kind for r in layout(read_memory=heap_info_reader(0x20, 0x21000))][11:13] == \
        ["arena", "arena"]
    assert [r.kind for r in layout(read_memory=heap_info_reader(-0x1000, 0x21000))][11:13] == \
        ["anon", "anon"]
    assert [r.kind for r in layout(read_memory=lambda a, n: None)][11:13] == ["anon", "anon"]


def test_old_kernel_stack_names():
    regions = classify(parse_smaps(fixture("linux-3.10.smaps")), exe="/usr/bin/old app",
                       threads=[ThreadStackPointer(2, 4242, 0x7F1C4121D000)])
    assert [r.kind for r in regions] == ["exe", "exe", "heap", "anon", "guard",
                                         "thread-stack", "lib", "stack", "vsyscall"]
    assert (regions[5].thread, regions[5].lwp) == (2, 4242)
    assert regions[6].deleted


@pytest.mark.parametrize("path, perms, kind", [
    ("/SYSV00000000 (deleted)", "rw-s", "shm"), ("/dev/shm/pool", "rw-s", "shm"),
    ("/memfd:jit (deleted)", "r-xs", "shm"), ("/dev/zero (deleted)", "rw-s", "shm"),
    ("/dev/zero", "rw-p", "anon"), ("[anon:arena pool]", "rw-p", "anon"),
    ("[anon_shmem:x]", "rw-s", "shm"), ("[vvar_vclock]", "r--p", "vvar"),
    ("/usr/lib/libpython3.11.so.1.0", "r-xp", "lib"),
    ("/lib/ld-linux-x86-64.so.2", "r--p", "lib"), ("/opt/app/plugins/libfoo.so", "r-xp", "lib"),
    ("/usr/lib/locale/C.utf8/LC_CTYPE", "r--p", "file"),
    ("/var/db/data.so.db", "r--p", "file"), ("/usr/bin/app (deleted)", "r-xp", "exe"),
    ("", "rw-p", "anon"), ("[uprobes]", "r-xp", "anon"),
])
def test_kind_by_name(path, perms, kind):
    assert kind_by_name(Region(0x1000, 0x2000, perms, path=path), exe="/usr/bin/app") == kind


def test_no_access_gaps_inside_a_library_are_guards():
    lib = "/usr/lib/libz.so.1"
    regions = classify([Region(0x1000, 0x2000, "r-xp", path=lib),
                        Region(0x2000, 0x3000, "---p", path=lib),
                        Region(0x3000, 0x4000, "r--p", path=lib)])
    assert [r.kind for r in regions] == ["lib", "guard", "lib"]
