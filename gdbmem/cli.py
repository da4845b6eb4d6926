"""`gdbmem` (or `python -m gdbmem`): the same analysis on files captured where gdb cannot run.

  gdbmem map FILE                  the memory map, as memmap shows it
  gdbmem diff A B                  what changed from A to B, as memsnap diff
  gdbmem trend FILE...             each region's trend and a verdict, as memsnap trend
  gdbmem check FILE                suspicious patterns, as memcheck
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

from gdbmem.analysis.checks import check
from gdbmem.analysis.growth import diff, process_series, process_verdict, trends
from gdbmem.analysis.select import SORT_KEYS, Selection, parse_kinds, select, sort_regions
from gdbmem.analysis.totals import process_summary
from gdbmem.captures import snapshots
from gdbmem.errors import GdbmemError, UsageError
from gdbmem.render import jsonout
from gdbmem.render.growth import diff_text, trend_text
from gdbmem.render.maps import pmap_extended, region_table, summary_line
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
    p.add_argument("-x", dest="extended", action="store_true", help="pmap -x's layout")
    p.add_argument("--json", action="store_true")
    p = sub.add_parser("diff", help="what changed between two captures")
    p.add_argument("a")
    p.add_argument("b")
    p.add_argument("--json", action="store_true")
    p = sub.add_parser("trend", help="trends and verdicts over captures")
    p.add_argument("files", nargs="+")
    p.add_argument("--min-growth", type=int, default=64, metavar="KB")
    p.add_argument("--json", action="store_true")
    p = sub.add_parser("check", help="suspicious patterns in a capture")
    p.add_argument("file")
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


def _last(path: str):
    return snapshots([path])[-1]


def _map(args: argparse.Namespace) -> str:
    snapshot = _last(args.file)
    regions = snapshot.regions
    if args.kind:
        regions = select(regions, Selection(kinds=parse_kinds(args.kind)))
    if args.sort:
        regions = sort_regions(regions, args.sort)
    if args.top is not None:
        regions = regions[: args.top]
    if args.json:
        return jsonout.dumps([r.to_dict() for r in regions])
    if args.extended:
        return pmap_extended(regions, snapshot.pid, args.file)
    return (region_table(regions, not args.kb)
            + summary_line(process_summary(snapshot.rollup, snapshot.regions), not args.kb))


def _diff(args: argparse.Namespace) -> str:
    result = diff(_last(args.a), _last(args.b))
    if args.json:
        return jsonout.dumps({"rss_delta_kb": result.rss_delta_kb, "seconds": result.seconds,
                              "changes": [{"key": c.key, "kind": c.kind, "change": c.change,
                                           "rss_delta_kb": c.rss_delta_kb,
                                           "size_delta_kb": c.size_delta_kb}
                                          for c in result.changes]})
    return diff_text(result, 1, 2)


def _trend(args: argparse.Namespace) -> str:
    series = snapshots(args.files)
    if len(series) < 2:
        raise UsageError("a trend needs two snapshots or more")
    region_trends = trends(series, args.min_growth)
    verdict = process_verdict(series, region_trends, args.min_growth)
    if args.json:
        return jsonout.dumps({"verdict": verdict, "snapshots": len(series),
                              "process_series_kb": process_series(series),
                              "regions": [t.to_dict() for t in region_trends]})
    return trend_text(region_trends, verdict, process_series(series))


def _check(args: argparse.Namespace) -> str:
    findings = check(_last(args.file))
    if args.json:
        return jsonout.dumps([f.to_dict() for f in findings])
    if not findings:
        return "nothing suspicious\n"
    return "".join(f"{f.name}: {f.why}\n" + "".join(f"    {w}\n" for w in f.regions)
                   for f in findings)


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
