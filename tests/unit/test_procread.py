"""procread on real processes (children of the test): kept-open files stay true."""

from __future__ import annotations

import platform
import shutil
import subprocess
import sys
import time

import pytest

from gdbmem import procread
from gdbmem.errors import TargetError

_READ = {"x86_64": b"0 ", "aarch64": b"63 "}.get(platform.machine())  # read(2)'s number


def _wait_for(predicate, seconds: float = 30.0) -> None:
    deadline = time.monotonic() + seconds
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("the child never got there")
        time.sleep(0.01)


@pytest.mark.skipif(_READ is None, reason="read(2)'s number on this machine is not known here")
def test_a_kept_smaps_follows_exec_and_exit():
    """An open smaps keeps the address space it was opened on: after an exec it reads empty,
    so read_whole opens it again and tells the new program's mappings, never the old."""
    sleep = shutil.which("sleep")
    child = subprocess.Popen(["sh", "-c", f"read line; exec {sleep} 30"],
                             stdin=subprocess.PIPE)
    try:
        # Asleep in read(2) on its stdin: its memory rests.
        _wait_for(lambda: procread.read_whole(child.pid, "syscall").startswith(_READ))
        before = procread.read_whole(child.pid, "smaps", keep_open=True)
        assert b"/sh" in before or b"dash" in before or b"bash" in before
        assert f"/proc/{child.pid}/smaps" in procread.KEPT
        assert procread.read_whole(child.pid, "smaps", keep_open=True) == before  # it rests
        child.stdin.write(b"go\n")
        child.stdin.flush()
        _wait_for(lambda: sleep.encode() in procread.read_whole(child.pid, "maps"))
        after = procread.read_whole(child.pid, "smaps", keep_open=True)
        assert sleep.encode() in after and after != before
        # Asleep in a system call (once it gets there): its number, args, sp, pc.
        _wait_for(lambda: len(procread.read_whole(child.pid, f"task/{child.pid}/syscall",
                                                   keep_open=True).split()) >= 3)
    finally:
        child.kill()
        child.wait()
    with pytest.raises(TargetError, match=f"process {child.pid} has exited"):
        procread.read_whole(child.pid, "smaps", keep_open=True)
    assert f"/proc/{child.pid}/smaps" not in procread.KEPT


_MANY_MAPPINGS = """
import ctypes, mmap, sys
libc = ctypes.CDLL(None, use_errno=True)
libc.mmap.restype = ctypes.c_void_p
libc.mmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int, ctypes.c_int, ctypes.c_int,
                      ctypes.c_long]
libc.mprotect.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int]
page, n = mmap.PAGESIZE, 3000
base = libc.mmap(None, 2 * n * page, 3, mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS, -1, 0)
for i in range(n):  # rw, r, rw, r, ...: 6,000 mappings
    assert libc.mprotect(base + (2 * i + 1) * page, page, 1) == 0
print("ready", flush=True)
sys.stdin.readline()
"""


_MOVING = (b"Referenced:", b"Pss", b"Shared_", b"Private_", b"SwapPss:")


def _resting(data: bytes) -> bytes:
    """smaps without the lines that move while a process rests: page reclaim clears
    Referenced, and PSS and the shared/private split of a file's pages move as other
    processes map the same files (the reader's own helper maps libc and the locale)."""
    return b"\n".join(line for line in data.split(b"\n") if not line.startswith(_MOVING))


@pytest.fixture
def many_mappings():
    child = subprocess.Popen([sys.executable, "-c", _MANY_MAPPINGS], stdin=subprocess.PIPE,
                             stdout=subprocess.PIPE)
    try:
        assert child.stdout.readline() == b"ready\n"
        if _READ is not None:  # asleep in read(2) on its stdin: its memory rests from here
            _wait_for(lambda: procread.read_whole(child.pid, "syscall").startswith(_READ))
        else:
            time.sleep(0.5)
        yield child.pid
    finally:
        child.kill()
        child.wait()


def test_the_reader_on_the_other_core_reads_what_a_plain_read_does(many_mappings):
    """ProcReader's helper (dd, reading 3/4 of a page at a time so that the kernel never
    writes a record twice) gives the same bytes as our own read, in chunks of at most
    _READ_CHUNK, whether or not the helper can be started."""
    pid = many_mappings
    plain = procread.read_whole(pid, "smaps")
    assert plain.count(b"\nRss:") >= 6000 and len(plain) > 4 * procread._READ_CHUNK
    chunks = list(procread.ProcReader(pid, "smaps").chunks())
    assert len(chunks) > 1 and all(len(c) <= 2 * procread._READ_CHUNK for c in chunks)
    assert _resting(b"".join(chunks)) == _resting(plain)


def test_without_a_helper_the_reader_reads_itself(many_mappings, monkeypatch):
    def no_helper(*args, **kwargs):
        raise OSError("no dd here")

    monkeypatch.setattr(procread.subprocess, "Popen", no_helper)
    reader = procread.ProcReader(many_mappings, "smaps")
    assert reader.helper is None
    assert _resting(b"".join(reader.chunks())) == _resting(
        procread.read_whole(many_mappings, "smaps"))


def test_the_reader_of_a_process_gone_says_so():
    """(A process that goes while it is read reads short or empty: the target checks that.)"""
    child = subprocess.Popen(["true"])
    child.wait()
    with pytest.raises(TargetError, match=f"process {child.pid} has exited"):
        procread.ProcReader(child.pid, "smaps")


def test_a_live_map_is_its_smaps_headers(many_mappings):
    """What carry.maps_of relies on: a process's maps is, byte for byte, the first line of
    each of its smaps blocks."""
    from gdbmem.store.carry import maps_of
    from gdbmem.store.record import Record

    smaps = procread.read_whole(many_mappings, "smaps")
    assert maps_of(Record(many_mappings, 0.0, smaps)) == procread.read_whole(many_mappings,
                                                                            "maps")


def test_a_helper_that_refuses_its_options_is_read_around(many_mappings, monkeypatch):
    """A dd that fails before writing anything (one that takes other options) leaves the
    reading to us: the same bytes, no error."""
    real = procread.subprocess.Popen

    def refusing(args, **kwargs):
        return real([args[0], "--no-such-option"], **kwargs)

    monkeypatch.setattr(procread.subprocess, "Popen", refusing)
    assert _resting(b"".join(procread.ProcReader(many_mappings, "smaps").chunks())) == _resting(
        procread.read_whole(many_mappings, "smaps"))
