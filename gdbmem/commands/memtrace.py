"""memtrace: which code grows memory, from the system calls that change the mappings.

A syscall catchpoint on mmap, munmap, mremap, brk, mprotect, shmat and shmdt, whose condition
records, at each call's entry, its arguments and call stack, and at its return the result,
and is false: the program goes on. Each pc is named the first time it is seen, against the
objfiles of the address space it ran in (an exec takes them away), and its name goes into
the journal at once. The accounting and the folding of allocator frames are gdbmem.trace's;
the Tracer owns this session's accounts, one per address space.
"""

from __future__ import annotations

import argparse
import time

import gdb  # type: ignore[import-not-found]

from gdbmem.commands.base import (
    ArgumentParser,
    Command,
    add_format,
    report_failure,
    warn,
    write,
)
from gdbmem.commands.heaptrack import NOT_YET, Heaptrack
from gdbmem.commands.regionspec import resolve
from gdbmem.commands.settings import journal_max_bytes, snapshot_directory, text_style
from gdbmem.errors import TargetError, UsageError
from gdbmem.options import count
from gdbmem.render.trace import accounts_report, site_stacks, sites_report, traced_report
from gdbmem.store.session import Session
from gdbmem.target import current
from gdbmem.target.symbols import name_pc
from gdbmem.trace.account import Account, Accounts
from gdbmem.trace.events import Event
from gdbmem.trace.fold import sites
from gdbmem.units import MASK64

# x86-64's numbers for the calls that change mappings.
CALLS = {9: "mmap", 11: "munmap", 25: "mremap", 12: "brk", 10: "mprotect", 30: "shmat",
         67: "shmdt"}
_ARGUMENTS = ("rdi", "rsi", "rdx", "r10", "r8")
_ENOSYS = -38  # what rax holds at a syscall's entry


