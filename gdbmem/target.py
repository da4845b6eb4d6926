"""The one place that asks gdb which process this is, and reads its /proc files and memory.

Everything here turns gdb's failures into TargetError, so the layers above see one error type.
"""

from __future__ import annotations

import errno
import os
import re
import tempfile
import time
from collections.abc import Iterator

import gdb  # type: ignore[import-not-found]

from gdbmem import procread
from gdbmem.analysis.spans import merge_holes
from gdbmem.errors import ParseError, TargetError
from gdbmem.kinds import ThreadStackPointer, classify, name_core_regions
from gdbmem.model import Region, Snapshot, Symbol
from gdbmem.proc import (
    PageState,
    decode_pagemap_entry,
    parse_maps,
    parse_smaps_chunks,
    parse_smaps_rollup,
)
from gdbmem.proc.core import core_regions
from gdbmem.proc.pagemap import absent_runs
from gdbmem.scan import Hole, Unreadable
from gdbmem.snapshots import Record

_SCRATCH = "/dev/shm" if os.access("/dev/shm", os.W_OK) else None
_EXE: dict[tuple[int, str | None], str] = {}
_MASK64 = (1 << 64) - 1


class Process:
    """The selected inferior's live process, checked to be one whose /proc we can read."""

    def __init__(self) -> None:
        inferior = gdb.selected_inferior()
        connection = getattr(inferior, "connection", None)
        kind = getattr(connection, "type", None) if connection is not None else None
        self.core = kind == "core"
        if not inferior.pid and not self.core:
            raise TargetError("no process: start one with `run` or `start`, or `attach PID`")
        self.inferior = inferior
        self.connection = connection
        self.pid: int = inferior.pid
        # With several inferiors, say which one a report is of.
        self.which = (f"inferior {inferior.num}, process {inferior.pid}"
                      if len(gdb.inferiors()) > 1 else "")
        # Over gdbserver the process and its /proc are on the other machine: its files come
        # through gdb's remote file access and its memory through gdb, never from the local
        # /proc (a pid there is not a pid here).
        self.remote = kind in ("remote", "extended-remote")
        self.local = not (self.remote or self.core)  # its /proc is this machine's
        if self.local and not os.path.isdir(f"/proc/{self.pid}"):
            raise TargetError(f"process {self.pid} has exited")

    def still_selected(self) -> bool:
        """Whether this is still the selected inferior's process, through the same connection
        (a breakpoint's hits keep one Process: building one costs 10 us a hit)."""
        inferior = gdb.selected_inferior()
        return (inferior is self.inferior and inferior.pid == self.pid
                and getattr(inferior, "connection", None) is self.connection)

    # /proc -----------------------------------------------------------------------------------

    def read_proc(self, name: str, keep_open: bool = False) -> bytes:
        """The whole of /proc/PID/NAME (keep_open: see procread.read_whole)."""
        if self.core:
            raise TargetError("this is a core file: it has no /proc (the map comes from the core)")
        if self.remote:
            return self._remote_get(f"/proc/{self.pid}/{name}")
        return procread.read_whole(self.pid, name, keep_open)

    def _remote_get(self, path: str) -> bytes:
        """A file of the remote machine, through gdbserver (`remote get`), fresh each time."""
        # On tmpfs where there is one: deleting a fresh 1 MB file on ext4 costs ~8 ms.
        fd, local = tempfile.mkstemp(prefix="gdbmem-remote-", dir=_SCRATCH)
        os.close(fd)
        try:
            gdb.execute(f'remote get "{path}" "{local}"', to_string=True)
            with open(local, "rb") as fh:
                return fh.read()
        except gdb.error as exc:
            raise TargetError(f"cannot read {path} on the remote target: {exc}") from None
        finally:
            os.unlink(local)

    def read_proc_chunks(self, name: str) -> Iterator[bytes]:
        """/proc/PID/NAME in chunks of about _READ_CHUNK, read by another process (see
        _ProcReader) while the caller parses the chunks already read."""
        if not self.local:
            return iter([self.read_proc(name)])
        return procread.ProcReader(self.pid, name).chunks()

    def exe(self) -> str:
        # Cached at each breakpoint hit's snapshot; an exec changes gdb's program, so the
        # program's file is in the key.
        key = (self.pid, getattr(self.inferior.progspace, "filename", None))
        cached = _EXE.get(key)
        if cached is not None:
            return cached
        if not self.local:  # the file gdb loaded: its path on the target, maybe target:PATH
            name = key[1] or ""
            return name[len("target:"):] if name.startswith("target:") else name
        try:
            exe = os.readlink(f"/proc/{self.pid}/exe")
        except OSError:
            return ""
        exe = exe[: -len(" (deleted)")] if exe.endswith(" (deleted)") else exe
        if len(_EXE) > 64:
            _EXE.clear()
        _EXE[key] = exe
        return exe

    def cmdline(self) -> str:
        try:
            raw = self.read_proc("cmdline")
        except TargetError:
            return ""
        return raw.rstrip(b"\0").replace(b"\0", b" ").decode("utf-8", "replace")

    def page_state(self, address: int) -> PageState | None:
        """The pagemap entry of the page that holds `address`, or None if unreadable."""
        if not self.local:
            return None  # no pagemap over gdbserver, none in a core: page state unknown
        page = os.sysconf("SC_PAGE_SIZE")
        try:
            with open(f"/proc/{self.pid}/pagemap", "rb", buffering=0) as fh:
                fh.seek((address // page) * 8)
                entry = fh.read(8)
        except OSError:
            return None
        if len(entry) != 8:
            return None
        return decode_pagemap_entry(int.from_bytes(entry, "little"))

    def not_resident(self, regions: list[Region], start: int, end: int) -> list[Hole]:
        """The page ranges of [start, end) inside `regions` that are not resident (pagemap).
        A region smaps reports empty (no Rss, no Swap) needs no pagemap at all."""
        page = os.sysconf("SC_PAGE_SIZE")
        holes: list[Hole] = []
        for region in regions:
            lo, hi = max(start, region.start), min(end, region.end)
            if lo >= hi:
                continue
            if region.rss_kb == 0 and not region.swap_kb:
                holes.append(Hole(lo, hi, "not resident"))
                continue
            if not self.local:
                continue  # no pagemap over gdbserver or in a core: read the pages
            holes += [Hole(max(lo, first * page), min(hi, last * page), "not resident")
                      for first, last in self._absent_pages(lo // page, -(-hi // page))]
        return merge_holes(holes)

    def _absent_pages(self, first: int, last: int) -> list[tuple[int, int]]:
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

    # gdb -------------------------------------------------------------------------------------

    def read_memory(self, address: int, length: int) -> bytes | None:
        try:
            return bytes(self.inferior.read_memory(address, length))
        except (gdb.MemoryError, gdb.error, ValueError, OverflowError):
            return None

    def thread_stack_pointers(self) -> list[ThreadStackPointer]:
        """Each stopped thread's innermost stack pointer, from /proc/PID/task/TID/syscall
        (the kernel's view of a stopped thread: no thread switching, safe at a breakpoint);
        where that file cannot tell, by switching gdb to each thread."""
        from_proc = self._stack_pointers_from_proc() if self.local else None
        return from_proc if from_proc is not None else self._stack_pointers_by_switching()

    def _stack_pointers_from_proc(self) -> list[ThreadStackPointer] | None:
        numbers = {t.ptid[1]: t.num for t in self.inferior.threads() if t.is_valid()}
        out = []
        try:
            # One thread (the common case at a breakpoint in a loop): no directory to list.
            for tid in numbers if len(numbers) == 1 else os.listdir(f"/proc/{self.pid}/task"):
                words = procread.read_whole(self.pid, f"task/{tid}/syscall", True).split()
                if len(words) < 3:  # "running": only gdb can ask, and not now
                    return None
                out.append(ThreadStackPointer(numbers.get(int(tid), 0), int(tid),
                                              int(words[-2], 16)))
        except (TargetError, OSError, ValueError):
            return None
        return out

    def _stack_pointers_by_switching(self) -> list[ThreadStackPointer]:
        selected = gdb.selected_thread()
        try:
            frame = gdb.selected_frame()
        except gdb.error:
            frame = None
        out = []
        try:
            for thread in self.inferior.threads():
                if not thread.is_valid() or thread.is_running() or thread.is_exited():
                    continue  # non-stop mode: a running thread has no registers to read
                try:
                    thread.switch()
                    sp = int(gdb.parse_and_eval("$sp")) & _MASK64
                except gdb.error:
                    continue
                out.append(ThreadStackPointer(thread.num, thread.ptid[1] or self.pid, sp))
        finally:
            if selected is not None and selected.is_valid():
                selected.switch()
                if frame is not None and frame.is_valid():
                    frame.select()
        return out

    def record(self, label: str = "", pc: int | None = None) -> Record:
        """A snapshot's raw record: cheap enough to take at every hit of a breakpoint.
        `pc`, when the caller knows it (a breakpoint's address), spares building a frame."""
        if self.core:
            raise TargetError("a core file is one moment: memsnap needs a live process")
        if pc is None:
            try:
                pc = int(gdb.newest_frame().pc())
            except (gdb.error, RuntimeError):
                pc = None
        return Record(self.pid, time.time(), self.read_proc("smaps", keep_open=True), "",
                      self.thread_stack_pointers(), label, exe=self.exe(), pc=pc)

    def regions(self) -> list[Region]:
        """Every region with its smaps fields and kind."""
        return self.snapshot(with_rollup=False).regions

    def snapshot(self, with_rollup: bool = True) -> Snapshot:
        taken_at = time.time()
        regions, rollup = (self._core_regions(), None) if self.core else self._read_smaps(
            with_rollup)
        exe = self.exe()
        classify(regions, exe=exe, threads=self.thread_stack_pointers(), pid=self.pid,
                 read_memory=self.read_memory)
        if self.core:
            name_core_regions(regions)  # a core keeps none of the kernel's names
        return Snapshot(self.pid, regions, rollup, exe=exe, taken_at=taken_at)

    def _read_smaps(self, with_rollup: bool) -> tuple[list[Region], dict | None]:
        # The rollup's reader starts first, so the kernel writes it while we parse smaps.
        rollup_reader = (procread.ProcReader(self.pid, "smaps_rollup")
                         if with_rollup and not self.remote
                         and os.path.exists(f"/proc/{self.pid}/smaps_rollup") else None)
        try:
            regions = parse_smaps_chunks(self.read_proc_chunks("smaps"),
                                         summed=rollup_reader is None)
            # Over gdbserver the totals are summed from the regions: a second file transfer
            # (and a second walk of every page there) would cost more than the map itself.
            rollup = (parse_smaps_rollup(b"".join(rollup_reader.chunks()))
                      if rollup_reader is not None else None)
        except ParseError as exc:
            raise TargetError(f"unexpected /proc/{self.pid}/smaps: {exc}") from None
        finally:
            if rollup_reader is not None:
                rollup_reader.close()
        return regions, rollup

    def maps(self) -> list[Region]:
        """The regions from /proc/PID/maps alone: bounds, perms and names, no figures or kinds.
        A tenth of the cost of smaps, for what needs no more ($vma_start, completion)."""
        if self.core:
            return self._core_regions()
        try:
            return parse_maps(self.read_proc("maps"))
        except ParseError as exc:
            raise TargetError(f"unexpected /proc/{self.pid}/maps: {exc}") from None

    def core_path(self) -> str:
        """The core file gdb has open (`info target` names it)."""
        text = gdb.execute("info target", to_string=True)
        m = re.search(r"Local core dump file:\s*`(.+)', file type", text)
        if m is None:
            raise TargetError("cannot tell which core file gdb has open")
        return m.group(1)

    def _core_regions(self) -> list[Region]:
        """The core's map, unclassified (like maps): snapshot() names the kinds."""
        path = self.core_path()
        try:
            with open(path, "rb") as fh:
                def read(offset: int, size: int) -> bytes:
                    fh.seek(offset)
                    return fh.read(size)
                regions = core_regions(read)
        except OSError as exc:
            raise TargetError(f"cannot read the core file {path}: {exc.strerror}") from None
        except ParseError as exc:
            raise TargetError(f"unexpected core file {path}: {exc}") from None
        return regions

    def map_names(self) -> list[str]:
        """The mapping names (for tab completion: never an error)."""
        try:
            return sorted({r.path for r in self.maps() if r.path})
        except TargetError:
            return []


class MemoryReader:
    """Reads the process's memory for scan.walk: /proc/PID/mem with large preads on a native
    target (one read per chunk, where gdb's `dump memory` goes through its target layers),
    gdb's read_memory where that file cannot be used."""

    def __init__(self, process: Process):
        self.process = process
        self.fd: int | None = None
        if process.local:
            try:
                self.fd = os.open(f"/proc/{process.pid}/mem", os.O_RDONLY | os.O_CLOEXEC)
            except OSError:
                self.fd = None

    def __enter__(self) -> MemoryReader:
        return self

    def __exit__(self, *exc: object) -> None:
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None

    def read(self, address: int, size: int) -> bytes:
        if self.fd is None or address >= 1 << 63:  # pread takes no offset past 2**63
            data = self.process.read_memory(address, size)
            if data is None:
                self._check_alive()
                raise Unreadable(address)
            return data
        try:
            data = os.pread(self.fd, size, address)
        except OSError as exc:
            if exc.errno == errno.ESRCH:
                raise TargetError(f"process {self.process.pid} exited during the read") from None
            if exc.errno in (errno.EIO, errno.EFAULT, errno.EINVAL, errno.ENOMEM):
                self._check_alive()
                raise Unreadable(address) from None
            raise TargetError(f"cannot read memory at {address:#x}: {exc.strerror}") from None
        if not data:  # the process's memory is gone
            self._check_alive()
            raise Unreadable(address)
        return data

    def _check_alive(self) -> None:
        """A killed process reads as empty, like an unreadable page: tell them apart."""
        if not self.process.local:
            if not self.process.inferior.pid:
                raise TargetError("the process has exited")
            return
        try:
            with open(f"/proc/{self.process.pid}/maps", "rb") as fh:
                if fh.read(1):
                    return
        except OSError:
            pass
        raise TargetError(f"process {self.process.pid} exited during the read")


# Expressions and symbols -----------------------------------------------------------------

def evaluate_address(expression: str) -> int:
    """A gdb expression (`$rsp`, `&var`, `ptr+8`, `main`, `0x7ff…`) as an address."""
    if not expression.strip():
        raise TargetError("an address expression is needed, like $sp or &var")
    try:
        value = gdb.parse_and_eval(expression)
        code = value.type.strip_typedefs().code
        if code in (gdb.TYPE_CODE_FUNC, gdb.TYPE_CODE_ARRAY) and value.address is not None:
            value = value.address
        elif code in (gdb.TYPE_CODE_STRUCT, gdb.TYPE_CODE_UNION):
            raise TargetError(f"{expression!r} is a {value.type}, not an address; "
                              f"try &{expression}")
        return int(value) & _MASK64
    except gdb.error as exc:
        raise TargetError(f"cannot evaluate {expression!r}: {exc}") from None


def location_of(pc: int) -> str:
    """`function at file:line` for a code address, as far as gdb's symbols tell."""
    try:
        block = gdb.block_for_pc(pc)
        while block is not None and block.function is None:
            block = block.superblock
        name = block.function.name if block is not None else None
        sal = gdb.find_pc_line(pc)
    except (gdb.error, RuntimeError):
        return f"{pc:#x}"
    name = name or f"{pc:#x}"
    if sal.symtab is None:
        return name
    return f"{name} at {sal.symtab.filename}:{sal.line}"


_INFO_SYMBOL_RE = re.compile(r"(.*?) in section (\S+)(?: of (.*))?")


def symbol_at(address: int) -> Symbol | None:
    """What `info symbol ADDRESS` says: a symbol and section for code and static data."""
    try:
        text = gdb.execute(f"info symbol {address:#x}", to_string=True).strip()
    except gdb.error:
        return None
    m = _INFO_SYMBOL_RE.fullmatch(text.splitlines()[0] if text else "")
    if m is None:
        return None
    return Symbol(m.group(1), m.group(2), m.group(3) or "")
