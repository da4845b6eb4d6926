"""procread on real processes (children of the test): kept-open files stay true."""

from __future__ import annotations

import platform
import shutil
import subprocess
import time

import pytest

from gdbmem import procread
from gdbmem.errors import TargetError

_READ = {"x86_64": b"0 ", "aarch64": b"63 "}.get(platform.machine())  # read(2)'s number


def _wait_for(predicate, seconds: float = 5.0) -> None:
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
