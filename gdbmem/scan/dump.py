"""A dump of walked pieces to a file, with its sha256, and the digest of a sparse dump's data
extents checked again."""

from __future__ import annotations

import hashlib
import queue
import threading
from collections.abc import Callable, Iterable, Sequence
from typing import NamedTuple

from gdbmem.model import Hole
from gdbmem.scan.walk import CHUNK, Piece


class DumpResult(NamedTuple):
    size: int
    sha256: str
    holes: list[Hole]


_ZEROS = bytes(1 << 20)


class _Stage(threading.Thread):
    """A consumer thread (writing, hashing): both release the GIL, so both overlap reading."""

    def __init__(self, work: Callable[[bytes | int], None]):
        super().__init__(daemon=True, name="gdbmem-dump")
        self.work = work
        self.inbox: queue.Queue = queue.Queue(maxsize=3)
        self.error: BaseException | None = None
        self.start()

    def run(self) -> None:
        while True:
            item = self.inbox.get()
            if item is None:
                return
            if self.error is None:
                try:
                    self.work(item)
                except BaseException as exc:  # reported by the producer
                    self.error = exc

    def put(self, item: bytes | int | None) -> None:
        self.inbox.put(item)
        if self.error is not None:
            raise self.error

    def finish(self) -> None:
        self.inbox.put(None)
        self.join()
        if self.error is not None:
            raise self.error


def dump(pieces: Iterable[Piece], write: Callable[[bytes], object],
         skip_holes: Callable[[int], object],
         progress: Callable[[int], None] | None = None,
         hash_holes: bool = True) -> DumpResult:
    """Write the pieces' bytes; holes are zeros, left to `skip_holes(n)` (a seek, making the
    file sparse). The sha256 is of the bytes as written, zeros included (what sha256sum says);
    with hash_holes=False, of the data outside the holes only (a sparse dump of a 64 GiB
    reservation would hash 64 GiB of zeros: SHA-256 has no shortcut over them).
    Reading runs here while two threads write and hash the chunks already read."""
    hasher = hashlib.sha256()

    def hash_item(item: bytes | int) -> None:
        if isinstance(item, int):  # a hole: its zeros
            while hash_holes and item > 0:
                hasher.update(_ZEROS[: min(item, len(_ZEROS))])
                item -= len(_ZEROS)
        else:
            hasher.update(item)

    def write_item(item: bytes | int) -> None:
        if isinstance(item, int):
            skip_holes(item)
        else:
            write(item)

    writer, hashing = _Stage(write_item), _Stage(hash_item)
    size = 0
    holes: list[Hole] = []
    try:
        for piece in pieces:
            item: bytes | int
            if piece.hole is not None:
                holes.append(piece.hole)
                item = piece.hole.end - piece.hole.start
            else:
                item = piece.data or b""
            writer.put(item)
            hashing.put(item)
            size += item if isinstance(item, int) else len(item)
            if progress is not None:
                progress(size)
    finally:
        writer.finish()
        hashing.finish()
    return DumpResult(size, hasher.hexdigest(), holes)


def extents_digest(read_at: Callable[[int, int], bytes], size: int,
                   holes: Sequence[Hole], start: int) -> str:
    """The sha256 of a dump's data outside its holes (holes in memory addresses, the dump
    starting at `start`), reading the file with read_at(offset, length): what a sparse
    dump's description records, checked again."""
    hasher = hashlib.sha256()
    offset = 0
    for hole in [*holes, Hole(start + size, start + size, "")]:
        while offset < hole.start - start:
            data = read_at(offset, min(CHUNK, hole.start - start - offset))
            if not data:
                raise ValueError("the file is shorter than its description says")
            hasher.update(data)
            offset += len(data)
        offset = max(offset, hole.end - start)
    return hasher.hexdigest()
