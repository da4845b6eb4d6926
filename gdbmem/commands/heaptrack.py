"""memtrace on --malloc: heaptrack, driven from the user's own gdb session.

`run` starts the program with heaptrack's preload library (through gdb's exec-wrapper, so
the shell gdb starts programs with is not preloaded), writing into a FIFO that a
heaptrack_interpret started here turns into a file of our own (0600, in a 0700 temporary
directory, removed when gdb exits). At any stop what heaptrack has written so far is read
(trace/heaptrack.py) and reported beside the system calls' sites.
"""

from __future__ import annotations

import atexit
import os
import shlex
import shutil
import subprocess
import tempfile

import gdb  # type: ignore[import-not-found]

from gdbmem.errors import UsageError
from gdbmem.target.symbols import name_pc
from gdbmem.trace.fold import Frame, site_frame
from gdbmem.trace.heaptrack import HeaptrackData, RawAllocations

# What heaptrack may not have written yet: its preload library hands its records over a
# buffer at a time while the program runs, and the rest as it exits.
NOT_YET = ("heaptrack hands its records over a buffer at a time while the program runs (its "
           "library's, then its interpreter's), and all of them when it exits: at a stop, the "
           "last allocations (some kB of records) may not be counted yet")


def _installed() -> tuple[str, str, str]:
    """heaptrack's preload and inject libraries and its interpreter, found as its own
    script finds them."""
    script = shutil.which("heaptrack")
    if script is None:
        raise UsageError("--malloc needs heaptrack, which is not installed: "
                         "apt-get install heaptrack (or your system's heaptrack package)")
    base = os.path.join(os.path.dirname(os.path.realpath(script)), "..", "lib", "heaptrack")
    preload = os.path.realpath(os.path.join(base, "libheaptrack_preload.so"))
    inject = os.path.realpath(os.path.join(base, "libheaptrack_inject.so"))
    interpret = os.path.realpath(os.path.join(base, "libexec", "heaptrack_interpret"))
    for path in (preload, inject, interpret):
        if not os.path.exists(path):
            raise UsageError(f"heaptrack is installed without {path}: reinstall it")
    return preload, inject, interpret


