"""Walking memory in pieces over any byte reader, streaming: memory use stays flat.

A reader is `read(address, size) -> bytes`: it returns at least one byte (fewer than asked when
an unreadable page follows), raises Unreadable when the first page cannot be read, and raises
the target's own error when the process is gone. The reading itself is the caller's (target/).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import NamedTuple

from gdbmem.model import Hole

CHUNK = 4 << 20  # big reads for speed; a few in flight keep memory flat


class Unreadable(Exception):
    """The page at this address cannot be read (vvar, a file mapping past EOF, ...)."""


class Piece(NamedTuple):
    """Consecutive bytes of a span: data read at `address`, or a hole (data None)."""

    address: int
    data: bytes | None
    hole: Hole | None

    @property
    def end(self) -> int:
        return self.hole.end if self.hole is not None else self.address + len(self.data or b"")


Reader = Callable[[int, int], bytes]


def walk(read: Reader, start: int, end: int, skip: Sequence[Hole] = (), page: int = 4096,
         chunk: int = CHUNK) -> Iterator[Piece]:
    """[start, end) as pieces in address order. `skip` holds ranges not to read (sorted, within
    the span); an unreadable page becomes a hole and the walk goes on after it."""
    address = start
    for hole in [*skip, Hole(end, end, "")]:
        while address < hole.start:
            yield from _read_run(read, address, hole.start, page, chunk)
            address = hole.start
        if hole.end > hole.start:
            yield Piece(hole.start, None, hole)
            address = hole.end


def _read_run(read: Reader, start: int, end: int, page: int, chunk: int) -> Iterator[Piece]:
    """Reads in large chunks; consecutive unreadable pages merge into one hole."""
    hole_start = hole_end = 0
    for address, data, size in _reads(read, start, end, page, chunk):
        if data is None:
            if hole_end != address:
                hole_start = address
            hole_end = address + size
            continue
        if hole_end > hole_start:
            yield Piece(hole_start, None, Hole(hole_start, hole_end, "unreadable"))
            hole_start = hole_end = 0
        yield Piece(address, data, None)
    if hole_end > hole_start:
        yield Piece(hole_start, None, Hole(hole_start, hole_end, "unreadable"))


def _reads(read: Reader, start: int, end: int, page: int,
           chunk: int) -> Iterator[tuple[int, bytes | None, int]]:
    """(address, data or None when unreadable, size) in address order."""
    address = start
    while address < end:
        stop = min(address + chunk, end)
        try:
            data = read(address, stop - address)
        except Unreadable:
            # Some readers (gdb's) fail a whole read for one bad page: go page by page
            # through this chunk, so that only the bad pages become holes.
            while address < stop:
                size = min(page - address % page, stop - address)
                try:
                    data = read(address, size)
                except Unreadable:
                    yield address, None, size
                    address += size
                    continue
                yield address, data, len(data)
                address += len(data)
            continue
        yield address, data, len(data)
        address += len(data)
