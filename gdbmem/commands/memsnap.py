"""memsnap: snapshots now or at a breakpoint's hits; their list, diffs, trends, files.

`memsnap` is a gdb prefix command: each subcommand below is a command of its own, with its
own `help memsnap SUB` and completion; any other words are a label for a snapshot taken now.
"""

from __future__ import annotations

import argparse
import difflib
import json
from collections.abc import Sequence

import gdb  # type: ignore[import-not-found]

from gdbmem.commands.base import (
    ArgumentParser,
    Command,
    add_format,
    write,
)
from gdbmem.commands.memleak import leaks_report_json
from gdbmem.commands.settings import (
    check_thresholds,
    journal_max_bytes,
    leak_min_growth_kb,
    snapshot_directory,
    text_style,
)
from gdbmem.commands.snaptake import SnapshotBreakpoint, take
from gdbmem.commands.state import state
from gdbmem.errors import GdbmemError, OutputError, ParseError, UsageError
from gdbmem.heap.census import growth_over
from gdbmem.model import Region
from gdbmem.options import count
from gdbmem.render.growth import diff_report, records_report, snapshot_report, trend_report
from gdbmem.render.report import html_report
from gdbmem.safefile import SafeFile
from gdbmem.store.codec import read_records, saved
from gdbmem.store.record import Record
from gdbmem.target.symbols import location_of
from gdbmem.trace.account import Accounts
from gdbmem.trace.fold import Site, sites_within

parser = ArgumentParser(
    "memsnap",
    "Take memory snapshots, now or at each hit of a breakpoint, and see what grows.",
    usage=("memsnap [LABEL]\n       memsnap SUBCOMMAND ...   (on, take, list, show, diff, "
           "trend, clear, save, load,\n"
           "                                report: `help memsnap SUBCOMMAND`)"),
    epilog="""\
  memsnap [LABEL]          take a snapshot now: every region's figures and kind, the process
                           totals, the time, and where the program stopped
  memsnap on LOCATION      a breakpoint that takes a snapshot at each hit (--every N: each Nth)
                           and continues, silently unless --stop; it works while the program
                           runs to its end, and the snapshots outlive the process
  memsnap list             one line per snapshot
  memsnap show N           snapshot N as memmap shows a live process
  memsnap diff A B         regions added, removed, grown and shrunk from A to B, largest first,
                           and the process totals' change
  memsnap trend            each region's RSS over all snapshots, growth per snapshot and per
                           second, a sparkline and a verdict: leak, growing, stable, shrinking;
                           and a verdict on the process
  memsnap clear            forget the snapshots (their journal stays on disk)
  memsnap save FILE        the snapshots to FILE, which `memsnap load` and `gdbmem` read
  memsnap load FILE        add the snapshots of a saved file, a journal or a capture
  memsnap report FILE      one HTML report of the snapshots: verdict, charts, call sites
  memsnap take [LABEL]     as `memsnap LABEL`, for a label that is also a subcommand's name

Snapshots are also appended to a journal as they are taken (`show gdbmem snapshot-dir`),
so a crash of gdb loses none. Regions are matched across snapshots by what they are: the
heap, a stack, a file's path, an arena's base, and all other anonymous memory together
(large allocations come and go; their sum is what leaks). `set gdbmem leak-min-growth KB`
sets the smallest growth that counts.

Examples:
  memsnap on process_request --every 10
  run
  memsnap trend
  memsnap diff 1 5 --json""")
parser.add_argument("label", nargs="*", metavar="LABEL",
                    help="a label for the snapshot taken now (`memsnap take LABEL` for a label "
                         "that is also a subcommand's name)")


def named(records: list[Record]) -> list[Record]:
    """Fill in the location of records that were saved without one, from their pc."""
    for record in records:
        if not record.location and record.pc is not None:
            record.location = location_of(record.pc)
    return records


def heap_growth(records: Sequence[Record]):
    """What grew in malloc's heap between the first and the last census of these records."""
    return growth_over([r.heap for r in records if r.heap])


