"""`gdbmem` (or `python -m gdbmem`): the same analysis on files captured where gdb cannot run.

  gdbmem map FILE                  the memory map, as memmap shows it
  gdbmem diff A B                  what changed from A to B, as memsnap diff
  gdbmem diff FILE --from 1 --to 5 between two snapshots of one file
  gdbmem trend FILE...             each region's trend and a verdict, as memsnap trend
  gdbmem check FILE...             suspicious patterns in the last snapshot and growth over
                                   all of them, as memcheck
  gdbmem verify DUMP               a memdump file against its description (DUMP.json)
  gdbmem trace FILE...             memtrace's call sites, from a journal or memsnap save
  gdbmem report FILE... -o F.html  one HTML report of the snapshots, as memsnap report
  gdbmem capture PID --every 5s --count N --out DIR
                                   sample a live process without stopping it

FILE: a captured /proc/PID/smaps or maps, `pmap -x` output, or snapshots saved by
`memsnap save` or written by `gdbmem capture` (see gdbmem/store/captures.py).
"""

from __future__ import annotations

import sys

try:  # the packages the reports are written with: without them, one line, no traceback
    import pygal  # noqa: F401
    import pygments  # noqa: F401
    import tabulate  # noqa: F401
except ImportError as _missing:
    sys.stderr.write(f"gdbmem: needs the Python packages tabulate, pygments and pygal "
                     f"({_missing}): run `make setup` in gdbmem's directory and use "
                     ".venv/bin/gdbmem, or `pip install tabulate pygments pygal`\n")
    sys.exit(2)

import argparse
import hashlib
import json
import os
import re
import sys
import time
from collections.abc import Sequence

from gdbmem import procread
from gdbmem.analysis.checks import DEFAULTS
from gdbmem.analysis.growth import LEAK_MIN_GROWTH_KB
from gdbmem.analysis.select import SORT_KEYS, Selection, parse_kinds
from gdbmem.errors import GdbmemError, ParseError, TargetError, UsageError
from gdbmem.heap.census import growth_over
from gdbmem.model import Hole
from gdbmem.options import count, usage_message
from gdbmem.render.checks import check_report
from gdbmem.render.color import Palette
from gdbmem.render.growth import diff_report, trend_report
from gdbmem.render.maps import MapOptions, map_report
from gdbmem.render.report import html_report
from gdbmem.render.table import DEFAULT_FORMAT, FORMATS, TextStyle
from gdbmem.render.trace import accounts_report, sites_report
from gdbmem.safefile import SafeFile
from gdbmem.scan.dump import extents_digest
from gdbmem.store.captures import snapshots
from gdbmem.store.codec import read_records
from gdbmem.store.journal import new_journal
from gdbmem.store.record import Record
from gdbmem.trace.account import Accounts
from gdbmem.trace.fold import sites, sites_within


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):
        raise UsageError(f"{usage_message(message)} (see `{self.prog} --help`)")


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="gdbmem", description=__doc__.split("\n\n")[0],
                     formatter_class=argparse.RawDescriptionHelpFormatter,
                     epilog=__doc__.split("\n", 1)[1])
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    p = sub.add_parser("map", help="the memory map of a capture")
    p.add_argument("file")
    p.add_argument("--kind", metavar="K[,K]")
    p.add_argument("--sort", choices=SORT_KEYS)
    p.add_argument("--top", type=count("regions (or groups)"))
    p.add_argument("-k", dest="kb", action="store_true", help="sizes in plain kB")
    p.add_argument("--group", action="store_true",
                   help="one row per mapping name (per kind for unnamed memory), its regions "
                        "summed")
    layout = p.add_mutually_exclusive_group()
    layout.add_argument("-x", dest="extended", action="store_true", help="pmap -x's layout")
    layout.add_argument("--json", action="store_true")
    _formats(p)
    p = sub.add_parser("diff", help="what changed between two snapshots")
    p.add_argument("files", nargs="+", metavar="FILE")
    p.add_argument("--from", type=int, metavar="N",
                   help="snapshot N (default: the last of the first file)")
    p.add_argument("--to", type=int, metavar="N", help="snapshot N (default: the last)")
    p.add_argument("--json", action="store_true")
    _formats(p)
    p = sub.add_parser("trend", help="trends and verdicts over captures")
    p.add_argument("files", nargs="+", metavar="FILE")
    p.add_argument("--min-growth", type=int, default=LEAK_MIN_GROWTH_KB, metavar="KB")
    p.add_argument("--pid", type=int, metavar="N",
                   help="the snapshots of process N (when they are of several)")
    p.add_argument("--all", action="store_true",
                   help="every region, the stable ones too (folded into one line without)")
    p.add_argument("--json", action="store_true")
    _formats(p)
    p = sub.add_parser("check", help="suspicious patterns in a capture, and growth over its "
                       "samples")
    p.add_argument("files", nargs="+", metavar="FILE")
    p.add_argument("--min-growth", type=int, default=LEAK_MIN_GROWTH_KB, metavar="KB")
    p.add_argument("--json", action="store_true")
    _formats(p)
    p = sub.add_parser("trace", help="memtrace's call sites, from saved snapshots or a journal")
    p.add_argument("files", nargs="+", metavar="FILE")
    p.add_argument("--top", type=count("sites"), metavar="N")
    p.add_argument("--account", type=int, metavar="N",
                   help="the sites of account N (one per address space traced; --list)")
    p.add_argument("--list", action="store_true", help="the accounts, one per address space")
    p.add_argument("--json", action="store_true")
    _formats(p)
    p = sub.add_parser("report", help="one HTML report of snapshots (memsnap report's)")
    p.add_argument("files", nargs="+", metavar="FILE")
    p.add_argument("-o", dest="output", required=True, metavar="FILE.html")
    p.add_argument("--force", action="store_true", help="replace FILE.html if it exists")
    p.add_argument("--min-growth", type=int, default=LEAK_MIN_GROWTH_KB, metavar="KB")
    p.add_argument("--pid", type=int, metavar="N",
                   help="the snapshots of process N (when they are of several)")
    p = sub.add_parser("verify", help="a memdump file against its description (FILE.json)")
    p.add_argument("file", metavar="FILE")
    p = sub.add_parser("capture", help="sample a live process's memory")
    p.add_argument("pid", type=int)
    p.add_argument("--every", default="5s", metavar="INTERVAL", help="5s, 500ms, 2m")
    p.add_argument("--count", type=count("samples"), default=10, metavar="N")
    p.add_argument("--out", required=True, metavar="DIR")
    return parser


