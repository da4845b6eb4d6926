"""Strings in walked pieces, as GNU strings finds them (`strings -a -n N`), with addresses."""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from typing import NamedTuple

from gdbmem.scan.walk import Piece

ENCODINGS = ("ascii", "utf16le", "all")

# One byte per byte of memory: 1 for GNU strings' graphic characters in its default 7-bit
# encoding (printable ASCII and tab), 2 for a zero byte, 0 for anything else. An ASCII string
# is a run of 1s; a UTF-16LE one is a run of "1 2" pairs (a graphic byte, then zero).
_CLASSES = bytes(1 if (32 <= b < 127 or b == 9) else 2 if b == 0 else 0 for b in range(256))
_ONES = re.compile(b"\x01*")


def _ones_end(classes: bytes, start: int) -> int:
    """Where the run of graphic bytes that starts at `start` ends."""
    return _ONES.match(classes, start).end()  # type: ignore[union-attr]


def _pairs_end(classes: bytes, start: int) -> int:
    """Where the run of (graphic, zero) pairs that starts at `start` ends. The regex
    (?:\x01\x02)* takes 45 ns a byte; this strips the even and the odd bytes of a window,
    in C, doubling the window while the run fills it."""
    size = 256
    while True:
        window = classes[start:start + size]
        graphic, zero = window[0::2], window[1::2]
        pairs = min(len(graphic) - len(graphic.lstrip(b"\x01")),
                    len(zero) - len(zero.lstrip(b"\x02")))
        if pairs < size // 2 or start + size >= len(classes):
            return start + 2 * pairs
        size *= 2


class Found(NamedTuple):
    address: int
    text: str
    encoding: str  # "ascii" or "utf16le"

    def to_dict(self) -> dict:
        return {"address": self.address, "string": self.text, "encoding": self.encoding}


class _Scanner:
    """One encoding, with its own carry: the bytes of a string that may go on in the next
    piece (a carry shared between encodings would scan some bytes twice). A piece that is all
    more of the carried string is only added to it, so a string as long as the region costs
    one pass, not a pass over all of it at every piece."""

    def __init__(self, minimum: int, encoding: str):
        self.encoding = encoding
        self.unit = b"\x01" if encoding == "ascii" else b"\x01\x02"
        self.needle = self.unit * minimum
        self.run_end = _ones_end if encoding == "ascii" else _pairs_end
        self.step = len(self.unit)
        self.carry: list[bytes] = []  # the pieces of the string that may go on
        self.carry_size = 0
        self.carry_address = 0

    def feed(self, address: int, data: bytes, classes: bytes) -> list[Found]:
        if self.carry_size and self.carry_address + self.carry_size == address:
            if self._continues(classes):
                self.carry.append(data)
                self.carry_size += len(data)
                return []
            carry = b"".join(self.carry)
            address = self.carry_address
            data, classes = carry + data, carry.translate(_CLASSES) + classes
        keep = self._tail(classes)
        found = self._scan(address, data, classes, keep)
        tail = data[keep:]
        self.carry, self.carry_size, self.carry_address = [tail], len(tail), address + keep
        return found

    def _continues(self, classes: bytes) -> bool:
        """Whether the carried run goes on through the whole of the next piece (`classes`):
        the piece is all graphic bytes (ASCII), or all (graphic, zero) pairs after the zero
        a graphic byte left at the carry's end was waiting for, and perhaps a graphic byte
        waiting in turn (UTF-16LE). Counted in C."""
        if self.step == 1:  # most pieces fail at their first or last byte, before the count
            return (classes[:1] == classes[-1:] == b"\x01"
                    and classes.count(b"\x01") == len(classes))
        start = self.carry_size % 2
        if start and classes[:1] != b"\x02":
            return False
        end = len(classes) - classes.endswith(b"\x01", start)
        pairs, odd = divmod(end - start, 2)
        return not odd and (not pairs or (classes.startswith(b"\x01\x02", start)
                                          and classes.endswith(b"\x01\x02", start, end)
                                          and classes.count(b"\x01\x02", start, end) == pairs))

    def end(self) -> list[Found]:
        data = b"".join(self.carry)
        self.carry, self.carry_size = [], 0
        return self._scan(self.carry_address, data, data.translate(_CLASSES), len(data))

    def _tail(self, classes: bytes) -> int:
        """Where the run that may go on past the end of `classes` starts."""
        if self.step == 1:
            return len(classes.rstrip(b"\x01"))
        end = len(classes) - classes.endswith(b"\x01")  # a graphic byte waiting for its zero
        block = self.unit * 64
        while classes.endswith(block, 0, end):
            end -= len(block)
        while classes.endswith(self.unit, 0, end):
            end -= 2
        return end

    def _scan(self, address: int, data: bytes, classes: bytes, limit: int) -> list[Found]:
        """The strings that start before `limit` (the tail after it waits for more bytes)."""
        found = []
        find, run_end, needle, step = classes.find, self.run_end, self.needle, self.step
        position = 0
        while True:
            i = find(needle, position, limit)
            if i < 0:
                return found
            j = run_end(classes, i)
            found.append(Found(address + i, data[i:j:step].decode("ascii"), self.encoding))
            position = j


class StringFinder:
    """Finds the strings `strings -a -n MIN` (GNU binutils) finds, fed memory in pieces.

    Each piece is turned into byte classes with one bytes.translate, and runs are found with
    bytes.find: C speed, no per-byte Python. A string that runs to the end of a piece is
    carried into the next one when that one starts where this one ended, so a string that
    crosses a chunk boundary is found once; a hole ends it, as zeros would.
    UTF-16LE (`strings -e l`) is found at either byte alignment. Inside such a string every
    other byte is zero, which starts no string, so like GNU strings' byte-by-byte restart
    we never report overlapping strings.
    """

    def __init__(self, minimum: int = 10, encoding: str = "ascii"):
        if encoding not in ENCODINGS:
            raise ValueError(f"unknown encoding {encoding!r}")
        self.scanners = [_Scanner(minimum, e) for e in ("ascii", "utf16le")
                         if encoding in (e, "all")]

    def feed(self, address: int, data: bytes) -> list[Found]:
        classes = data.translate(_CLASSES)
        return self._merged([s.feed(address, data, classes) for s in self.scanners])

    def end(self) -> list[Found]:
        """Strings left running at the end of the last piece (or before a hole)."""
        return self._merged([s.end() for s in self.scanners])

    @staticmethod
    def _merged(lists: list[list[Found]]) -> list[Found]:
        if len(lists) == 1:
            return lists[0]
        return sorted((f for found in lists for f in found), key=lambda f: f.address)


def find_strings(pieces: Iterable[Piece], minimum: int = 10,
                 encoding: str = "ascii") -> Iterator[Found]:
    """Every string in the pieces, in address order within each piece."""
    finder = StringFinder(minimum, encoding)
    for piece in pieces:
        if piece.data is None:
            yield from finder.end()
            continue
        yield from finder.feed(piece.address, piece.data)
    yield from finder.end()