def _sites_for(records: Sequence[Record]):
    """The top 3 traced call sites by bytes held inside given regions (memtrace), from the
    account of the process and moment of the last snapshot; None when none traced it."""
    if not records:
        return None
    last = records[-1]
    account = state().tracer.account_of(last.pid, last.taken_at)
    heaptrack = state().tracer.heaptrack
    if account is None and heaptrack is None:
        return None

    def sites_of(regions: Sequence[Region]) -> list[Site]:
        found = (sites_within(account.ledger, account.resolve,
                              [(r.start, r.end) for r in regions])
                 if account is not None else [])
        if heaptrack is not None and any(r.kind in ("heap", "arena") for r in regions):
            # malloc's own sites (heaptrack keeps no addresses: all of malloc's, under each
            # growing heap or arena), by the bytes they still hold
            found += [s for s in heaptrack.read().sites()[:3] if s.held]
        return found

    return sites_of


def _say_taken(number: int) -> None:
    (record,) = named([state().session.get(number)])
    write(f"memsnap: #{number} {record.label + ' ' if record.label else ''}"
              f"taken{' in ' + record.location if record.location else ''}\n")


# Words people type to mean a subcommand that is not there: never taken as a label.
_NOT_LABELS = ("off", "stop", "disable", "enable", "delete", "remove", "rm", "help", "status")


def _not_a_label(words: list[str]) -> str | None:
    """Why a one-word label looks like a mistyped subcommand (None: a label)."""
    if len(words) != 1:
        return None
    word = words[0]
    names = [command.parser.prog.split()[1] for command in COMMANDS[1:]]
    # A typo of a subcommand's name (`trnd`); short words (`one`) are labels.
    close = difflib.get_close_matches(word, names, n=1, cutoff=0.8) if len(word) > 3 else []
    if word in _NOT_LABELS or close:
        hint = f" (did you mean `memsnap {close[0]}`?)" if close else ""
        if word in ("off", "stop", "disable", "delete", "remove", "rm"):
            hint = (" (memsnap's breakpoints stop as any do: `delete N` or `disable N`; `info "
                    "breakpoints` lists them)")
        return (f"no subcommand {word!r}{hint}; a snapshot labelled so is "
                f"`memsnap take {word}`")
    return None


class MemsnapCommand(Command):
    parser = parser
    prefix = True

    def run(self, args: argparse.Namespace, from_tty: bool) -> None:
        why = _not_a_label(args.label)
        if why is not None:
            raise UsageError(why)
        _say_taken(take(" ".join(args.label)))


def _json(sub: ArgumentParser) -> ArgumentParser:
    sub.add_argument("--json", action="store_true", help="print JSON")
    add_format(sub)
    return sub


class TakeCommand(Command):
    parser = ArgumentParser("memsnap take", "Take a snapshot now, with an optional label.",
                            "Examples:\n  memsnap take before the request\n"
                            "  memsnap take --heap after   with a census of malloc's heap")
    parser.add_argument("label", nargs="*", metavar="LABEL")
    parser.add_argument("--heap", action="store_true",
                        help="a census of malloc's heap beside it (memheap's sizes and types)")

    def run(self, args: argparse.Namespace, from_tty: bool) -> None:
        _say_taken(take(" ".join(args.label), heap=args.heap))


class OnCommand(Command):
    completer = gdb.COMPLETE_LOCATION
    parser = ArgumentParser(
        "memsnap on",
        "Set a breakpoint that takes a snapshot at each hit and lets the program go on.",
        "Examples:\n  memsnap on process_request --every 10\n  memsnap on leaks.c:42 --stop")
    parser.add_argument("location", help="where, as for `break`")
    parser.add_argument("--every", type=count("hits"), default=1, metavar="N",
                        help="a snapshot at every Nth hit only")
    parser.add_argument("--stop", action="store_true", help="stop at those hits too")
    parser.add_argument("--exact", action="store_true",
                        help="read smaps in full at every hit (without it, a hit where the "
                             "kernel's counters and the map did not change carries the last "
                             "full read)")
    parser.add_argument("--heap", action="store_true",
                        help="a census of malloc's heap with each snapshot (memheap's sizes "
                             "and types: `memsnap trend` then says which grew); its cost is "
                             "said at the first hit")

    def run(self, args: argparse.Namespace, from_tty: bool) -> None:
        every = f"every {args.every} hits" if args.every > 1 else "each hit"
        what = (f"a snapshot{' and a census of the heap' if args.heap else ''} at {every}"
                f"{' and stops' if args.stop else ''}")
        for known in gdb.breakpoints():
            if (isinstance(known, SnapshotBreakpoint) and known.is_valid()
                    and known.location == args.location):
                known.every, known.stop_here = args.every, args.stop
                known.carrier.exact, known.heap = args.exact, args.heap
                write(f"memsnap: already on: breakpoint {known.number} at {args.location} "
                      f"takes {what}\n")
                return
        try:
            breakpoint = SnapshotBreakpoint(args.location, args.every, args.stop, args.exact,
                                            args.heap)
        except gdb.error as exc:
            raise UsageError(f"cannot set a breakpoint at {args.location!r}: {exc}") from None
        if getattr(breakpoint, "pending", False):  # gdb left it pending: nothing there yet
            write(f"memsnap: breakpoint {breakpoint.number} at {args.location} is pending: "
                  f"nothing of that name is loaded yet (a stripped program, a library not "
                  f"loaded); once it is, the breakpoint takes {what}\n")
            return
        write(f"memsnap: breakpoint {breakpoint.number} at {args.location} takes {what}\n")