class Tracer:
    """memtrace's state in this gdb session: the catchpoint, the calls in flight (entered,
    not yet returned) by thread, and the accounts, one per address space traced. A process's
    account begins at its first traced call (after `run`, `attach`, an exec) and ends when
    gdb says the process exited or exec'd (events.py), or when another process stands in its
    place; it stays, as that process's history."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self.accounts = Accounts()
        self.catchpoint: gdb.Breakpoint | None = None
        self.depth = 12
        # By thread: the call entered and not yet returned (its number, arguments, stack,
        # the account's clock at the entry, and what the ledger took out then).
        self.pending: dict[int, tuple[int, tuple[int, ...], tuple[int, ...], int, list | None]]
        self.pending = {}
        self.heaptrack = None  # commands/heaptrack.py's Heaptrack, with memtrace on --malloc

    def hit(self) -> None:
        """At each hit of the catchpoint, with the thread that hit it selected (called by the
        catchpoint's condition, $_gdbmem_memtrace())."""
        frame = gdb.newest_frame()
        number = int(frame.read_register("orig_rax"))
        rax = int(frame.read_register("rax"))
        thread = gdb.selected_thread()
        pid, tid = thread.ptid[0], thread.ptid[1]
        account = self._account(thread.inferior, pid)
        if rax == _ENOSYS and number in CALLS:  # the entry: arguments and stack
            args = tuple(int(frame.read_register(r)) & MASK64 for r in _ARGUMENTS)
            # A call that takes memory away takes it at its entry: another thread may be
            # given the same addresses before this one's return is seen.
            self.pending[tid] = (number, args, _stack(frame, self.depth, account),
                                 account.tick(), account.ledger.enter(CALLS[number], args))
            return
        entered = self.pending.pop(tid, None)
        if entered is None or entered[0] != number:
            return  # a return whose entry was before tracing began
        name = CALLS[number]
        _, args, pcs, at_entry, parked = entered
        length = _attached_size(rax) if name == "shmat" and rax > 0 else 0
        event = Event(name, args, rax, length, pcs, tid, time.time(), at_entry, account.tick())
        account.record(event, parked)
        # Into the journal at once, with the names first seen: a crash of gdb loses none.
        self.session.add_lines(lambda serial: account.journal_lines(event, serial), event.time,
                               snapshot_directory, _warn, journal_max_bytes)

    def _account(self, inferior: gdb.Inferior, pid: int) -> Account:
        account = self.accounts.live_for(pid)
        if account is None:
            program = getattr(inferior.progspace, "filename", None) or ""
            account = self.accounts.begin(pid, program, time.time())
            _seed(account)
            # Calls entered in another address space return in none of this one's.
            self.pending = {t: p for t, p in self.pending.items() if _alive_in(inferior, t)}
        return account

    def resumed(self) -> None:
        """Tracing starts again (memtrace on) in a process traced before: what changed
        meanwhile is nobody's, so the heap's end and the reservations are taken again."""
        account = self.accounts.live_for(gdb.selected_inferior().pid)
        if account is not None:
            _seed(account)

    def ended(self, pid: int, why: str) -> None:
        """Process `pid`'s address space is gone (events.py): its account is history."""
        if self.accounts.end(pid, why) is not None:
            self.pending.clear()

    def shown(self, number: int | None = None) -> Account | None:
        """The account a report is of (see Accounts.shown), for the selected process."""
        try:
            return self.accounts.shown(number, gdb.selected_inferior().pid)
        except LookupError as exc:
            raise UsageError(str(exc)) from None

    def holder_site(self, address: int):
        """The call stack whose traced call mapped the range holding `address` in the
        selected process, named, if one did (vmainfo)."""
        account = self.accounts.live_for(gdb.selected_inferior().pid)
        if account is None:
            return None
        stack = account.ledger.holder(address)
        return None if stack is None else [account.resolve(pc) for pc in account.ledger.pcs[stack]]

    def account_of(self, pid: int, at: float) -> Account | None:
        return self.accounts.of_process(pid, at)


def _seed(account: Account) -> None:
    """Where the heap ends now, and the reservations an arena may grow into, as the target's
    map says: tracing that starts late (at a stop, after memtrace off or clear) has not seen
    the brk or mmap calls that made them. Without a heap yet, its end is the process's
    start_brk (its 47th stat field)."""
    try:
        target = current()
        regions = target.maps()
        heap = [r for r in regions if r.path == "[heap]"]
        brk = heap[-1].end if heap else None
        if brk is None:
            stat = target.read_proc("stat")
            fields = stat[stat.rfind(b")") + 2:].split()
            brk = int(fields[44]) if len(fields) > 44 else None
        reservations = [(r.start, r.end) for r in regions
                        if r.perms.startswith("---") and not r.path]
    except (TargetError, ValueError):
        return
    account.ledger.seed(brk, reservations)


def _alive_in(inferior: gdb.Inferior, tid: int) -> bool:
    return any(t.ptid[1] == tid for t in inferior.threads() if t.is_valid())


def _stack(frame: gdb.Frame, depth: int, account: Account) -> tuple[int, ...]:
    """The pcs of the call stack; those of callers less one, to name the line of the call.
    Each pc the account has not seen is named now, in the address space it runs in."""
    pcs = []
    while frame is not None and len(pcs) < depth:
        if frame.type() != gdb.INLINE_FRAME:  # an inlined frame shares its caller's pc
            pc = int(frame.pc())
            if pc == 0:  # the end of the stack
                break
            pc -= 1 if pcs else 0
            if not account.knows(pc):
                account.name(name_pc(pc))
            pcs.append(pc)
            if account.resolve(pc).function in _OUTERMOST:
                break  # past it gdb unwinds into garbage (`#10 0x0`)
        frame = frame.older()
    return tuple(pcs)


# Where a program's and a thread's stacks begin.
_OUTERMOST = frozenset({"_start", "clone", "clone3", "__clone", "__clone3", "__GI___clone3",
                        "__GI___clone"})


def _attached_size(address: int) -> int:
    try:
        for region in current().maps():
            if region.start == address:
                return region.size
    except TargetError:
        pass
    return 0


def _warn(message: str) -> None:
    warn("memtrace", message)


def tracer() -> Tracer:
    from gdbmem.commands.state import state

    return state().tracer


class RecordCall(gdb.Function):
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
            tracer().hit()
        except Exception as exc:  # a condition that fails would stop the program
            _warn(report_failure("a call not recorded", exc))
        return 0


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
  memtrace list            the accounts: one per address space traced (a process from its
                           start or exec to its exit or next exec), with its pid and program
  memtrace off             stop tracing (what was traced stays); memtrace clear forgets it

Each address space has its own account: after an exec, a second `run` or an `attach`, the
report is of the process gdb debugs now, named by its own program's functions, and what a
process that has gone held is never added to it (`--account N` shows an earlier one; the
report of a process that has gone says so).

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
  memtrace stack 1
  memtrace list
  memtrace --account 1""")
parser.add_argument("--top", type=count("sites"), metavar="N", help="the first N sites")
parser.add_argument("--region", metavar="TARGET",
                    help="only what is held inside this region (a name, or an address)")
parser.add_argument("--account", type=int, metavar="N",
                    help="the sites of account N (`memtrace list`), not the process's now")
parser.add_argument("--json", action="store_true", help="a JSON array, one object per site")
add_format(parser)


def _report_sites(region: str | None, number: int | None = None):
    account = tracer().shown(number)
    if account is None and tracer().heaptrack is not None and region is None:
        return None, [], None  # heaptrack alone: its sites only
    if account is None:
        raise UsageError("nothing traced yet: `memtrace on` before `run` (or now), then let "
                         "the program run")
    if region is None:
        return account, sites(account.ledger, account.resolve), None
    live = account.pid == gdb.selected_inferior().pid and not account.ended
    if not live:
        raise UsageError(f"--region is of the process gdb debugs now; {account.describe()}")
    spans = resolve(argparse.Namespace(words=[region], kind=None, first=True),
                    current().regions()).spans
    lo, hi = spans[0].start, spans[0].end
    # Every stack that holds bytes there, and every one whose calls mapped or unmapped there
    # (holding nothing there now); what they hold there is the whole ledger's say.
    held = account.ledger.held(lo, hi)
    touched = account.stacks_touching(lo, hi)
    return account, sites(account.ledger, account.resolve, set(held) | touched, held), \
        spans[0].describe()


class MemtraceCommand(Command):
    parser = parser
    prefix = True

    def run(self, args: argparse.Namespace, from_tty: bool) -> None:
        account, found, where = _report_sites(args.region, args.account)
        if not args.json and account is not None and (
                account.ended or len(tracer().accounts.traced()) > 1):
            self.note(f"the sites of {account.describe()}")
        found = found[:args.top] if args.top else found
        heaptrack = tracer().heaptrack
        if heaptrack is None or args.region is not None or args.account is not None:
            write(sites_report(found, args.json, text_style(from_tty, args.format), where))
            return
        data = heaptrack.read()
        allocated = data.sites()
        allocated = allocated[:args.top] if args.top else allocated
        if data.version is None and not args.json:
            self.note("heaptrack has written nothing (yet): the program was not started "
                      "with it (`memtrace on --malloc` before `run`), or ignores LD_PRELOAD "
                      "(a static program)")
        write(traced_report(found if account is not None else None, allocated, args.json,
                            text_style(from_tty, args.format)))
        if gdb.selected_inferior().pid and not args.json:
            self.note(NOT_YET)


class OnCommand(Command):
    parser = ArgumentParser(
        "memtrace on", "Trace the calls that change the mappings, with their stacks.",
        "Example:\n  memtrace on --depth 20")
    parser.add_argument("--depth", type=count("frames", 1, 256), default=12, metavar="N",
                        help="frames kept of each call stack (default 12)")
    parser.add_argument("--malloc", action="store_true",
                        help="every malloc and free, through heaptrack (before `run`, or at a "
                             "stop): allocation sites by the bytes they still hold")

    def run(self, args: argparse.Namespace, from_tty: bool) -> None:
        inferior = gdb.selected_inferior()
        connection = getattr(inferior, "connection", None)
        if getattr(connection, "type", None) == "core":
            raise TargetError("a core file is one moment: memtrace needs a live process")
        arch = inferior.architecture().name() if inferior.pid else "i386:x86-64"
        if "x86-64" not in arch:
            raise UsageError(f"memtrace knows x86-64's system calls only, not {arch}'s")
        owner = tracer()
        owner.depth = args.depth
        if args.malloc:
            if owner.heaptrack is None:
                owner.heaptrack = Heaptrack()
            if inferior.pid:  # a process stopped now: heaptrack goes into it
                owner.heaptrack.inject()
                write("memtrace: heaptrack records every malloc and free from now on (those "
                      "made before are not known to it)\n")
            else:
                owner.heaptrack.arm()
                write("memtrace: heaptrack records every malloc and free of the next run\n")
            if owner.catchpoint is None or not owner.catchpoint.is_valid():
                write("memtrace: the system calls are not traced beside it (a syscall "
                      "catchpoint stops every thread at every system call, heaptrack's own "
                      "too: `memtrace on` as well for both)\n")
            return
        if owner.catchpoint is not None and owner.catchpoint.is_valid():
            write(f"memtrace: already on (catchpoint {owner.catchpoint.number}); depth "
                  f"{args.depth}\n")
            return
        if inferior.pid:
            owner.resumed()
        gdb.execute("catch syscall " + " ".join(CALLS.values()), to_string=True)
        owner.catchpoint = max(gdb.breakpoints(), key=lambda b: b.number)
        owner.catchpoint.condition = _CONDITION
        write(f"memtrace: catchpoint {owner.catchpoint.number} traces "
              f"{', '.join(CALLS.values())}; the program goes on at each\n")


class OffCommand(Command):
    parser = ArgumentParser("memtrace off", "Stop tracing; what was traced stays.",
                            "Example:\n  memtrace off")

    def run(self, args: argparse.Namespace, from_tty: bool) -> None:
        owner = tracer()
        tracing = owner.catchpoint is not None and owner.catchpoint.is_valid()
        armed = owner.heaptrack is not None and owner.heaptrack.armed
        if not tracing and not armed:
            raise UsageError("memtrace is not on")
        if tracing:
            owner.catchpoint.delete()  # type: ignore[union-attr]
            owner.catchpoint = None
            owner.pending.clear()
        if armed:  # the next run is not preloaded (what heaptrack recorded stays)
            owner.heaptrack.disarm()  # type: ignore[union-attr]
        write("memtrace: off\n")


class ClearCommand(Command):
    parser = ArgumentParser("memtrace clear", "Forget what was traced: every account.",
                            "Example:\n  memtrace clear")

    def run(self, args: argparse.Namespace, from_tty: bool) -> None:
        owner = tracer()
        owner.accounts = Accounts()
        owner.pending.clear()
        write("memtrace: cleared\n")


class ListCommand(Command):
    parser = ArgumentParser("memtrace list",
                            "List the accounts: one per address space traced, with its process.",
                            "An account begins with a process (run, attach) or an exec, and ends "
                            "when the\nprocess exits, is killed or execs.\n\n"
                            "Example:\n  memtrace list --json")
    parser.add_argument("--json", action="store_true", help="a JSON array, one per account")
    add_format(parser)

    def run(self, args: argparse.Namespace, from_tty: bool) -> None:
        write(accounts_report(tracer().accounts.items, args.json,
                              text_style(from_tty, args.format)))


class StackCommand(Command):
    parser = ArgumentParser("memtrace stack", "Show every call stack through a site of the report.",
                            "Example:\n  memtrace stack 1")
    parser.add_argument("site", type=int, metavar="SITE")
    parser.add_argument("--account", type=int, metavar="N", help="a site of account N")

    def run(self, args: argparse.Namespace, from_tty: bool) -> None:
        _, found, _ = _report_sites(None, args.account)
        if not 1 <= args.site <= len(found):
            raise UsageError(f"no site {args.site} (there are 1 to {len(found)})")
        write(site_stacks(found[args.site - 1], args.site))


COMMANDS = (MemtraceCommand, OnCommand, OffCommand, ClearCommand, ListCommand, StackCommand)
