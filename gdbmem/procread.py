"""Reading a local process's /proc files, fast, with errors a user can act on. No gdb here:
target.py decides when the process is local (a native target) and asks this module.
"""

from __future__ import annotations

import errno
import fcntl
import os
import subprocess
from collections.abc import Iterator
from typing import IO

from gdbmem.caches import EXEC, EXITED, INFERIOR_DELETED, Cache
from gdbmem.errors import TargetError

_READ_CHUNK = 1 << 19
_SMALL_READ = 1 << 16  # under malloc's mmap threshold: small files read without mmap churn
_F_SETPIPE_SZ = 1031  # fcntl.F_SETPIPE_SZ, named there only from Python 3.10


def open_proc(pid: int, name: str) -> int:
    path = f"/proc/{pid}/{name}"
    try:
        return os.open(path, os.O_RDONLY)
    except FileNotFoundError:
        raise TargetError(f"process {pid} has exited") from None
    except PermissionError:
        raise TargetError(f"cannot read {path}: permission denied (the process is another "
                          "user's, or not dumpable): gdbmem needs its /proc, so run gdb as root; "
                          "gdb's own x and dump memory still work") from None
    except OSError as exc:
        raise read_error(pid, name, exc) from None


_PF_EXITING = 0x4  # the kernel's task flag, set as do_exit() starts, before the mm goes


def alive(pid: int) -> bool:
    """Whether the process still has its memory: it exists, is not exiting (a read of its
    smaps while it exits is cut short: the mappings go one by one) and is not a zombie (a
    killed process nobody has waited for yet keeps its /proc, with empty maps)."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            stat = fh.read()
    except OSError:
        return False
    # After the command's closing ')': state ppid pgrp session tty_nr tpgid flags ...
    fields = stat[stat.rfind(b")") + 2:].split()
    try:
        state, flags = fields[0], int(fields[6])
    except (IndexError, ValueError):
        return False
    return state not in (b"Z", b"X", b"x") and not flags & _PF_EXITING


def exited(pid: int) -> TargetError:
    return TargetError(f"process {pid} has exited (it is a zombie, or gone): its memory is "
                       "no more")


def read_error(pid: int, name: str, exc: OSError) -> TargetError:
    if exc.errno == errno.ESRCH:  # gone while we read, or a zombie's memory
        return exited(pid)
    return TargetError(f"cannot read /proc/{pid}/{name}: {exc.strerror}")


def read_fd(fd: int, pid: int, name: str) -> Iterator[bytes]:
    try:
        while True:
            chunk = os.read(fd, _SMALL_READ)
            if not chunk:
                return
            yield chunk
    except OSError as exc:
        raise read_error(pid, name, exc) from None


# The files read with keep_open, by path: their open fds.
KEPT: Cache[str, int] = Cache(
    "open /proc files", 64, {EXITED, EXEC, INFERIOR_DELETED},
    "an open /proc file reads the address space it was opened on: an exec replaces it, an "
    "exit ends it (and the fd would keep the dead process's files)", close=os.close)


def read_whole(pid: int, name: str, keep_open: bool = False) -> bytes:
    """The whole of /proc/PID/NAME.

    keep_open is for files read at every hit of a breakpoint (a snapshot's smaps, each
    thread's syscall): the file stays open, and is read again with pread from 0, which makes
    the kernel write it afresh: that spares the open, 5 of the 7 us a thread's syscall costs.
    A kept file that fails or reads empty is of a process gone, or one that exec'd (an open
    smaps keeps the old address space), so it is opened again.
    """
    path = f"/proc/{pid}/{name}"
    if keep_open:
        fd = KEPT.take(path)
        if fd is not None:
            try:
                data = _pread_all(fd)
            except OSError:
                data = b""
            if data:
                KEPT.put(path, fd)
                return data
            os.close(fd)
    fd = open_proc(pid, name)
    try:
        data = b"".join(read_fd(fd, pid, name))
    except BaseException:
        os.close(fd)
        raise
    if not (keep_open and data):
        os.close(fd)
        return data
    KEPT.put(path, fd)
    return data


# The kernel writes a /proc seq file a page at a time, and the record that no longer fits in
# the page is written again at the next read. Reading 3/4 of a page at a time, the kernel
# stops short of the page and keeps what it wrote: 5% less time for a small smaps.
_KEPT_READ = os.sysconf("SC_PAGE_SIZE") * 3 // 4


def _pread_all(fd: int) -> bytes:
    pieces = []
    offset = 0
    while True:
        piece = os.pread(fd, _KEPT_READ, offset)
        if not piece:
            return b"".join(pieces)
        pieces.append(piece)
        offset += len(piece)


def large_chunks(pipe: IO[bytes]) -> Iterator[bytes]:
    """A pipe's bytes in chunks of about _READ_CHUNK, however little each read returns."""
    fd = pipe.fileno()
    try:
        fcntl.fcntl(fd, _F_SETPIPE_SZ, _READ_CHUNK)  # let the writer run a chunk ahead
    except OSError:
        pass
    pieces: list[bytes] = []
    size = 0
    while True:
        piece = os.read(fd, _READ_CHUNK)
        if not piece:
            break
        pieces.append(piece)
        size += len(piece)
        if size >= _READ_CHUNK:
            yield b"".join(pieces)
            pieces, size = [], 0
    if pieces:
        yield b"".join(pieces)