class ListCommand(Command):
    parser = _json(ArgumentParser("memsnap list", "List the snapshots, one line each.",
                                  "Example:\n  memsnap list --json"))

    def run(self, args: argparse.Namespace, from_tty: bool) -> None:
        session = state().session
        write(records_report(named(session.records), args.json, session.journal_state(),
                             text_style(from_tty, args.format)))


class ShowCommand(Command):
    parser = _json(ArgumentParser("memsnap show", "Show snapshot N as memmap shows a live process.",
                                  "Example:\n  memsnap show 3 -k"))
    parser.add_argument("number", type=int, metavar="N")
    parser.add_argument("-k", dest="kb", action="store_true", help="sizes in plain kB")

    def run(self, args: argparse.Namespace, from_tty: bool) -> None:
        (record,) = named([state().session.get(args.number)])
        write(snapshot_report(args.number, record, args.json, not args.kb,
                                  text_style(from_tty, args.format)))


class DiffCommand(Command):
    parser = _json(ArgumentParser(
        "memsnap diff", "Show the regions added, removed, grown and shrunk from snapshot A to B.",
        "Example:\n  memsnap diff 1 5 --json"))
    parser.add_argument("a", type=int, metavar="A")
    parser.add_argument("b", type=int, metavar="B")

    def run(self, args: argparse.Namespace, from_tty: bool) -> None:
        session = state().session
        write(diff_report(session.get(args.a).snapshot, session.get(args.b).snapshot,
                              args.a, args.b, args.json, text_style(from_tty, args.format)))


class TrendCommand(Command):
    parser = _json(ArgumentParser(
        "memsnap trend", "Show each region's RSS over the snapshots, its growth and a verdict.",
        "Verdicts: leak, growing, stable, shrinking (see `help memsnap`);\n"
        "`set gdbmem leak-min-growth KB` sets the smallest growth that counts.\n\n"
        "Example:\n  memsnap trend --json"))
    parser.add_argument("--pid", type=int, metavar="N",
                        help="the snapshots of process N (when they are of several)")
    parser.add_argument("--all", action="store_true",
                        help="every region, the stable ones too (folded into one line without)")

    def run(self, args: argparse.Namespace, from_tty: bool) -> None:
        records = state().session.records
        of_pid = [r for r in records if args.pid is None or r.pid == args.pid]
        write(trend_report([r.snapshot for r in records], leak_min_growth_kb(),
                           args.json, text_style(from_tty, args.format), args.pid,
                           _sites_for(of_pid), every=args.all,
                           heap_growth=heap_growth(of_pid)))


class ClearCommand(Command):
    parser = ArgumentParser("memsnap clear",
                            "Forget the snapshots (their journal stays on disk).",
                            "Example:\n  memsnap clear")

    def run(self, args: argparse.Namespace, from_tty: bool) -> None:
        session = state().session
        count = len(session.records)
        session.clear()
        write(f"memsnap: {count} snapshot{'s' if count != 1 else ''} forgotten\n")


