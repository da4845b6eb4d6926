"""memdump's and memstrings' reports: a dump's JSON description (FILE.json) and its line,
and the strings found, as lines or JSON."""

from __future__ import annotations

import os
import time
from collections.abc import Sequence

from gdbmem.analysis.spans import Span
from gdbmem.render import jsonout
from gdbmem.render.table import PLAIN, TextStyle
from gdbmem.scan.dump import DumpResult
from gdbmem.scan.strings import Found
from gdbmem.units import format_bytes


def dump_description(pid: int, exe: str, span: Span, path: str, result: DumpResult,
                     resident_only: bool) -> dict:
    """FILE.json: what was dumped, from where, what is missing and why."""
    whole = next((r for r in span.regions if (r.start, r.end) == (span.start, span.end)), None)
    return {
        "file": os.path.abspath(path), "pid": pid, "executable": exe,
        "start": span.start, "end": span.end, "size": result.size,
        "perms": whole.perms if whole else None, "path": whole.path if whole else None,
        "kind": whole.kind if whole else None,
        "regions": [{"start": r.start, "end": r.end, "perms": r.perms, "path": r.path,
                     "kind": r.kind} for r in span.regions],
        "holes": [h.to_dict() for h in result.holes],
        "resident_only": resident_only, "sha256": result.sha256,
        # A sparse dump's digest is of its data extents: the file without its holes.
        "sha256_of": "data extents" if resident_only else "file", "created": time.time(),
    }


def dump_line(span: Span, path: str, result: DumpResult) -> str:
    holes = len(result.holes)
    return (f"memdump: {span.describe()} ({format_bytes(result.size)}) -> {path}, {holes} hole"
            f"{'s' if holes != 1 else ''}, sha256 {result.sha256[:16]}…; described in "
            f"{path}.json\n")


def strings_report(strings: Sequence[Found], as_json: bool, style: TextStyle = PLAIN) -> str:
    if as_json:
        return jsonout.report([f.to_dict() for f in strings], style)
    return "".join(f"{f.address:#x} {f.text}\n" for f in strings)
