"""memsnap: snapshots now or at a breakpoint's hits; their list, diffs, trends, files."""

from __future__ import annotations

import argparse

import gdb  # type: ignore[import-not-found]

from gdbmem.analysis.growth import diff, process_series, process_verdict, trends
from gdbmem.analysis.totals import process_summary
from gdbmem.commands.base import ArgumentParser, Command
from gdbmem.commands.settings import colour_wanted, leak_min_growth_kb, snapshot_directory
from gdbmem.errors import GdbmemError, OutputError, ParseError, UsageError
from gdbmem.render import jsonout
from gdbmem.render.growth import diff_text, records_table, trend_text
from gdbmem.render.maps import region_table, summary_line
from gdbmem.safefile import SafeFile
from gdbmem.snapshots import Record, Session, read_records
from gdbmem.target import Process, location_of

SESSION = Session()

parser = ArgumentParser(
    "memsnap",
    "Take memory snapshots, now or at each hit of a breakpoint, and see what grows.",
    usage="memsnap [LABEL] | on LOCATION [--every N] [--stop] | list | show N | diff A B |\n"
          "               trend | clear | save FILE [--force] | load FILE   [--json]",
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
parser.add_argument("words", nargs=argparse.REMAINDER, help="a subcommand and its arguments")

SUBCOMMANDS = ("on", "list", "show", "diff", "trend", "clear", "save", "load")


def _subparser(name: str) -> ArgumentParser:
    return ArgumentParser(f"memsnap {name}", f"memsnap {name}")


_on = _subparser("on")
_on.add_argument("location")
_on.add_argument("--every", type=int, default=1, metavar="N")
_on.add_argument("--stop", action="store_true")
_list = _subparser("list")
_list.add_argument("--json", action="store_true")
_show = _subparser("show")
_show.add_argument("number", type=int)
_show.add_argument("--json", action="store_true")
_show.add_argument("-k", dest="kb", action="store_true")
_diff = _subparser("diff")
_diff.add_argument("a", type=int)
_diff.add_argument("b", type=int)
_diff.add_argument("--json", action="store_true")
_trend = _subparser("trend")
_trend.add_argument("--json", action="store_true")
_clear = _subparser("clear")
_save = _subparser("save")
_save.add_argument("file")
_save.add_argument("--force", action="store_true")
_load = _subparser("load")
_load.add_argument("file")


def take(label: str = "", pc: int | None = None, process: Process | None = None) -> int:
    return SESSION.add((process or Process()).record(label, pc), snapshot_directory)


def named(records: list[Record]) -> list[Record]:
    """Fill in each record's location from its pc (left for later when it was taken)."""
    for record in records:
        if not record.location and record.pc is not None:
            record.location = location_of(record.pc)
    return records


class SnapshotBreakpoint(gdb.Breakpoint):
    """Takes a snapshot at each Nth hit, then lets the program go on (unless --stop)."""

    def __init__(self, location: str, every: int, stop_here: bool):
        super().__init__(location)
        self.every, self.stop_here, self.counted = every, stop_here, 0
        self.process: Process | None = None  # the process of the last hit, while it lasts
        self.of_location = f" of {self.location}"  # labels: "hit N of LOCATION"

    def _address(self) -> int | None:
        """Where a hit stops, when the breakpoint has one place (gdb 13 tells)."""
        locations = getattr(self, "locations", None)
        if locations and len(locations) == 1 and locations[0].address is not None:
            return int(locations[0].address)
        return None

    def stop(self) -> bool:
        self.counted += 1
        if self.counted % self.every:
            return False
        try:  # never a traceback from inside gdb's event loop
            if self.process is None or not self.process.still_selected():
                self.process = Process()
            take(f"hit {self.counted}{self.of_location}", self._address(), self.process)
        except GdbmemError as exc:
            gdb.write(f"memsnap: no snapshot at hit {self.counted}: {exc}\n", gdb.STDERR)
        except Exception as exc:
            gdb.write(f"memsnap: no snapshot at hit {self.counted}: internal error: "
                      f"{type(exc).__name__}: {exc}\n", gdb.STDERR)
        return self.stop_here


class MemsnapCommand(Command):
    name = "memsnap"
    parser = parser

    def run(self, args: argparse.Namespace, from_tty: bool) -> None:
        words = args.words
        sub = words[0] if words and words[0] in SUBCOMMANDS else None
        if sub is None:
            number = take(" ".join(words))
            (record,) = named([SESSION.get(number)])
            gdb.write(f"memsnap: #{number} {record.label + ' ' if record.label else ''}"
                      f"taken{' in ' + record.location if record.location else ''}\n")
            return
        getattr(self, "_" + sub)(globals()["_" + sub].parse_args(words[1:]), from_tty)

    def _on(self, args: argparse.Namespace, from_tty: bool) -> None:
        if args.every < 1:
            raise UsageError("--every takes a number of hits, 1 or more")
        try:
            breakpoint = SnapshotBreakpoint(args.location, args.every, args.stop)
        except gdb.error as exc:
            raise UsageError(f"cannot set a breakpoint at {args.location!r}: {exc}") from None
        every = f"every {args.every} hits" if args.every > 1 else "each hit"
        gdb.write(f"memsnap: breakpoint {breakpoint.number} at {args.location} takes a snapshot "
                  f"at {every}{' and stops' if args.stop else ''}\n")

    def _list(self, args: argparse.Namespace, from_tty: bool) -> None:
        records = named(SESSION.records)
        if args.json:
            gdb.write(jsonout.dumps([
                {"number": n, "label": r.label, "location": r.location, "pid": r.pid,
                 "taken_at": r.taken_at,
                 "rss_kb": process_summary(r.snapshot.rollup, r.snapshot.regions).rss_kb,
                 "regions": len(r.snapshot.regions), "threads": len(r.threads)}
                for n, r in enumerate(records, 1)]))
            return
        if not records:
            gdb.write("memsnap: no snapshots yet (`memsnap` takes one, `memsnap on LOCATION` "
                      "takes one at each hit)\n")
            return
        journal = SESSION.journal.path if SESSION.journal else "none"
        gdb.write(records_table(records) + f"journal: {journal}\n")

    def _show(self, args: argparse.Namespace, from_tty: bool) -> None:
        (record,) = named([SESSION.get(args.number)])
        snapshot = record.snapshot
        if args.json:
            gdb.write(jsonout.dumps({
                "number": args.number, "label": record.label, "location": record.location,
                "pid": record.pid, "taken_at": record.taken_at,
                "totals": process_summary(snapshot.rollup, snapshot.regions)._asdict(),
                "regions": [r.to_dict() for r in snapshot.regions]}))
            return
        gdb.write(f"snapshot #{args.number} {record.label} ({record.location})\n"
                  + region_table(snapshot.regions, not args.kb, colour_wanted(from_tty))
                  + summary_line(process_summary(snapshot.rollup, snapshot.regions),
                                 not args.kb))

    def _diff(self, args: argparse.Namespace, from_tty: bool) -> None:
        result = diff(SESSION.get(args.a).snapshot, SESSION.get(args.b).snapshot)
        if args.json:
            gdb.write(jsonout.dumps({
                "from": args.a, "to": args.b, "seconds": result.seconds,
                "rss_delta_kb": result.rss_delta_kb, "pss_delta_kb": result.pss_delta_kb,
                "swap_delta_kb": result.swap_delta_kb,
                "changes": [{"key": c.key, "kind": c.kind, "change": c.change,
                             "rss_delta_kb": c.rss_delta_kb, "size_delta_kb": c.size_delta_kb,
                             "before": c.before._asdict() if c.before else None,
                             "after": c.after._asdict() if c.after else None}
                            for c in result.changes]}))
            return
        gdb.write(diff_text(result, args.a, args.b, colour_wanted(from_tty)))

    def _trend(self, args: argparse.Namespace, from_tty: bool) -> None:
        if len(SESSION.records) < 2:
            raise UsageError("a trend needs two snapshots or more "
                             f"(there {'is' if len(SESSION.records) == 1 else 'are'} "
                             f"{len(SESSION.records)})")
        snapshots = [r.snapshot for r in SESSION.records]
        minimum = leak_min_growth_kb()
        region_trends = trends(snapshots, minimum)
        verdict = process_verdict(snapshots, region_trends, minimum)
        if args.json:
            gdb.write(jsonout.dumps({"verdict": verdict, "snapshots": len(snapshots),
                                     "process_series_kb": process_series(snapshots),
                                     "regions": [t.to_dict() for t in region_trends]}))
            return
        gdb.write(trend_text(region_trends, verdict, process_series(snapshots),
                             colour_wanted(from_tty)))

    def _clear(self, args: argparse.Namespace, from_tty: bool) -> None:
        count = len(SESSION.records)
        SESSION.clear()
        gdb.write(f"memsnap: {count} snapshot{'s' if count != 1 else ''} forgotten\n")

    def _save(self, args: argparse.Namespace, from_tty: bool) -> None:
        if not SESSION.records:
            raise UsageError("no snapshots to save")
        with SafeFile(args.file, args.force) as out:
            for record in named(SESSION.records):
                out.write((record.to_json() + "\n").encode("utf-8", "surrogateescape"))
        gdb.write(f"memsnap: {len(SESSION.records)} snapshots -> {args.file}\n")

    def _load(self, args: argparse.Namespace, from_tty: bool) -> None:
        try:
            with open(args.file, "rb") as fh:
                records = read_records(fh.read(), args.file)
        except OSError as exc:
            raise OutputError(f"cannot read {args.file}: {exc.strerror}") from None
        except ParseError as exc:
            raise UsageError(str(exc)) from None
        if not records:
            raise UsageError(f"{args.file} holds no snapshots")
        for record in records:
            SESSION.add(record, snapshot_directory)
        gdb.write(f"memsnap: {len(records)} snapshots loaded from {args.file} "
                  f"(now {len(SESSION.records)})\n")
