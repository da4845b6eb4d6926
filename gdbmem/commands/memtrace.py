"""memtrace: which code grows memory, from the system calls that change the mappings.

A syscall catchpoint on mmap, munmap, mremap, brk, mprotect, shmat and shmdt records, at each
call's entry, its arguments and call stack (pcs only), and at its return the result, then
lets the program go on; names are resolved when a report is made. The accounting and the
folding of allocator frames are gdbmem.trace's.
"""

from __future__ import annotations

import argparse
import time

import gdb  # type: ignore[import-not-found]

import __main__
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
        """At each stop of the catchpoint (its commands call this, then `continue`)."""
        try:
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
        except (gdb.error, RuntimeError, ValueError) as exc:
            write(f"memtrace: a call not recorded: {exc}\n", gdb.STDERR)


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
__main__.__dict__["_gdbmem_memtrace_hit"] = TRACER.hit

# In all-stop mode the catchpoint's own commands record the call and continue, unless another
# breakpoint of the user's stops the program at the same moment (a `catch syscall munmap` of
# theirs). In non-stop mode gdb runs a catchpoint's commands for the selected thread only, so
# there they are only `silent`, and Stops takes up every thread's stop itself.
_GO = "_gdbmem_memtrace_go"
_ALL_STOP_COMMANDS = f"silent\npython _gdbmem_memtrace_hit()\nif ${_GO}\n  continue\nend"
_NON_STOP_COMMANDS = "silent"


class Stops:
    """What happens at each stop at the catchpoint, from gdb's events.

    Whether the program may go on: not when another breakpoint stops it there too. Every
    breakpoint a stop's location matches is in the stop event's list, even one whose
    condition failed; one that stops has its hit count raised (breakpoint_modified), so the
    breakpoints whose count rose since the last resume are those that stop.

    Non-stop mode: each thread that stops at the catchpoint is taken up after gdb has handled
    its stop (gdb.post_event from the stop event): that thread is selected, its call recorded,
    and it alone goes on (`continue &`); the user's selection is put back. A thread resumed in
    between (by the user's `continue -a`) is left alone."""

    def __init__(self) -> None:
        self.waiting: dict[int, gdb.InferiorThread] = {}  # by global thread number
        self.counts: dict[int, int] = {}  # each breakpoint's hit count, when last told
        self.stopping: set[int] = set()  # breakpoints hit since the last resume
        self.connected = False

    _EVENTS = ("stop", "cont", "new_thread", "breakpoint_modified")

    def start(self) -> None:
        gdb.set_convenience_variable(_GO, 1)
        self.set_commands()
        if not self.connected:
            for name in self._EVENTS:
                getattr(gdb.events, name).connect(getattr(self, f"on_{name}"))
            self.connected = True

    def stop(self) -> None:
        # A thread already waiting is still taken up (its take is posted): it goes on.
        if self.connected:
            for name in self._EVENTS:
                getattr(gdb.events, name).disconnect(getattr(self, f"on_{name}"))
            self.connected = False

    @staticmethod
    def set_commands() -> None:
        """The catchpoint's commands for the mode gdb is in; `set non-stop` cannot change
        while a process runs, so a new thread (a run, an attach) is the time to check."""
        catchpoint = TRACER.catchpoint
        if catchpoint is None or not catchpoint.is_valid():
            return
        wanted = _NON_STOP_COMMANDS if gdb.parameter("non-stop") else _ALL_STOP_COMMANDS
        if (catchpoint.commands or "").strip() != wanted:
            catchpoint.commands = wanted

    def on_new_thread(self, event) -> None:
        self.set_commands()

    def on_breakpoint_modified(self, breakpoint: gdb.Breakpoint) -> None:
        count = breakpoint.hit_count
        if self.counts.get(breakpoint.number) != count:
            self.counts[breakpoint.number] = count
            if count > 0:  # 0 is no hit: a breakpoint changed after `run` reset the counts
                self.stopping.add(breakpoint.number)

    def on_stop(self, event) -> None:
        catchpoint = TRACER.catchpoint
        if catchpoint is None or not isinstance(event, gdb.BreakpointEvent):
            return
        go = not self.stopping - {catchpoint.number}
        self.stopping.clear()
        if not gdb.parameter("non-stop"):
            gdb.set_convenience_variable(_GO, int(go))
            return
        if catchpoint.number not in {b.number for b in event.breakpoints}:
            return
        thread = event.inferior_thread or gdb.selected_thread()
        if thread is None:
            return
        self.waiting[thread.global_num] = thread
        gdb.post_event(lambda: self.take(thread, go))

    def on_cont(self, event) -> None:
        self.stopping.clear()
        thread = event.inferior_thread  # None in all-stop mode, where nothing waits
        if thread is not None:
            self.waiting.pop(thread.global_num, None)

    def take(self, thread: gdb.InferiorThread, go: bool) -> None:
        try:
            if (self.waiting.pop(thread.global_num, None) is None or not thread.is_valid()
                    or not thread.is_stopped()):
                return  # resumed by the user meanwhile, or gone
            selected = gdb.selected_thread()
            frame = None
            if selected is not None and selected.is_valid() and selected.is_stopped():
                frame = gdb.selected_frame()
            thread.switch()
            TRACER.hit()
            if go:
                gdb.execute("continue &", to_string=True)
            if selected is not None and selected.is_valid() and selected != thread:
                selected.switch()
                if frame is not None and frame.is_valid():
                    frame.select()
        except Exception as exc:  # in gdb's event loop: one line, never a traceback
            write(f"memtrace: thread {getattr(thread, 'num', '?')} not taken up: {exc}\n",
                  gdb.STDERR)


STOPS = Stops()


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
non-stop mode, where each thread that stops at a call goes on alone (`run &` keeps the prompt).

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
        STOPS.start()
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
        STOPS.stop()
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
