"""`gdbmem` (or `python -m gdbmem`): the same analysis on files captured where gdb cannot run.

  gdbmem map FILE                  the memory map, as memmap shows it
  gdbmem diff A B                  what changed from A to B, as memsnap diff
  gdbmem diff FILE --from 1 --to 5 between two snapshots of one file
  gdbmem trend FILE...             each region's trend and a verdict, as memsnap trend
  gdbmem check FILE...             suspicious patterns in the last snapshot and growth over
                                   all of them, as memcheck
  gdbmem capture PID --every 5s --count N --out DIR
                                   sample a live process without stopping it

FILE: a captured /proc/PID/smaps or maps, `pmap -x` output, or snapshots saved by
`memsnap save` or written by `gdbmem capture` (see gdbmem/captures.py).
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import time
from collections.abc import Sequence

from gdbmem.analysis.checks import DEFAULTS
from gdbmem.analysis.select import SORT_KEYS, Selection, parse_kinds, select, sort_regions
from gdbmem.captures import snapshots
from gdbmem.errors import GdbmemError, UsageError
from gdbmem.render.checks import check_report
from gdbmem.render.growth import diff_report, trend_report
from gdbmem.render.maps import map_report
from gdbmem.snapshots import Journal, Record


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):
        raise UsageError(f"{message} (see `{self.prog} --help`)")


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="gdbmem", description=__doc__.split("\n\n")[0],
                     formatter_class=argparse.RawDescriptionHelpFormatter,
                     epilog=__doc__.split("\n", 1)[1])
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    p = sub.add_parser("map", help="the memory map of a capture")
    p.add_argument("file")
    p.add_argument("--kind", metavar="K[,K]")
    p.add_argument("--sort", choices=SORT_KEYS)
    p.add_argument("--top", type=int)
    p.add_argument("-k", dest="kb", action="store_true", help="sizes in plain kB")
    layout = p.add_mutually_exclusive_group()
    layout.add_argument("--group", action="store_true",
                        help="one row per mapping name, its regions summed")
    layout.add_argument("-x", dest="extended", action="store_true", help="pmap -x's layout")
    layout.add_argument("--json", action="store_true")
    p = sub.add_parser("diff", help="what changed between two snapshots")
    p.add_argument("files", nargs="+", metavar="FILE")
    p.add_argument("--from", type=int, metavar="N",
                   help="snapshot N (default: the last of the first file)")
    p.add_argument("--to", type=int, metavar="N", help="snapshot N (default: the last)")
    p.add_argument("--json", action="store_true")
    p = sub.add_parser("trend", help="trends and verdicts over captures")
    p.add_argument("files", nargs="+", metavar="FILE")
    p.add_argument("--min-growth", type=int, default=64, metavar="KB")
    p.add_argument("--json", action="store_true")
    p = sub.add_parser("check", help="suspicious patterns in a capture, and growth over its "
                       "samples")
    p.add_argument("files", nargs="+", metavar="FILE")
    p.add_argument("--min-growth", type=int, default=64, metavar="KB")
    p.add_argument("--json", action="store_true")
    p = sub.add_parser("capture", help="sample a live process's memory")
    p.add_argument("pid", type=int)
    p.add_argument("--every", default="5s", metavar="INTERVAL", help="5s, 500ms, 2m")
    p.add_argument("--count", type=int, default=10, metavar="N")
    p.add_argument("--out", required=True, metavar="DIR")
    return parser


def parse_interval(text: str) -> float:
    m = re.fullmatch(r"(\d+(?:\.\d+)?)(ms|s|m|h)?", text.strip())
    if m is None:
        raise UsageError(f"bad interval {text!r}: use 5s, 500ms, 2m or a number of seconds")
    return float(m.group(1)) * {"ms": 0.001, "s": 1, "m": 60, "h": 3600}[m.group(2) or "s"]


def _map(args: argparse.Namespace) -> str:
    snapshot = snapshots([args.file])[-1]
    regions = snapshot.regions
    if args.kind:
        regions = select(regions, Selection(kinds=parse_kinds(args.kind)))
    if args.sort:
        regions = sort_regions(regions, args.sort)
    if args.top is not None:
        regions = regions[: args.top]
    layout = "json" if args.json else "group" if args.group else "pmap-x" if args.extended \
        else "table"
    return map_report(snapshot, regions, layout, not args.kb, cmdline=lambda: args.file)


def _diff(args: argparse.Namespace) -> str:
    """The snapshots of all files are numbered in order from 1, as `memsnap load` of each
    would number them; by default the last of the first file against the last of all."""
    first_file = snapshots(args.files[:1])
    series = first_file + snapshots(args.files[1:])
    first = getattr(args, "from") or len(first_file)
    last = args.to or len(series)
    for number in (first, last):
        if not 1 <= number <= len(series):
            raise UsageError(f"no snapshot #{number} (there are 1 to {len(series)})")
    return diff_report(series[first - 1], series[last - 1], first, last, args.json)


def _trend(args: argparse.Namespace) -> str:
    return trend_report(snapshots(args.files), args.min_growth, args.json)


def _check(args: argparse.Namespace) -> str:
    series = snapshots(args.files)
    return check_report(series[-1], series, DEFAULTS, args.min_growth, args.json)


def _capture(args: argparse.Namespace) -> str:
    """The shell loop around pmap, done right: every field, a record per sample, appended."""
    interval = parse_interval(args.every)
    if args.count < 1:
        raise UsageError("--count takes a number of samples, 1 or more")
    os.makedirs(args.out, mode=0o700, exist_ok=True)
    journal = Journal(os.path.join(args.out, f"capture-{args.pid}-{int(time.time())}.jsonl"))
    exe = ""
    try:
        exe = os.readlink(f"/proc/{args.pid}/exe")
    except OSError:
        pass
    try:
        for n in range(1, args.count + 1):
            try:
                with open(f"/proc/{args.pid}/smaps", "rb") as fh:
                    data = fh.read()
            except FileNotFoundError:
                raise GdbmemError(f"process {args.pid} has exited after {n - 1} samples "
                                  f"(they are in {journal.path})") from None
            except PermissionError:
                raise GdbmemError(f"cannot read /proc/{args.pid}/smaps: permission denied "
                                  "(the process is another user's, or not dumpable)") from None
            if not data:
                raise GdbmemError(f"process {args.pid} has exited after {n - 1} samples "
                                  f"(they are in {journal.path})")
            journal.append(Record(args.pid, time.time(), data, label=f"sample {n}", exe=exe))
            print(f"gdbmem: sample {n}/{args.count} of {args.pid} -> {journal.path}", flush=True)
            if n < args.count:
                time.sleep(interval)
    finally:
        journal.close()
    return ""


def main(argv: Sequence[str] | None = None) -> int:
    try:
        args = _parser().parse_args(argv)
        out = {"map": _map, "diff": _diff, "trend": _trend, "check": _check,
               "capture": _capture}[args.command](args)
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
