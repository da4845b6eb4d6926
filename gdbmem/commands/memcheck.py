"""memcheck: the suspicious patterns in the process's memory now, named, with why."""

from __future__ import annotations

import argparse

from gdbmem.commands.base import ArgumentParser, Command, add_format, write
from gdbmem.commands.settings import check_thresholds, leak_min_growth_kb, text_style
from gdbmem.commands.state import state
from gdbmem.render.checks import check_report
from gdbmem.target import current

parser = ArgumentParser(
    "memcheck",
    "Name the suspicious patterns in the process's memory, the regions behind each, and why.",
    epilog="""\
Findings (thresholds are settings: `show gdbmem`):
  growing          a region memsnap's trend calls a leak (when there are 4 snapshots or more)
  large-anonymous  an anonymous region with much resident      (set gdbmem check-anon-rss KB)
  fragmentation    very many anonymous regions             (set gdbmem check-anon-regions N)
  loaded-twice     one library mapped at two bases, or one library name from two paths
  private-dirty    a large region mostly Private_Dirty    (check-large-region, check-dirty-share)
  swap             a large share in swap                      (set gdbmem check-swap-share %)
  writable-exec    a mapping writable and executable at once
  deleted-file     a mapped file deleted or replaced on disk (a library upgraded under you)

Examples:
  memcheck
  memcheck --json""")
parser.add_argument("--json", action="store_true", help="print a JSON array of findings")
add_format(parser)


class MemcheckCommand(Command):
    parser = parser

    def run(self, args: argparse.Namespace, from_tty: bool) -> None:
        snapshot = current().snapshot(with_rollup=False)  # the checks sum the regions
        history = [r.snapshot for r in state().session.records]
        text = check_report(snapshot, history, check_thresholds(), leak_min_growth_kb(),
                            args.json, text_style(from_tty, args.format))
        write(text if args.json else f"memcheck: {text}")
