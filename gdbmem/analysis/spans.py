"""Which bytes a dump or a string scan covers: spans of memory, and the holes in them."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import NamedTuple

from gdbmem.errors import UsageError
from gdbmem.model import Hole, Region


class Span(NamedTuple):
    """[start, end) and the regions it overlaps (one, for a whole region)."""

    start: int
    end: int
    regions: list[Region]

    @property
    def size(self) -> int:
        return self.end - self.start

    def describe(self) -> str:
        """`0x…-0x… [heap]` or `0x…-0x… (3 regions)`, for messages."""
        bounds = f"{self.start:#x}-{self.end:#x}"
        if len(self.regions) == 1:
            region = self.regions[0]
            return f"{bounds} {region.path or region.kind or 'anon'}"
        return f"{bounds} ({len(self.regions)} regions)"


def region_span(region: Region) -> Span:
    return Span(region.start, region.end, [region])


def range_span(regions: Sequence[Region], start: int, end: int) -> Span:
    """An explicit START END range; it may cross several regions and gaps."""
    if end <= start:
        raise UsageError(f"empty or inverted range {start:#x}-{end:#x}: "
                         "the end must be above the start")
    if end > 1 << 64:
        raise UsageError(f"the range {start:#x}-{end:#x} ends past the 64-bit address space")
    return Span(start, end, [r for r in regions if r.start < end and r.end > start])


def unmapped(span: Span) -> list[Hole]:
    """The parts of the span no region covers."""
    holes = []
    address = span.start
    for region in span.regions:
        if region.start > address:
            holes.append(Hole(address, min(region.start, span.end), "not mapped"))
        address = max(address, region.end)
    if address < span.end:
        holes.append(Hole(address, span.end, "not mapped"))
    return holes


def merge_holes(holes: Iterable[Hole]) -> list[Hole]:
    """Sorted, with touching holes of the same reason joined."""
    merged: list[Hole] = []
    for hole in sorted(h for h in holes if h.end > h.start):
        if merged and merged[-1].end >= hole.start and merged[-1].reason == hole.reason:
            merged[-1] = Hole(merged[-1].start, max(merged[-1].end, hole.end), hole.reason)
        else:
            merged.append(hole)
    return merged


def between(holes: Sequence[Hole], start: int, end: int) -> list[tuple[int, int]]:
    """The ranges of [start, end) outside the (sorted) holes: what a dump writes."""
    ranges, address = [], start
    for hole in holes:
        if hole.start > address:
            ranges.append((address, hole.start))
        address = max(address, hole.end)
    if address < end:
        ranges.append((address, end))
    return ranges
