"""A process on this machine (gdb's native target): its /proc is ours to read.

smaps and smaps_rollup come from /proc (read by a helper, dd, on the other core while we parse),
pages from pagemap, memory from /proc/PID/mem with large preads, and the threads' stack
pointers from /proc/PID/task/TID/syscall, without switching gdb's threads.
"""

from __future__ import annotations

import errno
import os

from gdbmem import procread
from gdbmem.caches import EXEC, EXITED, INFERIOR_DELETED, NEW_PROGRAM, Cache
from gdbmem.errors import ParseError, TargetError
from gdbmem.kinds import ThreadStackPointer
from gdbmem.model import Region
from gdbmem.proc import (
    PageState,
    decode_pagemap_entry,
    parse_maps,
    parse_smaps_chunks,
    parse_smaps_rollup,
)
from gdbmem.proc.pagemap import absent_runs
from gdbmem.scan.walk import Unreadable
from gdbmem.target.base import PAGE, MemoryReader
from gdbmem.target.gdbtarget import GdbTarget

# The executable's path, by (pid, gdb's program file): read at each breakpoint hit's snapshot.
EXE: Cache[tuple[int, str], str] = Cache(
    "executable paths", 64, {EXITED, EXEC, NEW_PROGRAM, INFERIOR_DELETED},
    "a process's executable changes with an exec, and its pid can be used again once it is gone")


