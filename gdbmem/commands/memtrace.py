"""memtrace: which code grows memory, from the system calls that change the mappings.

A syscall catchpoint on mmap, munmap, mremap, brk, mprotect, shmat and shmdt, whose condition
records, at each call's entry, its arguments and call stack (pcs only), and at its return the
result, and is false: the program goes on; names are resolved when a report is made. The
accounting and the folding of allocator frames are gdbmem.trace's.
"""

from __future__ import annotations

import argparse
import time

import gdb  # type: ignore[import-not-found]

from gdbmem.commands.base import ArgumentParser, Command, add_format, write
from gdbmem.commands.regionspec import resolve
from gdbmem.commands.settings import journal_max_bytes, snapshot_directory, text_style
from gdbmem.errors import TargetError, UsageError
from gdbmem.render.trace import site_stacks, sites_report
from gdbmem.session import SESSION
from gdbmem.target import current
from gdbmem.target.symbols import resolve_pc
from gdbmem.trace import LEDGER, TRACE_LOG, UNSAVED, clear
from gdbmem.trace.events import Event, frames_line
from gdbmem.trace.fold import sites
from gdbmem.units import MASK64

# x86-64's numbers for the calls that change mappings.
CALLS = {9: "mmap", 11: "munmap", 25: "mremap", 12: "brk", 10: "mprotect", 30: "shmat",
         67: "shmdt"}
_ARGUMENTS = ("rdi", "rsi", "rdx", "r10", "r8")
_ENOSYS = -38  # what rax holds at a syscall's entry


class Tracer:
    """The catchpoint and the calls in flight (entered, not yet returned), by thread."""

    def __init__(self) -> None:
        self.catchpoint: gdb.Breakpoint | None = None
        self.depth = 12
        self.pending: dict[int, tuple[int, tuple[int, ...], tuple[int, ...]]] = {}

    def hit(self) -> None:
        """At each hit of the catchpoint, with the thread that hit it selected (called by the
        catchpoint's condition, $_gdbmem_memtrace())."""
        frame = gdb.newest_frame()
        number = int(frame.read_register("orig_rax"))
        rax = int(frame.read_register("rax"))
        tid = gdb.selected_thread().ptid[1]
        if rax == _ENOSYS and number in CALLS:  # the entry: arguments and stack
            args = tuple(int(frame.read_register(r)) & MASK64 for r in _ARGUMENTS)
            self.pending[tid] = (number, args, _stack(frame, self.depth))
            return
        entered = self.pending.pop(tid, None)
        if entered is None or entered[0] != number:
            return  # a return whose entry was before tracing began
        name = CALLS[number]
        length = _attached_size(rax) if name == "shmat" and rax > 0 else 0
        event = Event(name, entered[1], rax, length, entered[2], tid, time.time())
        LEDGER.record(name, event.args, rax, event.pcs, length)
        TRACE_LOG.events.append(event)
        # Into the journal at once: a crash of gdb loses no call.
        SESSION.add_lines((event.to_line(),), event.time, snapshot_directory, _warn,
                          journal_max_bytes)


def _stack(frame: gdb.Frame, depth: int) -> tuple[int, ...]:
    """The pcs of the call stack; those of callers less one, to name the line of the call."""
    pcs = []
    while frame is not None and len(pcs) < depth:
        if frame.type() != gdb.INLINE_FRAME:  # an inlined frame shares its caller's pc
            pc = int(frame.pc())
            if pc == 0:  # the end of the stack
                break
            pcs.append(pc - (1 if pcs else 0))
        frame = frame.older()
    return tuple(pcs)


def _attached_size(address: int) -> int:
    try:
        for region in current().maps():
            if region.start == address:
                return region.size
    except TargetError:
        pass
    return 0


def _warn(message: str) -> None:
    write(f"memtrace: {message}\n", gdb.STDERR)


def journal_names() -> None:
    """The names resolved since the last time, into the journal (gdbmem trace reads them)."""
    if UNSAVED:
        SESSION.add_lines((frames_line(dict(UNSAVED)),), time.time(), snapshot_directory,
                          _warn, journal_max_bytes)
        UNSAVED.clear()


TRACER = Tracer()


class _Record(gdb.Function):
    """$_gdbmem_memtrace(): memtrace's catchpoint's condition. Records the call the thread
    stopped at and returns 0, so the catchpoint never stops the program.

    As a condition it is evaluated by gdb for whichever thread hit the catchpoint, with that
    thread selected, in all-stop and non-stop mode alike; and a breakpoint whose condition is
    false leaves the thread doing what it did: running, or stepping through `next`, `step`
    or `finish` (breakpoint commands that `continue` would turn those into a `continue`).
    A breakpoint of the user's that stops at the same moment stops the program as ever."""

    def __init__(self) -> None:
        super().__init__("_gdbmem_memtrace")

    def invoke(self) -> int:
        try:
            TRACER.hit()
        except Exception as exc:  # a condition that fails would stop the program
            write(f"memtrace: a call not recorded: {exc}\n", gdb.STDERR)
        return 0


_Record()
_CONDITION = "$_gdbmem_memtrace()"