class ProcReader:
    """/proc/PID/NAME read by a helper, `dd`, into a pipe, started at once and drained by
    chunks().

    The kernel writes smaps one page per read() (4,000 reads for 20,000 regions), and writing
    it is most of its cost. The helper does those reads on the other core while we parse the
    chunks already read; a thread of ours could not, as it would take the GIL back 4,000
    times. dd reads 3/4 of a page at a time, so that the kernel never writes a record twice
    (see _KEPT_READ), and writes the pipe in blocks of half a chunk, so that we wake once a
    block, not once a page: at 20,000 regions that took the last byte from ~150 ms to ~120
    (cat: reads of 128 KiB, a page each, then as many writes). Where the helper cannot be
    started, we read the file ourselves.
    """

    def __init__(self, pid: int, name: str):
        self.pid, self.name = pid, name
        self.fd: int | None = open_proc(pid, name)  # our open first: its errors are clear
        self.helper: subprocess.Popen | None = None
        try:
            self.helper = subprocess.Popen(
                ["dd", f"if=/proc/{pid}/{name}", f"ibs={_KEPT_READ}", f"obs={_READ_CHUNK // 2}",
                 "status=none"],
                stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        except OSError:
            return
        os.close(self.fd)
        self.fd = None

    def chunks(self) -> Iterator[bytes]:
        try:
            if self.helper is None:
                assert self.fd is not None
                yield from read_fd(self.fd, self.pid, self.name)
                return
            read = 0
            for chunk in large_chunks(self.helper.stdout):  # type: ignore[arg-type]
                read += len(chunk)
                yield chunk
            self.helper.wait()
            if self.helper.returncode:
                reason = self.helper.stderr.read().decode("utf-8", "replace").strip()  # type: ignore[union-attr]
                if not os.path.isdir(f"/proc/{self.pid}"):
                    raise TargetError(f"process {self.pid} has exited")
                if not read:  # a dd that takes other options (busybox's): we read it ourselves
                    fd = open_proc(self.pid, self.name)
                    try:
                        yield from read_fd(fd, self.pid, self.name)
                    finally:
                        os.close(fd)
                    return
                raise TargetError(f"cannot read /proc/{self.pid}/{self.name}: "
                                  f"{reason.splitlines()[-1] if reason else 'dd failed'}")
        finally:
            self.close()

    def close(self) -> None:
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None
        helper, self.helper = self.helper, None
        if helper is not None:
            if helper.poll() is None:
                helper.kill()
                helper.wait()
            helper.stdout.close()  # type: ignore[union-attr]
            helper.stderr.close()  # type: ignore[union-attr]


