"""memdump TARGET [FILE]: a region or range to disk, with a JSON description beside it."""

from __future__ import annotations

import argparse
import os
import time

import gdb  # type: ignore[import-not-found]

from gdbmem.analysis.spans import Span, between
from gdbmem.commands.base import ArgumentParser, Command, trim_to_word, write
from gdbmem.commands.regionspec import (
    TARGET_HELP,
    add_target_arguments,
    complete_names,
    resolve,
)
from gdbmem.commands.settings import text_style
from gdbmem.errors import UsageError
from gdbmem.render import jsonout
from gdbmem.render.dump import dump_description, dump_line
from gdbmem.safefile import LARGEST_FILE, SafeFile, check_new, publish
from gdbmem.scan.dump import dump
from gdbmem.scan.walk import walk
from gdbmem.target import current
from gdbmem.units import format_bytes

parser = ArgumentParser(
    "memdump",
    "Write a region or range of memory to a file, safely, with a JSON description beside it.",
    usage="memdump [-h] [--kind K[,K]] [--first] [--resident-only] [--force] [--json] "
          "TARGET [FILE]",
    epilog=f"""\
{TARGET_HELP}

FILE defaults to memdump-PID-START-END.bin in the current directory (one file per region
when several match). Beside it, FILE.json holds the pid, executable, bounds, perms, path,
kind, the holes (pages that could not be read, or were skipped, and why) and the sha256
of the file. Unreadable pages ([vvar], a file mapping past its end, ...) are written as
zeros and listed as holes. Files are created with mode 0600, never through a symlink, never
over an existing file without --force, and appear only when complete.

Examples:
  memdump [heap]                     the heap, to memdump-PID-START-END.bin
  memdump ptr heap.bin               the region that holds ptr
  memdump --kind thread-stack        every thread's stack, one file each
  memdump $sp-0x1000 +0x2000 s.bin   a range
  memdump 0x7f0000000000 0x7f0000100000 --resident-only   skip pages not in RAM (sparse)""")
add_target_arguments(parser, "what to dump (see below), then FILE")
parser.add_argument("--resident-only", action="store_true",
                    help="skip pages that are not resident (pagemap): a sparse file")
parser.add_argument("--force", action="store_true", help="replace FILE if it exists")
parser.add_argument("--json", action="store_true",
                    help="print the JSON descriptions instead of a line per file")


def _default_name(pid: int, span: Span) -> str:
    return f"memdump-{pid}-{span.start:x}-{span.end:x}.bin"


class _Progress:
    """A `\\r`-rewritten line at an interactive gdb; nothing in batch mode or when captured."""

    def __init__(self, enabled: bool, total: int):
        self.enabled, self.total, self.shown = enabled, total, 0.0

    def __call__(self, done: int) -> None:
        now = time.monotonic()
        if self.enabled and now - self.shown > 0.25:
            self.shown = now
            write(f"\rmemdump: {format_bytes(done)} of {format_bytes(self.total)}")
            gdb.flush()

    def clear(self) -> None:
        if self.enabled and self.shown:
            write("\r" + " " * 40 + "\r")


class MemdumpCommand(Command):
    parser = parser

    def complete_positional(self, before: int, token: str, word: str):
        """TARGET's name first (an address, a range: gdb's expressions), then FILE."""
        if before == 0 and token and not token[0].isdigit() and token[0] not in "$&*(":
            return (trim_to_word(complete_names(token), token, word)
                    or gdb.COMPLETE_EXPRESSION)
        return gdb.COMPLETE_FILENAME if before else gdb.COMPLETE_EXPRESSION

    def run(self, args: argparse.Namespace, from_tty: bool) -> None:
        target = current()
        resolved = resolve(args, target.regions(), file_follows=True)
        if len(resolved.rest) > 1:
            raise UsageError(f"too many arguments: {' '.join(resolved.rest[1:])}")
        if resolved.rest and len(resolved.spans) > 1:
            raise UsageError(f"{len(resolved.spans)} regions match: give no FILE (one file "
                             "each, named by address) or use --first")
        for span in resolved.spans:
            if span.size > LARGEST_FILE:
                raise UsageError(f"the range {span.start:#x}-{span.end:#x} is "
                                 f"{format_bytes(span.size)}, more than a file can hold (a "
                                 "range is START END, or START +LEN)")
        paths = resolved.rest or [_default_name(target.pid, s) for s in resolved.spans]
        check_new([p for path in paths for p in (path, path + ".json")], args.force)
        if resolved.note:
            self.note(resolved.note)
        interactive = bool(from_tty) and os.isatty(1)
        reports = []
        with target.memory_reader() as reader:
            for span, path in zip(resolved.spans, paths):
                skip = target.skipped(span, args.resident_only)
                progress = _Progress(interactive, span.size)
                data = SafeFile(path, args.force, self.note, publish_now=False)
                meta = SafeFile(path + ".json", args.force, self.note, publish_now=False)
                try:
                    with data as out:
                        for start, end in between(skip, span.start, span.end):
                            out.reserve(start - span.start, end - start)
                        result = dump(walk(reader.read, span.start, span.end, skip),
                                      out.write, out.skip, progress,
                                      hash_holes=not args.resident_only)
                    info = dump_description(target.pid, target.exe(), span, path, result,
                                            args.resident_only)
                    with meta as out:
                        out.write(jsonout.dumps(info).encode())
                    publish([data, meta])  # both appear, or neither
                finally:
                    progress.clear()
                    data.discard()
                    meta.discard()
                reports.append(info)
                if not args.json:
                    write(dump_line(span, path, result))
        if args.json:
            write(jsonout.report(reports, text_style(from_tty)))