parser = ArgumentParser(
    "memtrace",
    "Show which code maps the memory that is held: call sites by bytes still held.",
    epilog="""\
  memtrace on [--depth N]  trace mmap, munmap, mremap, brk, mprotect, shmat and shmdt: at each
                           call its arguments, result and call stack (N frames, 12 by
                           default); the program goes on, silently
  memtrace                 the call sites, by bytes still held: calls, bytes mapped, unmapped
                           and held, the kinds of memory they touched
  memtrace stack SITE      every call stack through site SITE (its number in the report)
  memtrace off             stop tracing (what was traced stays); memtrace clear forgets it

Each call is charged to the first frame of the program's own code: frames of the allocator
(glibc's malloc family, operator new, jemalloc, tcmalloc, mimalloc) and of libc's wrappers
are folded. A site that maps and unmaps (churn) holds 0; brk growth is the heap's, an
arena's mprotect its growth. x86-64; run, attach, gdbserver; all-stop (gdb's default) or
non-stop mode. The catchpoint never stops the program: each call is recorded as gdb tests the
catchpoint's condition, so `next`, `step` and `finish` step as they would without it, and your
own breakpoints and catchpoints stop as ever.

Examples:
  memtrace on
  run
  memtrace --top 5
  memtrace --region [heap]
  memtrace stack 1""")
parser.add_argument("--top", type=int, metavar="N", help="the first N sites")
parser.add_argument("--region", metavar="TARGET",
                    help="only what is held inside this region (a name, or an address)")
parser.add_argument("--json", action="store_true", help="a JSON array, one object per site")
add_format(parser)


def _report_sites(region: str | None):
    if not LEDGER.pcs:
        raise UsageError("nothing traced yet: `memtrace on` before `run` (or now), then let "
                         "the program run")
    if region is None:
        return sites(LEDGER, resolve_pc), None
    spans = resolve(argparse.Namespace(words=[region], kind=None, first=True),
                    current().regions()).spans
    lo, hi = spans[0].start, spans[0].end
    held = LEDGER.held(lo, hi)
    return sites(LEDGER, resolve_pc, set(held), held), spans[0].describe()


class MemtraceCommand(Command):
    name = "memtrace"
    parser = parser
    prefix = True

    def run(self, args: argparse.Namespace, from_tty: bool) -> None:
        if args.top is not None and args.top < 1:
            raise UsageError("--top takes a number of sites, 1 or more")
        found, where = _report_sites(args.region)
        journal_names()
        write(sites_report(found[:args.top] if args.top else found, args.json,
                           text_style(from_tty, args.format), where))


def _subcommand(name: str, summary: str, epilog: str = "") -> ArgumentParser:
    return ArgumentParser(f"memtrace {name}", summary, epilog=epilog)


class OnCommand(Command):
    name = "memtrace on"
    parser = _subcommand("on", "Trace the calls that change the mappings, with their stacks.",
                         "Example:\n  memtrace on --depth 20")
    parser.add_argument("--depth", type=int, default=12, metavar="N",
                        help="frames kept of each call stack (default 12)")

    def run(self, args: argparse.Namespace, from_tty: bool) -> None:
        if not 1 <= args.depth <= 256:
            raise UsageError("--depth takes a number of frames from 1 to 256")
        inferior = gdb.selected_inferior()
        connection = getattr(inferior, "connection", None)
        if getattr(connection, "type", None) == "core":
            raise TargetError("a core file is one moment: memtrace needs a live process")
        arch = inferior.architecture().name() if inferior.pid else "i386:x86-64"
        if "x86-64" not in arch:
            raise UsageError(f"memtrace knows x86-64's system calls only, not {arch}'s")
        TRACER.depth = args.depth
        if TRACER.catchpoint is not None and TRACER.catchpoint.is_valid():
            write(f"memtrace: already on (catchpoint {TRACER.catchpoint.number}); depth "
                  f"{args.depth}\n")
            return
        gdb.execute("catch syscall " + " ".join(CALLS.values()), to_string=True)
        TRACER.catchpoint = max(gdb.breakpoints(), key=lambda b: b.number)
        TRACER.catchpoint.condition = _CONDITION
        write(f"memtrace: catchpoint {TRACER.catchpoint.number} traces "
              f"{', '.join(CALLS.values())}; the program goes on at each\n")


class OffCommand(Command):
    name = "memtrace off"
    parser = _subcommand("off", "Stop tracing; what was traced stays.")

    def run(self, args: argparse.Namespace, from_tty: bool) -> None:
        if TRACER.catchpoint is None or not TRACER.catchpoint.is_valid():
            raise UsageError("memtrace is not on")
        TRACER.catchpoint.delete()
        TRACER.catchpoint = None
        TRACER.pending.clear()
        write("memtrace: off\n")


class ClearCommand(Command):
    name = "memtrace clear"
    parser = _subcommand("clear", "Forget what was traced.")

    def run(self, args: argparse.Namespace, from_tty: bool) -> None:
        clear()
        TRACER.pending.clear()
        write("memtrace: cleared\n")


class StackCommand(Command):
    name = "memtrace stack"
    parser = _subcommand("stack", "Show every call stack through a site of the report.",
                         "Example:\n  memtrace stack 1")
    parser.add_argument("site", type=int, metavar="SITE")

    def run(self, args: argparse.Namespace, from_tty: bool) -> None:
        found, _ = _report_sites(None)
        if not 1 <= args.site <= len(found):
            raise UsageError(f"no site {args.site} (there are 1 to {len(found)})")
        write(site_stacks(found[args.site - 1], args.site))


COMMANDS = (MemtraceCommand, OnCommand, OffCommand, ClearCommand, StackCommand)