def _formats(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--format", choices=FORMATS, default=DEFAULT_FORMAT, metavar="FMT",
                        help="the tables' format: any of tabulate's (simple, github, pipe, "
                             "html, latex, tsv, grid, rst, ...)")


def _style(args: argparse.Namespace) -> TextStyle:
    """The format asked for, in colour only at a terminal (and never with NO_COLOR)."""
    colour = (sys.stdout.isatty() and os.environ.get("TERM", "dumb") != "dumb"
              and "NO_COLOR" not in os.environ)
    depth = ("truecolor" if os.environ.get("COLORTERM", "").lower() in ("truecolor", "24bit")
             else "256" if "256" in os.environ.get("TERM", "") else "16")
    return TextStyle(args.format, Palette(depth=depth) if colour else None)


_LONGEST_INTERVAL = 7 * 24 * 3600.0


def parse_interval(text: str) -> float:
    m = re.fullmatch(r"(\d+(?:\.\d+)?)(ms|s|m|h)?", text.strip())
    if m is None:
        raise UsageError(f"bad interval {text!r}: use 5s, 500ms, 2m or a number of seconds")
    seconds = float(m.group(1)) * {"ms": 0.001, "s": 1, "m": 60, "h": 3600}[m.group(2) or "s"]
    if seconds > _LONGEST_INTERVAL:
        raise UsageError(f"interval {text!r} is longer than a week")
    return seconds


def _warn(message: str) -> None:
    sys.stderr.write(f"gdbmem: {message}\n")


def _snapshots(paths: list[str], censuses: list[dict] | None = None) -> list:
    return snapshots(paths, _warn, censuses)


def _map(args: argparse.Namespace) -> str:
    snapshot = _snapshots([args.file])[-1]
    selection = Selection(kinds=parse_kinds(args.kind) if args.kind else None)
    layout = "json" if args.json else "pmap-x" if args.extended else "table"
    options = MapOptions(selection, args.sort, args.top, layout, args.group, not args.kb)
    return map_report(snapshot, options, _style(args), cmdline=lambda: args.file)


