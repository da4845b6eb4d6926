"""/proc/PID/pagemap: one 64-bit entry per virtual page.

See the kernel's Documentation/admin-guide/mm/pagemap.rst.

Bit 63 present, 62 swapped, 61 file-page or shared-anon, 56 exclusively mapped, 55 soft-dirty;
bits 0-54 the page frame number when present (zero without CAP_SYS_ADMIN), or bits 0-4 the swap
type and 5-54 the swap offset when swapped.
"""

from __future__ import annotations

import struct
from typing import NamedTuple

from gdbmem.errors import ParseError

ENTRY_SIZE = 8
_PFN_MASK = (1 << 55) - 1


class PageState(NamedTuple):
    present: bool
    swapped: bool
    file_or_shared: bool
    exclusive: bool
    soft_dirty: bool
    pfn: int | None  # None when not present, or hidden from us (reads as 0)
    swap_type: int | None
    swap_offset: int | None

    @property
    def state(self) -> str:
        """'resident', 'swapped' or 'not present': what a user asks of a page."""
        if self.present:
            return "resident"
        return "swapped" if self.swapped else "not present"

    def to_dict(self) -> dict:
        out = self._asdict()
        out["state"] = self.state
        return out


def decode_pagemap_entry(entry: int) -> PageState:
    present = bool(entry >> 63 & 1)
    swapped = bool(entry >> 62 & 1)
    low = entry & _PFN_MASK
    return PageState(
        present=present,
        swapped=swapped,
        file_or_shared=bool(entry >> 61 & 1),
        exclusive=bool(entry >> 56 & 1),
        soft_dirty=bool(entry >> 55 & 1),
        pfn=(low or None) if present else None,
        swap_type=(low & 0x1F) if swapped else None,
        swap_offset=(low >> 5) if swapped else None,
    )


def parse_pagemap(data: bytes) -> list[PageState]:
    """Consecutive entries, as read from the file at offset (address // page size) * 8."""
    if len(data) % ENTRY_SIZE:
        raise ParseError(f"pagemap data of {len(data)} bytes is not a whole number of entries")
    count = len(data) // ENTRY_SIZE
    return [decode_pagemap_entry(e) for e in struct.unpack(f"={count}Q", data)]


# The top byte of each little-endian entry: bit 7 is "present".
_PRESENT = bytes(1 if b & 0x80 else 0 for b in range(256))


def absent_runs(data: bytes, first_page: int) -> list[tuple[int, int]]:
    """[first, last) page numbers of each run of pages not present, from consecutive pagemap
    entries starting at page `first_page`. C-level bytes operations only: 16 million entries
    (a 64 GiB reservation) take a fraction of a second."""
    if len(data) % ENTRY_SIZE:
        raise ParseError(f"pagemap data of {len(data)} bytes is not a whole number of entries")
    present = data[7::8].translate(_PRESENT)
    runs = []
    position, count = 0, len(present)
    while position < count:
        i = present.find(b"\x00", position)
        if i < 0:
            break
        j = present.find(b"\x01", i)
        if j < 0:
            j = count
        runs.append((first_page + i, first_page + j))
        position = j
    return runs
