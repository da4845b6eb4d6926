"""memstrings TARGET: the strings in memory, like `strings -a -n 10`, with their addresses."""

from __future__ import annotations

import argparse
import itertools
import re

import gdb  # type: ignore[import-not-found]

from gdbmem.commands.base import ArgumentParser, Command, trim_to_word, write
from gdbmem.commands.regionspec import (
    TARGET_HELP,
    add_target_arguments,
    complete_names,
    resolve,
)
from gdbmem.commands.settings import text_style
from gdbmem.errors import UsageError
from gdbmem.options import count
from gdbmem.render.dump import strings_report
from gdbmem.render.table import PLAIN
from gdbmem.safefile import SafeFile, check_new
from gdbmem.scan.strings import ENCODINGS, find_strings
from gdbmem.scan.walk import walk
from gdbmem.target import current

parser = ArgumentParser(
    "memstrings",
    "Print the strings in a region or range of memory, with their addresses.",
    usage="memstrings [-h] [-n MIN] [-e ENCODING] [--grep REGEX] [--limit N] [-o FILE] "
          "[--force] [--all-pages] [--kind K[,K]] [--first] [--json] TARGET",
    epilog=f"""\
{TARGET_HELP}

It finds what `strings -a -n MIN` (GNU binutils) finds in the same bytes and prints one
line per string: its address, a space, the string. Pages that are not resident are skipped
(a 64 GiB reservation with 1 MiB touched scans at once); --all-pages reads every page.

Examples:
  memstrings [heap]                      what the heap holds
  memstrings [heap] --grep 'password|token'
  memstrings --kind anon,arena -n 20 --limit 100
  memstrings ptr -e all                  ASCII and UTF-16LE strings
  memstrings [stack] -o stack.txt        the same lines to a file (mode 0600)""")
add_target_arguments(parser, "what to scan (see below)")
parser.add_argument("-n", dest="minimum", type=int, default=10, metavar="MIN",
                    help="the shortest string to report (default 10)")
parser.add_argument("-e", dest="encoding", choices=ENCODINGS, default="ascii",
                    metavar="ENCODING", help="ascii (default), utf16le (like strings -e l), all")
parser.add_argument("--grep", metavar="REGEX", help="only strings that match REGEX")
parser.add_argument("--limit", type=count("strings"), metavar="N", help="stop after N strings")
parser.add_argument("-o", dest="output", metavar="FILE", help="write the lines to FILE")
parser.add_argument("--force", action="store_true", help="replace FILE if it exists")
parser.add_argument("--all-pages", action="store_true",
                    help="read every page, resident or not")
parser.add_argument("--json", action="store_true",
                    help="print a JSON array of {address, string, encoding}")


_LONGEST_MINIMUM = 1 << 20


class MemstringsCommand(Command):
    parser = parser
    words = gdb.COMPLETE_EXPRESSION

    def complete_positional(self, before: int, token: str, word: str):
        if before == 0 and token and not token[0].isdigit() and token[0] not in "$&*(":
            return trim_to_word(complete_names(token), token, word) or self.words
        return self.words

    def run(self, args: argparse.Namespace, from_tty: bool) -> None:
        if not 1 <= args.minimum <= _LONGEST_MINIMUM:
            raise UsageError(f"-n takes a length from 1 to {_LONGEST_MINIMUM}")
        try:
            wanted = re.compile(args.grep) if args.grep is not None else None
        except re.error as exc:
            raise UsageError(f"bad regular expression {args.grep!r}: {exc}") from None
        target = current()
        resolved = resolve(args, target.regions())
        if resolved.rest:
            raise UsageError(f"too many arguments: {' '.join(resolved.rest)}")
        if args.output is not None:
            check_new([args.output], args.force)
        if resolved.note:
            self.note(resolved.note)
        with target.memory_reader() as reader:
            found = (f for span in resolved.spans
                     for f in find_strings(walk(reader.read, span.start, span.end,
                                                target.skipped(span, not args.all_pages)),
                                           args.minimum, args.encoding))
            if wanted is not None:
                found = (f for f in found if wanted.search(f.text))
            strings = list(itertools.islice(found, args.limit))
        text = strings_report(strings, args.json,
                              text_style(from_tty) if args.output is None else PLAIN)
        if args.output is None:
            write(text)
            return
        with SafeFile(args.output, args.force) as out:
            out.write(text.encode("utf-8", "surrogateescape"))
        count = len(strings)
        write(f"memstrings: {count} string{'' if count == 1 else 's'} -> {args.output}\n")
