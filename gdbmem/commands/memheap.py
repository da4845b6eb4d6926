"""memheap: what is in glibc malloc's heap at this stop, by arena, size and type."""

from __future__ import annotations

import argparse

import numpy as np

from gdbmem.commands.base import ArgumentParser, Command, add_format, write
from gdbmem.commands.heapview import heap_view
from gdbmem.commands.settings import text_style
from gdbmem.errors import UsageError
from gdbmem.options import count
from gdbmem.render.heap import heap_report, sample_report
from gdbmem.target import current
from gdbmem.units import parse_size

parser = ArgumentParser(
    "memheap",
    "Show what is in glibc malloc's heap at this stop: arenas, chunks, sizes and types.",
    usage="memheap [-h] [--by {arena,size,type}] [--limit N] [--json] [--format FMT]",
    epilog="""\
Every arena (the main one in [heap], thread arenas with their heaps) and the chunks mmapped
on their own: chunks and bytes in use, and where the free ones sit (each thread's tcache,
fastbins, unsorted, small and large bins, top). Blocks in use by type: the C++ class whose
vtable their first word points to, another symbol it (or the second word) points to, text,
zeros, unknown. Works on a live process, a core file and over gdbserver, with or without
libc's debug symbols (libc6-dbg); `--json` holds mallinfo2, the ten fields glibc's
mallinfo2() would return now.

Examples:
  memheap                       the summary, the arenas, the top types and sizes
  memheap --by type --limit 50  types only, 50 of them
  memheap show 208              sample blocks of chunk size 208 (memheap show --limit 5 Alpha)
  memheap --json                mallinfo2, arenas, tcaches, sizes, types
See also memleak: which of these blocks nothing points to.""")
parser.add_argument("--by", choices=("arena", "size", "type"),
                    help="show one table: per arena, by chunk size, or by type")
parser.add_argument("--limit", type=count("rows"), default=12, metavar="N",
                    help="rows of the size and type tables (default 12)")
parser.add_argument("--json", action="store_true", help="print a JSON object")
add_format(parser)


def _size(text: str) -> int | None:
    """A chunk size typed as 208, 0xd0 or 4K; None for a type's name."""
    if not text[:1].isdigit():
        return None
    try:
        return int(text, 0)
    except ValueError:
        pass
    try:
        return parse_size(text)
    except UsageError:
        return None


class MemheapCommand(Command):
    parser = parser
    prefix = True

    def run(self, args: argparse.Namespace, from_tty: bool) -> None:
        view = heap_view(current())
        for note in view.notes:
            self.note(note)
        write(heap_report(view.heap, view.the_census(), args.by, args.limit, args.json,
                          text_style(from_tty, args.format)))


class ShowCommand(Command):
    parser = ArgumentParser(
        "memheap show", "Show sample blocks in use of one chunk size or one type.",
        usage="memheap show [-h] [--limit N] [--json] SIZE|TYPE",
        epilog="""\
SIZE is a chunk size as memheap lists them (208, 0xd0, 4K); TYPE a type as memheap names it
(a class like Alpha, text, zeros, unknown, '-> PyList_Type'). Each block: its address, its
chunk's size and usable bytes, its type, its first 64 bytes and the strings in them.

Examples:
  memheap show 208
  memheap show --limit 3 Alpha""")
    parser.add_argument("what", nargs="+", metavar="SIZE|TYPE")
    parser.add_argument("--limit", type=count("blocks"), default=8, metavar="N",
                        help="blocks shown (default 8)")
    parser.add_argument("--json", action="store_true", help="print a JSON array")

    def run(self, args: argparse.Namespace, from_tty: bool) -> None:
        view = heap_view(current())
        found = view.the_census()
        what = " ".join(args.what)
        types = found.types
        size = _size(what)
        if size is not None:
            chosen = found.heap.size[found.chosen] == np.uint64(size)
            label = f"of chunk size {size}"
        else:
            chosen = types.of(what)
            label = f"of type {what}"
            if not chosen.any():
                known = ", ".join(g.key for g in found.by_type()[:6])
                raise UsageError(f"no block in use is of type {what!r} (types here: {known})")
        picked = np.nonzero(chosen)[0]
        rows = []
        for j in picked[:args.limit].tolist():
            k = int(found.chosen[j])
            start, end = found.heap.user_bounds_of(k)
            data = view.target.read_memory(start, min(64, end - start))
            rows.append((k, types.name(j), data))
        write(sample_report(found.heap, rows, label, len(picked), args.json,
                            text_style(from_tty)))


COMMANDS = (MemheapCommand, ShowCommand)
