"""memmap: every mapping of the process, with RSS, PSS, dirty, swap and what it is."""

from __future__ import annotations

import argparse

from gdbmem.analysis.select import SORT_KEYS, Selection, parse_kinds
from gdbmem.commands.base import (
    ArgumentParser,
    Command,
    add_format,
    trim_to_word,
    write,
)
from gdbmem.commands.regionspec import complete_names
from gdbmem.commands.settings import text_style
from gdbmem.errors import UsageError
from gdbmem.options import count
from gdbmem.render.maps import MapOptions, map_report
from gdbmem.target import current
from gdbmem.target.symbols import evaluate_address
from gdbmem.units import parse_size

parser = ArgumentParser(
    "memmap",
    "Show every mapping of the process with RSS, PSS, Dirty, Swap and its kind.",
    epilog="""\
Kinds: heap, stack (main thread), thread-stack (with its thread), guard, arena (a malloc
arena of another thread), exe, lib, file, anon, shm, vdso, vvar, vsyscall.
Sizes are kB from /proc/PID/smaps, shown human-readable (-k for plain kB); '?' is unknown.

Examples:
  memmap                         the whole map, with totals and the process summary
  memmap libc                    regions whose name holds 'libc'
  memmap /^/usr/lib/ --group     one row per file under /usr/lib, its regions summed (smem -m)
  memmap --group --sort rss --top 8   the 8 largest files and kinds of memory
  memmap /\\\\.so\\\\b/                the libraries: gdb takes one backslash away, so double it
  memmap --kind heap,arena,anon --sort rss --top 5
  memmap --perms rw? --min-rss 1M
  memmap --range $sp-0x10000,$sp+0x10000
  memmap -x                      exactly pmap -x (also -d for pmap -d, -X for every field)
  memmap --json                  one object per region, every smaps field by the kernel's name
  memmap --sort rss --top 5 --format github   a table to paste into an issue tracker""")
parser.add_argument("name", nargs="*", metavar="NAME",
                    help="keep regions whose name holds NAME, or matches /REGEX/")
parser.add_argument("--kind", metavar="K[,K]", help="keep regions of these kinds")
parser.add_argument("--perms", metavar="P",
                    help="keep regions whose perms match: 'rw?', 'r-x', 'x'")
parser.add_argument("--min-size", metavar="SIZE",
                    help="keep regions at least this large (64k, 100M)")
parser.add_argument("--min-rss", metavar="SIZE",
                    help="keep regions with at least this much resident")
parser.add_argument("--range", metavar="LO,HI",
                    help="keep regions overlapping [LO, HI) (gdb expressions)")
parser.add_argument("--sort", choices=SORT_KEYS, metavar="KEY",
                    help="order by addr (default) or, largest first, rss|pss|size|dirty|swap")
parser.add_argument("--top", type=count("regions (or groups)"), metavar="N",
                    help="show only the first N after sorting")
parser.add_argument("-k", dest="kb", action="store_true", help="sizes in plain kB")
parser.add_argument("--group", action="store_true",
                    help="one row per mapping name (per kind for unnamed memory), its regions "
                         "summed; --sort and --top then apply to the rows")
add_format(parser)
layout = parser.add_mutually_exclusive_group()
layout.add_argument("-x", dest="extended", action="store_true", help="pmap -x's layout and totals")
layout.add_argument("-d", dest="device", action="store_true", help="pmap -d's layout and totals")
layout.add_argument("-X", dest="every_field", action="store_true", help="every smaps field")
layout.add_argument("--json", action="store_true", help="a JSON array, one object per region")


def _selection(args: argparse.Namespace) -> Selection:
    address_range = None
    if args.range is not None:
        lo, comma, hi = args.range.partition(",")
        if not comma:
            raise UsageError(f"--range takes LO,HI, not {args.range!r}")
        address_range = (evaluate_address(lo), evaluate_address(hi))
    if len(args.name) > 1:
        raise UsageError(f"one NAME at a time, and {len(args.name)} words were given: a name "
                         f"with spaces needs quotes, as in memmap '{' '.join(args.name)}'")
    return Selection(
        name=args.name[0] if args.name else None,
        kinds=parse_kinds(args.kind) if args.kind is not None else None,
        perms=args.perms,
        min_size_kb=parse_size(args.min_size) >> 10 if args.min_size is not None else None,
        min_rss_kb=parse_size(args.min_rss) >> 10 if args.min_rss is not None else None,
        address_range=address_range,
    )


def _layout(args: argparse.Namespace) -> str:
    for flag, layout in (("json", "json"), ("extended", "pmap-x"), ("device", "pmap-d"),
                         ("every_field", "every-field")):
        if getattr(args, flag):
            return layout
    return "table"


class MemmapCommand(Command):
    parser = parser

    def run(self, args: argparse.Namespace, from_tty: bool) -> None:
        selection = _selection(args)
        target = current()
        layout = _layout(args)
        options = MapOptions(selection, args.sort, args.top, layout, args.group, not args.kb)
        text = map_report(target.snapshot(), options, text_style(from_tty, args.format),
                          target.cmdline)
        if layout != "json":  # said first, and never inside JSON
            for line in (target.which, target.note()):
                if line:
                    text = f"memmap: {line}\n" + text
        write(text)

    def complete_positional(self, before: int, token: str, word: str):
        return trim_to_word(complete_names(token), token, word)