def _diff(args: argparse.Namespace) -> str:
    """The snapshots of all files are numbered in order from 1, as `memsnap load` of each
    would number them; by default the last of the first file against the last of all."""
    first_file = _snapshots(args.files[:1])
    series = first_file + _snapshots(args.files[1:])
    first = getattr(args, "from") or len(first_file)
    last = args.to or len(series)
    for number in (first, last):
        if not 1 <= number <= len(series):
            raise UsageError(f"no snapshot #{number} (there are 1 to {len(series)})")
    return diff_report(series[first - 1], series[last - 1], first, last, args.json,
                       _style(args))


def _trend(args: argparse.Namespace) -> str:
    censuses: list[dict] = []
    series = _snapshots(args.files, censuses)
    return trend_report(series, args.min_growth, args.json, _style(args), args.pid,
                        every=args.all, heap_growth=growth_over(censuses))


def _check(args: argparse.Namespace) -> str:
    series = _snapshots(args.files)
    return check_report(series[-1], series, DEFAULTS, args.min_growth, args.json, _style(args))


def _trace(args: argparse.Namespace) -> str:
    """The call sites memtrace traced, as memtrace shows them in gdb (by their saved names)."""
    accounts = Accounts()
    for path in args.files:
        try:
            with open(path, "rb") as fh:
                read_records(fh.read(), path, _warn, accounts)
        except OSError as exc:
            raise GdbmemError(f"cannot read {path}: {exc.strerror}") from None
    if args.list:
        return accounts_report(accounts.items, args.json, _style(args))
    try:
        account = accounts.shown(args.account)
    except LookupError as exc:
        raise UsageError(str(exc)) from None
    if account is None:
        raise UsageError("no traced calls in " + ", ".join(args.files)
                         + " (memtrace on, then memsnap save)")
    if len(accounts.traced()) > 1:
        _warn(f"the sites of {account.describe()} (--account N for another, --list for all)")
    found = sites(account.ledger, account.resolve)
    return sites_report(found[:args.top] if args.top else found, args.json, _style(args))


def _report(args: argparse.Namespace) -> str:
    """memsnap report's page, from files: the call sites from their traced calls, named as
    saved; source lines where the file is found from here."""
    accounts = Accounts()
    records: list = []
    for path in args.files:
        records += _loaded(path, accounts)
    of_pid = [r for r in records if args.pid is None or getattr(r, "pid", 0) == args.pid]
    last = of_pid[-1] if of_pid else None
    account = (accounts.of_process(last.pid, last.taken_at)
               if isinstance(last, Record) else accounts.shown())

    def sites_of(regions):
        assert account is not None
        return sites_within(account.ledger, account.resolve,
                            [(r.start, r.end) for r in regions])

    page = html_report([item.snapshot if isinstance(item, Record) else item for item in records],
                       [getattr(item, "location", "") for item in records], args.min_growth,
                       DEFAULTS, sites_of if account is not None else None, _source,
                       args.pid)
    with SafeFile(args.output, args.force, _warn) as out:
        out.write(page.encode("utf-8", "surrogateescape"))
    return f"gdbmem: a report of {len(records)} snapshots -> {args.output}\n"


def _loaded(path: str, accounts: Accounts) -> list:
    """The snapshots of a file (records, or one parsed capture); traced calls into
    `accounts`."""
    try:
        with open(path, "rb") as fh:
            head = fh.read(1)
    except OSError as exc:
        raise GdbmemError(f"cannot read {path}: {exc.strerror}") from None
    if head == b"{":
        with open(path, "rb") as fh:
            return read_records(fh.read(), path, _warn, accounts)
    return list(snapshots([path], _warn))


def _source(frame) -> list[str] | None:
    """A frame's source file's lines, where its name leads from here."""
    try:
        with open(frame.file, encoding="utf-8", errors="replace") as fh:
            return fh.readlines()
    except (OSError, TypeError):
        return None


