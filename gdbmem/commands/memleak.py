"""memleak: the blocks of malloc's heap that nothing points to at this stop."""

from __future__ import annotations

import argparse

import gdb  # type: ignore[import-not-found]
import numpy as np

from gdbmem.commands.base import ArgumentParser, Command, add_format, write
from gdbmem.commands.heapview import heap_view, name_of
from gdbmem.commands.settings import text_style
from gdbmem.commands.state import state
from gdbmem.heap.census import block_types
from gdbmem.heap.reach import REACHABLE
from gdbmem.options import count
from gdbmem.render.heap import leak_groups, leak_report
from gdbmem.render.table import PLAIN, TextStyle
from gdbmem.target import current

parser = ArgumentParser(
    "memleak",
    "Find the blocks of malloc's heap nothing points to, at this stop, as valgrind names them.",
    usage="memleak [-h] [--limit N] [--json] [--format FMT]",
    epilog="""\
Scans every thread's registers and stack, and every writable mapping that is not malloc's,
for pointers into the blocks memheap finds, then follows pointers from block to block:
  still reachable  reached through pointers to their start
  possibly lost    reached only through a pointer inside them (or a possibly lost block)
  definitely lost  reached from nowhere, and from no other lost block
  indirectly lost  reached only from lost blocks
as valgrind's memcheck defines them, without restarting the program. Bytes are chunk sizes
(valgrind counts what was asked for). Memory never written can hold an old pointer, which
makes a lost block look reached here (memcheck knows which bytes were written): never the
reverse. Lost blocks are grouped by category, chunk size and type, the most bytes first;
with `memtrace on --malloc` (heaptrack), each group also names its allocation sites and the
bytes they asked for.

Examples:
  memleak
  memleak --json                 definitely_lost, indirectly_lost, possibly_lost,
                                 still_reachable ({"blocks", "bytes"}) and groups
  vmainfo 0x55555555a2c0         a sample: its chunk, its type, lost or reachable""")
parser.add_argument("--limit", type=count("rows"), default=20, metavar="N",
                    help="groups of lost blocks shown (default 20)")
parser.add_argument("--json", action="store_true", help="print a JSON object")
add_format(parser)


def _report(as_json: bool, limit: int, style: TextStyle) -> str:
    view = heap_view(current())
    leaks = view.the_leaks()
    lost = np.nonzero(leaks.category != REACHABLE)[0]
    types = view.read(lambda mem: block_types(mem, view.heap, leaks.blocks.chunk[lost],
                                              view.regions, name_of))
    notes = [*view.notes, *view.heap.notes]
    heaptrack = state().tracer.heaptrack
    site_of = heaptrack.site_of if heaptrack is not None and gdb.selected_inferior().pid \
        else None
    if site_of is not None:
        notes.append("allocation sites are heaptrack's (memtrace on --malloc); the last few "
                     "kB of its records may not be written yet at a stop")
    return leak_report(leaks, leak_groups(leaks, types, lost, site_of), notes, limit,
                       as_json, style)


def leaks_report_json() -> str:
    """memleak --json at this stop (the HTML report shows it)."""
    return _report(True, 20, PLAIN)


class MemleakCommand(Command):
    parser = parser

    def run(self, args: argparse.Namespace, from_tty: bool) -> None:
        write(_report(args.json, args.limit, text_style(from_tty, args.format)))
