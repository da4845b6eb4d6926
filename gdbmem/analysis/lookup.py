"""Which region holds an address, and which lie around it. Regions are sorted by start."""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

from gdbmem.model import Region


def _index_at_or_below(regions: Sequence[Region], address: int) -> int:
    lo, hi = 0, len(regions)
    while lo < hi:  # bisect on .start without building a list of starts
        mid = (lo + hi) // 2
        if regions[mid].start <= address:
            lo = mid + 1
        else:
            hi = mid
    return lo - 1


def find_region(regions: Sequence[Region], address: int) -> Region | None:
    i = _index_at_or_below(regions, address)
    if i >= 0 and regions[i].contains(address):
        return regions[i]
    return None


class Neighbours(NamedTuple):
    below: Region | None  # the nearest region ending at or below the address
    above: Region | None  # the nearest region starting above it


def neighbours(regions: Sequence[Region], address: int) -> Neighbours:
    i = _index_at_or_below(regions, address)
    below = regions[i] if i >= 0 else None
    above = regions[i + 1] if i + 1 < len(regions) else None
    return Neighbours(below, above)


class AddressInfo(NamedTuple):
    """Where an address is: its region and offsets, or the regions around it."""

    address: int
    region: Region | None
    offset: int | None        # into the region
    file_offset: int | None   # into the mapped file, for file-backed regions
    below: Region | None      # when unmapped: the nearest region below...
    above: Region | None      # ...and above

    @property
    def mapped(self) -> bool:
        return self.region is not None


def describe_address(regions: Sequence[Region], address: int) -> AddressInfo:
    region = find_region(regions, address)
    if region is None:
        below, above = neighbours(regions, address)
        return AddressInfo(address, None, None, None, below, above)
    offset = address - region.start
    file_offset = (region.offset + offset if region.file_path and region.offset is not None
                   else None)
    return AddressInfo(address, region, offset, file_offset, None, None)