def _verify(args: argparse.Namespace) -> str:
    """A dump against its description: the sha256 of the file, or of its data extents for a
    sparse dump (`sha256_of`)."""
    described = args.file if args.file.endswith(".json") else args.file + ".json"
    path = described[: -len(".json")]
    try:
        with open(described, "rb") as fh:
            info = json.loads(fh.read())
        holes = [Hole(int(h["start"]), int(h["end"]), str(h["reason"])) for h in info["holes"]]
        size, start, expected = int(info["size"]), int(info["start"]), str(info["sha256"])
        extents = info.get("sha256_of") == "data extents"
    except OSError as exc:
        raise GdbmemError(f"cannot read {described}: {exc.strerror}") from None
    except (ValueError, KeyError, TypeError, OverflowError, RecursionError) as exc:
        raise ParseError(f"{described}: not a memdump description ({exc})") from None
    try:
        with open(path, "rb") as fh:
            if os.fstat(fh.fileno()).st_size != size:
                raise GdbmemError(f"{path} is not the size its description says ({size} bytes)")
            if extents:
                digest = extents_digest(lambda o, n: os.pread(fh.fileno(), n, o), size, holes,
                                        start)
            else:
                digest = _sha256(fh)
    except OSError as exc:
        raise GdbmemError(f"cannot read {path}: {exc.strerror}") from None
    what = "its data extents" if extents else "the file"
    if digest != expected:
        raise GdbmemError(f"{path} does not match its description: the sha256 of {what} is "
                          f"{digest}, not {expected}")
    return f"{path}: ok (the sha256 of {what} is the one described)\n"


def _sha256(fh) -> str:
    hasher = hashlib.sha256()
    for block in iter(lambda: fh.read(1 << 20), b""):
        hasher.update(block)
    return hasher.hexdigest()


def _sample(pid: int) -> bytes | None:
    """/proc/PID/smaps, or None when the process exited (a sample read while it exits is cut
    short: it is dropped, never kept as real)."""
    try:
        data = procread.read_whole(pid, "smaps")
    except TargetError:
        if not procread.alive(pid):
            return None
        raise
    return data if data and procread.alive(pid) else None


def _capture(args: argparse.Namespace) -> str:
    """The shell loop around pmap, done right: every field, a record per sample, appended."""
    interval = parse_interval(args.every)
    if args.pid < 1 or not os.path.isdir(f"/proc/{args.pid}"):
        raise TargetError(f"no process {args.pid}")
    try:
        exe = os.readlink(f"/proc/{args.pid}/exe")
    except OSError:
        exe = ""
    progress = sys.stderr.isatty()
    journal = None
    taken = 0
    try:
        for n in range(1, args.count + 1):
            data = _sample(args.pid)
            if data is None:
                where = f" (they are in {journal.path})" if journal is not None else ""
                raise TargetError(f"process {args.pid} has exited after {taken} sample"
                                  f"{'s' if taken != 1 else ''}{where}")
            if journal is None:  # only once there is a sample: a failure leaves no file
                journal = new_journal(args.out, f"capture-{args.pid}-{int(time.time())}")
            journal.append(Record(args.pid, time.time(), data, label=f"sample {n}", exe=exe))
            taken += 1
            if progress:
                sys.stderr.write(f"\rgdbmem: sample {n}/{args.count} of {args.pid} -> "
                                 f"{journal.path}")
                sys.stderr.flush()
            if n < args.count:
                time.sleep(interval)
    finally:
        if journal is not None:
            journal.close()
        if progress and taken:
            sys.stderr.write("\n")
    return f"gdbmem: {taken} sample{'s' if taken != 1 else ''} of {args.pid} -> {journal.path}\n"


def main(argv: Sequence[str] | None = None) -> int:
    try:
        args = _parser().parse_args(argv)
        out = {"map": _map, "diff": _diff, "trend": _trend, "check": _check,
               "capture": _capture, "verify": _verify, "trace": _trace,
               "report": _report}[args.command](args)
        sys.stdout.write(out)
        return 0
    except GdbmemError as exc:
        sys.stderr.write(f"gdbmem: {exc}\n")
        return 2
    except KeyboardInterrupt:
        sys.stderr.write("gdbmem: interrupted\n")
        return 130
    except BrokenPipeError:
        return 0
    except Exception as exc:  # a bug of ours: one line, the traceback on request
        if os.environ.get("GDBMEM_DEBUG"):
            raise
        sys.stderr.write(f"gdbmem: internal error: {type(exc).__name__}: {exc} "
                         "(GDBMEM_DEBUG=1 shows the traceback)\n")
        return 70
