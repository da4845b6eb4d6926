"""The inferior's memory as the heap walk reads it: in bulk, into numpy buffers.

`read_into(address, view)` is the target's fastest read (a pread of /proc/PID/mem into the
buffer itself, gdb's own read for a core or a remote): it fills as much of `view` as it can
and says how many bytes that was. Reading into a buffer made once runs ~4× faster than
reading into a new bytes object each time.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from gdbmem.errors import HeapError

ReadInto = Callable[[int, memoryview], int]
WINDOW = 8 << 20  # bytes per bulk read: few page faults for a small heap, few reads for a big one


class Memory:
    """Reads words and windows of the inferior's memory; one buffer, reused."""

    def __init__(self, read_into: ReadInto):
        self._read_into = read_into
        self._buffer = np.empty(WINDOW // 8, dtype=np.uint64)

    def read(self, address: int, size: int) -> bytes | None:
        """`size` bytes at `address`, or None when they cannot all be read."""
        out = bytearray(size)
        got = self._read_into(address, memoryview(out))
        return bytes(out) if got == size else None

    def words(self, address: int, count: int) -> np.ndarray:
        """`count` words at `address` (8-aligned), in a fresh array; HeapError if unreadable."""
        out = np.empty(count, dtype=np.uint64)
        if count and self._read_into(address, memoryview(out).cast("B")) != count * 8:
            raise HeapError(f"cannot read {count * 8} bytes at {address:#x}")
        return out

    def word(self, address: int) -> int:
        data = self.read(address, 8)
        if data is None:
            raise HeapError(f"cannot read the word at {address:#x}")
        return int.from_bytes(data, "little")

    def window(self, address: int, size: int) -> np.ndarray:
        """Up to WINDOW bytes at `address` as words, in the reused buffer (valid until the
        next call); shorter where memory stops being readable."""
        size = min(size, WINDOW) // 8 * 8
        view = memoryview(self._buffer).cast("B")[:size]
        got = self._read_into(address, view) if size else 0
        return self._buffer[: got // 8]

    def windows(self, start: int, end: int):
        """(address, words) over [start, end) in windows; HeapError where it stops."""
        at = start
        while at < end:
            words = self.window(at, end - at)
            if not len(words):
                raise HeapError(f"cannot read memory at {at:#x}")
            yield at, words
            at += len(words) * 8


def bytes_reader(read: Callable[[int, int], bytes | None]) -> ReadInto:
    """A read_into made from a plain read(address, size), for targets without a faster one:
    page by page where a whole read fails, so a partly readable range reads up to its hole."""

    def read_into(address: int, view: memoryview) -> int:
        size = len(view)
        data = read(address, size)
        if data is not None and len(data) == size:
            view[:] = data
            return size
        done = 0
        while done < size:
            step = min(size - done, 4096 - (address + done) % 4096)
            data = read(address + done, step)
            if data is None or len(data) != step:
                break
            view[done:done + step] = data
            done += step
        return done

    return read_into