class LocalProcess(GdbTarget):
    def __init__(self, inferior, connection) -> None:
        super().__init__(inferior, connection)
        if not os.path.isdir(f"/proc/{self.pid}"):
            raise TargetError(f"process {self.pid} has exited")

    def read_proc(self, name: str, keep_open: bool = False) -> bytes:
        data = procread.read_whole(self.pid, name, keep_open)
        if not data and name in ("smaps", "maps"):
            self.check_exited()
        return data

    def check_exited(self) -> None:
        """A process always has mappings; empty ones are of a process killed and not yet
        waited for (a zombie keeps its /proc), or gone."""
        if not procread.alive(self.pid):
            raise procread.exited(self.pid)

    def measured_map(self, with_rollup: bool) -> tuple[list[Region], dict | None]:
        # The rollup's reader starts first, so the kernel writes it while we parse smaps.
        rollup_reader = (procread.ProcReader(self.pid, "smaps_rollup")
                         if with_rollup and os.path.exists(f"/proc/{self.pid}/smaps_rollup")
                         else None)
        try:
            regions = parse_smaps_chunks(procread.ProcReader(self.pid, "smaps").chunks(),
                                         summed=rollup_reader is None)
            if not regions:
                self.check_exited()
            rollup = (parse_smaps_rollup(b"".join(rollup_reader.chunks()))
                      if rollup_reader is not None else None)
        except ParseError as exc:
            raise TargetError(f"unexpected /proc/{self.pid}/smaps: {exc}") from None
        finally:
            if rollup_reader is not None:
                rollup_reader.close()
        return regions, rollup

    def counters(self) -> bytes:
        return procread.read_whole(self.pid, "statm", True)

    def map_text(self) -> bytes:
        return procread.read_whole(self.pid, "maps", True)

    def maps(self) -> list[Region]:
        try:
            return parse_maps(self.read_proc("maps"))  # read_proc: a zombie's are empty
        except ParseError as exc:
            raise TargetError(f"unexpected /proc/{self.pid}/maps: {exc}") from None

    def exe(self) -> str:
        # An exec changes gdb's program, so the program's file is in the key as well.
        key = (self.pid, getattr(self.inferior.progspace, "filename", None) or "")
        cached = EXE.get(key)
        if cached is not None:
            return cached
        try:
            exe = os.readlink(f"/proc/{self.pid}/exe")
        except OSError:
            return ""
        exe = exe[: -len(" (deleted)")] if exe.endswith(" (deleted)") else exe
        EXE.put(key, exe)
        return exe

    def thread_stack_pointers(self) -> list[ThreadStackPointer]:
        """From /proc/PID/task/TID/syscall, the kernel's view of a thread that is stopped or
        in a system call (no thread switching: safe at a breakpoint); a thread that runs
        (`running`) as stack_of_running() finds it. By switching threads where /proc
        cannot be listed."""
        threads = {t.ptid[1]: t for t in self.inferior.threads() if t.is_valid()}
        try:
            # One thread (the common case at a breakpoint in a loop): no directory to list.
            tids = (list(threads) if len(threads) == 1
                    else [int(tid) for tid in os.listdir(f"/proc/{self.pid}/task")])
        except (OSError, ValueError):
            return self.stack_pointers_by_switching()
        out = []
        for tid in tids:
            try:
                words = procread.read_whole(self.pid, f"task/{tid}/syscall", True).split()
            except TargetError:
                continue  # the thread has exited since the listing
            thread = threads.get(tid)
            if len(words) >= 3:
                try:
                    sp = int(words[-2], 16)
                except ValueError:
                    continue
                self.remember_stack(tid, sp)
            else:
                sp = self.stack_of_running(tid, thread)  # type: ignore[assignment]
                if sp is None:
                    continue
            out.append(ThreadStackPointer(thread.num if thread is not None else 0, tid, sp))
        return out

    def page_state(self, address: int) -> PageState | None:
        try:
            with open(f"/proc/{self.pid}/pagemap", "rb", buffering=0) as fh:
                fh.seek((address // PAGE) * 8)
                entry = fh.read(8)
        except OSError:
            return None
        if len(entry) != 8:
            return None
        return decode_pagemap_entry(int.from_bytes(entry, "little"))

    def absent_pages(self, first: int, last: int) -> list[tuple[int, int]]:
        runs: list[tuple[int, int]] = []
        step = 1 << 20  # entries per read: 8 MiB of pagemap
        try:
            with open(f"/proc/{self.pid}/pagemap", "rb", buffering=0) as fh:
                for page in range(first, last, step):
                    count = min(step, last - page)
                    data = os.pread(fh.fileno(), count * 8, page * 8)
                    runs += absent_runs(data[: len(data) - len(data) % 8], page)
        except (OSError, OverflowError):
            return []  # no pagemap: read every page
        return runs

    def check_alive(self) -> None:
        """A killed process reads as empty, like an unreadable page: tell them apart."""
        try:
            with open(f"/proc/{self.pid}/maps", "rb") as fh:
                if fh.read(1):
                    return
        except OSError:
            pass
        raise TargetError(f"process {self.pid} exited during the read")

    def memory_reader(self) -> MemoryReader:
        return ProcMemReader(self)


class ProcMemReader(MemoryReader):
    """/proc/PID/mem with large preads: one read per chunk, where gdb's `dump memory` goes
    through its target layers; gdb's read_memory where that file cannot be used."""

    def __init__(self, target: LocalProcess):
        super().__init__(target)
        self.fd: int | None = None
        try:
            self.fd = os.open(f"/proc/{target.pid}/mem", os.O_RDONLY | os.O_CLOEXEC)
        except OSError:
            self.fd = None

    def close(self) -> None:
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None

    def read_into(self, address: int, view: memoryview) -> int:
        if self.fd is None or address >= 1 << 63:
            return super().read_into(address, view)
        done = 0
        while done < len(view):
            try:
                got = os.preadv(self.fd, [view[done:]], address + done)
            except OSError as exc:
                if exc.errno == errno.ESRCH:
                    raise TargetError(f"process {self.target.pid} exited during the "
                                      "read") from None
                break  # an unreadable page: the caller reads up to it
            if got <= 0:
                break
            done += got
        return done

    def read(self, address: int, size: int) -> bytes:
        if self.fd is None or address >= 1 << 63:  # pread takes no offset past 2**63
            return super().read(address, size)
        try:
            data = os.pread(self.fd, size, address)
        except OSError as exc:
            if exc.errno == errno.ESRCH:
                raise TargetError(f"process {self.target.pid} exited during the read") from None
            if exc.errno in (errno.EIO, errno.EFAULT, errno.EINVAL, errno.ENOMEM):
                self.target.check_alive()
                raise Unreadable(address) from None
            raise TargetError(f"cannot read memory at {address:#x}: {exc.strerror}") from None
        if not data:  # the process's memory is gone
            self.target.check_alive()
            raise Unreadable(address)
        return data