class SaveCommand(Command):
    completer = gdb.COMPLETE_FILENAME
    parser = ArgumentParser(
        "memsnap save", "Write the snapshots to FILE, for `memsnap load` and `gdbmem`.",
        "memtrace's traced calls go with them, named.\n\n"
        "Example:\n  memsnap save run1.jsonl")
    parser.add_argument("file", metavar="FILE")
    parser.add_argument("--force", action="store_true", help="replace FILE if it exists")

    def run(self, args: argparse.Namespace, from_tty: bool) -> None:
        session, accounts = state().session, state().tracer.accounts.traced()
        calls = sum(len(a.events) for a in accounts)
        if not session.records and not calls:
            raise UsageError("no snapshots to save (and nothing traced)")
        with SafeFile(args.file, args.force) as out:
            for part in saved(named(session.records)):
                out.write(part)
            for account in accounts:
                for line in account.saved_lines():
                    out.write(line)
        traced = f" and {calls} traced calls" if calls else ""
        write(f"memsnap: {len(session.records)} snapshots{traced} -> {args.file}\n")


class LoadCommand(Command):
    completer = gdb.COMPLETE_FILENAME
    parser = ArgumentParser(
        "memsnap load", "Add the snapshots of FILE (saved, a journal, a capture).",
        "Example:\n  memsnap load run1.jsonl")
    parser.add_argument("file", metavar="FILE")

    def run(self, args: argparse.Namespace, from_tty: bool) -> None:
        try:
            loaded = Accounts()
            with open(args.file, "rb") as fh:
                records = read_records(fh.read(), args.file, self.note, loaded)
        except OSError as exc:
            raise OutputError(f"cannot read {args.file}: {exc.strerror}") from None
        except ParseError as exc:
            raise UsageError(str(exc)) from None
        calls = sum(len(a.events) for a in loaded.traced())
        if not records and not calls:
            raise UsageError(f"{args.file} holds no snapshots")
        session = state().session
        for record in records:
            session.add(record, snapshot_directory, self.note, journal_max_bytes)
        # Accounts of their own: history, never mixed into what a live process holds.
        state().tracer.accounts.adopt(loaded, f"loaded from {args.file}")
        traced = f" and {calls} traced calls" if calls else ""
        write(f"memsnap: {len(records)} snapshots{traced} loaded from {args.file} "
              f"(now {len(session.records)})\n")


class ReportCommand(Command):
    completer = gdb.COMPLETE_FILENAME
    parser = ArgumentParser(
        "memsnap report",
        "Write one HTML report of the snapshots: verdict, charts, call sites, tables.",
        "One self-contained file (mode 0600) that any browser opens from disk, with no network:\n"
        "the verdict and totals, RSS over time, the address space, the call sites of what\n"
        "grows (when memtrace traced), memcheck's findings, the trend and diff tables, and\n"
        "the same data as JSON.\n\nExample:\n  memsnap report leak.html")
    parser.add_argument("file", metavar="FILE")
    parser.add_argument("--force", action="store_true", help="replace FILE if it exists")
    parser.add_argument("--pid", type=int, metavar="N",
                        help="the snapshots of process N (when they are of several)")

    def run(self, args: argparse.Namespace, from_tty: bool) -> None:
        records = named(state().session.records)
        of_pid = [r for r in records if args.pid is None or r.pid == args.pid]
        page = html_report([r.snapshot for r in records], [r.location for r in records],
                           leak_min_growth_kb(), check_thresholds(), _sites_for(of_pid),
                           _source, args.pid, [r.heap for r in of_pid if r.heap],
                           _leaks_now())
        with SafeFile(args.file, args.force, self.note) as out:
            out.write(page.encode("utf-8", "surrogateescape"))
        write(f"memsnap: a report of {len(records)} snapshots -> {args.file}\n")


def _leaks_now() -> dict | None:
    """memleak's JSON at this stop, for the report; None without a stopped process whose
    heap can be read."""
    try:
        return json.loads(leaks_report_json())
    except GdbmemError:
        return None


def _source(frame) -> list[str] | None:
    """The lines of a frame's source file, as gdb finds it."""
    try:
        symtab = gdb.find_pc_line(frame.pc).symtab
        path = symtab.fullname() if symtab is not None else None
        if path is None:
            return None
        with open(path, encoding="utf-8", errors="replace") as fh:
            return fh.readlines()
    except (gdb.error, OSError, RuntimeError):
        return None


# Registered in this order: the prefix first.
COMMANDS = (MemsnapCommand, TakeCommand, OnCommand, ListCommand, ShowCommand, DiffCommand,
            TrendCommand, ClearCommand, SaveCommand, LoadCommand, ReportCommand)
