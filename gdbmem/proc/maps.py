"""/proc/PID/maps: one region per line, `start-end perms offset dev inode [name]`."""

from __future__ import annotations

import re

from gdbmem.errors import ParseError
from gdbmem.model import Region

# The name is whatever follows the inode after the kernel's padding; it may hold spaces,
# ' (deleted)', '[anon:NAME]' or '[stack:TID]', and is kept as the kernel wrote it.
HEADER_RE = re.compile(
    rb"([0-9a-fA-F]+)-([0-9a-fA-F]+) ([r-][w-][x-][sp]) ([0-9a-fA-F]+) "
    rb"([0-9a-fA-F]+:[0-9a-fA-F]+) ([0-9]+)(?: +(.*))?"
)


def as_bytes(data: bytes | str) -> bytes:
    return data.encode("utf-8", "surrogateescape") if isinstance(data, str) else data


def region_from_match(m: re.Match) -> Region:
    start, end, perms, offset, dev, inode, name = m.groups()
    start_i, end_i = int(start, 16), int(end, 16)
    if end_i < start_i:
        raise ValueError("end before start")
    return Region(start_i, end_i, perms.decode(), int(offset, 16), dev.decode(), int(inode),
                  name.decode("utf-8", "surrogateescape").rstrip("\r\n") if name else "")


def parse_header(line: bytes, line_number: int) -> Region:
    """One maps line (also the first line of each smaps block) into a Region."""
    m = HEADER_RE.fullmatch(line)
    if m is None:
        raise ParseError("not a mapping line", line_number, line.decode("utf-8", "replace"))
    try:
        return region_from_match(m)
    except ValueError as exc:
        raise ParseError(str(exc), line_number, line.decode("utf-8", "replace")) from None


def parse_maps(data: bytes | str) -> list[Region]:
    """Every line of a maps file; raises ParseError naming the first malformed line."""
    lines = as_bytes(data).split(b"\n")
    if lines and lines[-1] == b"":
        lines.pop()
    return [parse_header(line, number) for number, line in enumerate(lines, 1)]