class Heaptrack:
    """One --malloc session: the FIFO, the interpreter of the process being run, what it
    has written so far."""

    def __init__(self) -> None:
        self.preload, self.inject_library, self.interpret = _installed()
        self.directory = tempfile.mkdtemp(prefix="gdbmem-heaptrack-")  # 0700
        self.fifo = os.path.join(self.directory, "fifo")
        os.mkfifo(self.fifo, 0o600)
        self.reader: subprocess.Popen | None = None  # tee: the FIFO into a file and the pipe
        self.interpreter: subprocess.Popen | None = None
        self.output = ""
        self.raw_path = ""  # heaptrack's raw lines, as the library wrote them (addresses)
        self.raw_position = 0
        self.raw = RawAllocations()
        self.position = 0
        self.data = HeaptrackData()
        self.finished: HeaptrackData | None = None  # the last run's, once it exited
        self.runs = 0
        self.users_wrapper = ""  # the exec-wrapper the user had set, if any
        self.armed = False  # the next run is preloaded
        atexit.register(self.close)

    def arm(self) -> None:
        """The next `run` is preloaded (the program only: the exec-wrapper runs after the
        shell), and an interpreter waits on the FIFO for it."""
        self._start_reader()
        wrapper = (f"env LD_PRELOAD={shlex.quote(self.preload)} "
                   f"DUMP_HEAPTRACK_OUTPUT={shlex.quote(self.fifo)}")
        self.armed = True
        current = str(gdb.parameter("exec-wrapper") or "")
        if current != wrapper:
            self.users_wrapper = current  # put back by disarm()
            # A wrapper of the user's stays: it runs the program through ours.
            gdb.execute(f"set exec-wrapper {wrapper}{' ' + current if current else ''}",
                        to_string=True)

    def inject(self) -> None:
        """Into the process stopped now (attached, or run without --malloc), as `heaptrack
        -p` does: dlopen its inject library, and call its entry point with the FIFO an
        interpreter waits on. Allocations from now on are recorded; those made before are
        not known to it (a free of one is not counted)."""
        self._start_reader()
        library = self.inject_library.replace("\\", "\\\\").replace('"', '\\"')
        fifo = self.fifo.replace("\\", "\\\\").replace('"', '\\"')
        try:
            handle = gdb.parse_and_eval(
                f'((void *(*)(const char *, int)) dlopen)("{library}", 0x102)')
            if int(handle) == 0:
                raise UsageError("the process could not load heaptrack's inject library "
                                 f"({self.inject_library})")
            gdb.parse_and_eval(f'((void (*)(const char *)) heaptrack_inject)("{fifo}")')
        except gdb.error as exc:
            raise UsageError(f"heaptrack could not be started in the process: gdb could not "
                             f"call into it ({str(exc).rstrip('.')}); start the program with "
                             "it instead: `memtrace on --malloc` before `run`") from None

    def _start_reader(self) -> None:
        if self.reader is not None and self.reader.poll() is None:
            return
        self.runs += 1
        self.output = os.path.join(self.directory, f"run-{self.runs}.heaptrack")
        self.raw_path = os.path.join(self.directory, f"run-{self.runs}.raw")
        fd = os.open(self.output, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        os.close(os.open(self.raw_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
        try:
            self.interpreter = subprocess.Popen(
                [self.interpret], stdin=subprocess.PIPE, stdout=fd, stderr=subprocess.DEVNULL)
            # tee keeps the raw lines (the interpreted ones have no addresses: vmainfo and
            # memleak ask which stack allocated a block) and passes them on. Its shell opens
            # the FIFO (an open that waits for the writer: never gdb).
            self.reader = subprocess.Popen(
                ["sh", "-c", 'exec tee -a -- "$1" < "$0"', self.fifo, self.raw_path],
                stdout=self.interpreter.stdin, stderr=subprocess.DEVNULL,
                stdin=subprocess.DEVNULL)
        finally:
            os.close(fd)
            if self.interpreter is not None and self.interpreter.stdin is not None:
                self.interpreter.stdin.close()  # tee holds the pipe: its end is the end
        self.position = 0
        self.data = HeaptrackData()
        self.collected = False  # exited() read this run's whole output
        self.raw_position = 0
        self.raw = RawAllocations()
        self.names: dict[int, Frame] = {}  # return addresses named in this run's space

    def exited(self) -> None:
        """The process gdb ran has exited (events.py): its interpreter writes its last and
        ends, what it wrote is read whole (reported until another runs), and a new
        interpreter waits for the next run."""
        if self.reader is None or self.collected:
            return  # no run was recorded, or this one's is read already
        try:
            # An interpreter whose FIFO no process opened (a static program ignores
            # LD_PRELOAD) waits for a writer that will not come: it is not waited for.
            self.reader.wait(timeout=30 if self._served() else 0)
        except subprocess.TimeoutExpired:
            self.reader.kill()
            self.reader.wait()
        if self.interpreter is not None:
            try:
                self.interpreter.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.interpreter.kill()
                self.interpreter.wait()
        self._feed()
        self.finished = self.data
        self.collected = True
        if self.armed:
            self._start_reader()

    def _served(self) -> bool:
        """Whether a process opened the FIFO: the interpreter's shell opens it as its
        standard input only once a writer has (until then, that is /dev/null)."""
        try:
            return os.readlink(f"/proc/{self.reader.pid}/fd/0") == self.fifo  # type: ignore
        except OSError:
            return True  # gone already, or no /proc to ask: it has what it got

    def _feed(self) -> None:
        try:
            with open(self.output, "rb") as fh:
                fh.seek(self.position)
                new = fh.read()
        except OSError:
            return
        self.position += len(new)
        self.data.feed(new)

    def site_of(self, address: int) -> tuple[int, Frame] | None:
        """(requested size, allocation site) of the block heaptrack saw allocated at
        `address` and not freed, so far; its stack folded as memtrace's are."""
        found = self.allocated(address)
        if found is None:
            return None
        size, ips = found
        frames = []
        for ip in ips:
            frame = self.names.get(ip)
            if frame is None:
                # A return address: its call is the instruction before it.
                frame = self.names[ip] = name_pc(ip - 1)._replace(pc=ip)
            frames.append(frame)
        return (size, site_frame(frames)) if frames else None

    def allocated(self, address: int) -> tuple[int, list[int]] | None:
        """(requested size, return addresses) of the block heaptrack saw allocated at
        `address` and not freed, so far."""
        try:
            with open(self.raw_path, "rb") as fh:
                fh.seek(self.raw_position)
                new = fh.read()
        except OSError:
            new = b""
        self.raw_position += len(new)
        self.raw.feed(new)
        return self.raw.at(address)

    def read(self) -> HeaptrackData:
        """What heaptrack has written so far of the process running now; without one, all
        that the last one wrote."""
        if not gdb.selected_inferior().pid and self.finished is not None:
            return self.finished
        self._feed()
        return self.data

    def disarm(self) -> None:
        """The next run starts without heaptrack (what was recorded stays readable), with
        the user's own wrapper as it was."""
        self.armed = False
        if self.users_wrapper:
            gdb.execute(f"set exec-wrapper {self.users_wrapper}", to_string=True)
        else:
            gdb.execute("unset exec-wrapper", to_string=True)

    def close(self) -> None:
        for process in (self.reader, self.interpreter):
            if process is not None and process.poll() is None:
                process.kill()
                process.wait()
        shutil.rmtree(self.directory, ignore_errors=True)
