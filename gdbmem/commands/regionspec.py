"""The TARGET that memdump and memstrings share: which memory a user means.

    memdump $sp            an address expression: the whole region that holds it
    memdump [heap]         a region name ([...] or /REGEX/ always is; a word that is no
    memdump libc           expression is a substring of names); all regions that match,
    memdump --kind arena   or the first with --first; or regions by kind
    memdump 0x1000 0x2000  an explicit range START END, or START +LEN
"""

from __future__ import annotations

import argparse
import os
import re
from typing import NamedTuple

from gdbmem.analysis.lookup import find_region
from gdbmem.analysis.select import Selection, parse_kinds, select
from gdbmem.analysis.spans import Span, range_span, region_span
from gdbmem.errors import TargetError, UsageError
from gdbmem.model import DELETED_SUFFIX, Region
from gdbmem.target.symbols import evaluate_address
from gdbmem.units import parse_size

TARGET_HELP = """\
TARGET is an address expression (the whole region that holds it), a region name ([heap],
[stack], libc, /REGEX/: every region that matches, or --first), --kind K[,K], or a range
START END or START +LEN (LEN a size like 16M, or an expression). A word that gdb cannot
evaluate is taken as a name."""


def add_target_arguments(parser: argparse.ArgumentParser, words_help: str) -> None:
    parser.add_argument("words", nargs="*", metavar="TARGET", help=words_help)
    parser.add_argument("--kind", metavar="K[,K]", help="the regions of these kinds")
    parser.add_argument("--first", action="store_true",
                        help="only the first region when several match")


class Resolved(NamedTuple):
    spans: list[Span]
    rest: list[str]      # the words after the TARGET (memdump's FILE)
    note: str | None     # said to the user when a name matched several regions


def _length(text: str) -> int:
    """+LEN: a size with a unit (16M, 4k, 4096) or else a gdb expression (0x2000, sizeof x)."""
    try:
        return parse_size(text)
    except UsageError:
        return evaluate_address(text)


def _try_address(word: str) -> int | None:
    try:
        return evaluate_address(word)
    except TargetError:
        return None


# The kernel's names for kinds; a core keeps none of them, but knows the kinds.
_KIND_NAMES = {"[heap]": "heap", "[stack]": "stack", "[vdso]": "vdso", "[vvar]": "vvar",
               "[vsyscall]": "vsyscall"}


def _by_name(regions: list[Region], name: str, first: bool) -> tuple[list[Region], str | None]:
    matched = select(regions, Selection(name=name))
    if not matched and name in _KIND_NAMES:
        matched = [r for r in regions if r.kind == _KIND_NAMES[name]]
    if not matched:
        return [], None
    if len(matched) > 1 and not first:
        return matched, (f"{len(matched)} regions match {name!r}: taking them all "
                         "(--first takes the first)")
    return matched[:1], None


# A second word that is a bare name: the end of a range, or a file name? Say which.
_BARE_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def resolve(args: argparse.Namespace, regions: list[Region], file_follows: bool = False
            ) -> Resolved:
    """The spans TARGET names, and the words after it. file_follows: a FILE may come next
    (memdump), so a second word that is both a name gdb knows and a possible file name is
    read as the end of a range, and the note says so."""
    words: list[str] = list(args.words)
    if args.kind is not None:
        kinds = parse_kinds(args.kind)
        matched = select(regions, Selection(kinds=kinds))
        if not matched:
            raise UsageError(f"no region of kind {args.kind}")
        note = None
        if len(matched) > 1 and not args.first:
            note = (f"{len(matched)} regions of kind {args.kind}: taking them all "
                    "(--first takes the first)")
        return Resolved([region_span(r) for r in (matched if not args.first else matched[:1])],
                        words, note)
    if not words:
        raise UsageError("a TARGET is needed: an address, a region name, --kind K, or START END")
    if len(words) >= 2 and words[1].startswith("+"):
        start = evaluate_address(words[0])
        length = _length(words[1][1:])
        return Resolved([range_span(regions, start, start + length)], words[2:], None)
    word = words[0]
    if len(words) >= 2 and not word.startswith(("[", "/")):
        start, end = _try_address(word), _try_address(words[1])
        if start is not None and end is not None:
            note = None
            if file_follows and _BARE_NAME.fullmatch(words[1]):
                note = (f"read {words[1]!r} as the end of a range ({end:#x}); for a file of "
                        f"that name write ./{words[1]}, or give START +LEN")
            return Resolved([range_span(regions, start, end)], words[2:], note)
    if not word.startswith(("[", "/")):
        address = _try_address(word)
        if address is not None:
            region = find_region(regions, address)
            if region is None:
                raise TargetError(f"{address:#x} is not mapped")
            return Resolved([region_span(region)], words[1:], None)
    matched, note = _by_name(regions, word, args.first)
    if not matched:
        raise UsageError(f"nothing matches {word!r}: no region has that name, and gdb "
                         "cannot evaluate it as an address")
    return Resolved([region_span(r) for r in matched], words[1:], note)


def complete_names(token: str) -> list[str]:
    """Region names that complete `token` (a TARGET's name), for tab completion: the kernel's
    bracketed names after `[`, whole paths after `/`, else base names and bracketed names
    without brackets (a NAME matches as a substring). Never an error."""
    from gdbmem.commands.base import complete_choices
    from gdbmem.target import current

    try:
        names = current().map_names()
    except (TargetError, UsageError):
        return []
    paths = {n.removesuffix(DELETED_SUFFIX) for n in names}
    if token.startswith("["):
        choices = {n for n in paths if n.startswith("[")}
    elif token.startswith("/"):
        choices = {n for n in paths if n.startswith("/")}
    else:
        choices = {os.path.basename(n) if n.startswith("/") else n.strip("[]") for n in paths}
    return complete_choices(token, sorted(choices))
