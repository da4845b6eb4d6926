"""How a session keeps snapshots that share most of their smaps: one block per region, and a
block equal to one of the snapshot before is that same bytes object; a snapshot is then a Delta
of the one before: runs of its blocks, and the blocks that are new.

Between two hits most regions do not change, so in memory and on disk (journals and saved
files alike) a snapshot costs the regions that changed. (100,000 mappings of which one changes:
~0.1 MB a snapshot instead of 70 MB.)
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple, Union

# The newline before a region's block of smaps: the next line starts with a hex digit (its
# maps line; field lines start with a capital letter). A pattern that starts with a plain
# byte is looked for as fast as memchr; a lookbehind is tried at every byte, 6 to 15 times
# slower (a 70 MB smaps took 1.2 s to split).
_BEFORE_BLOCK = re.compile(rb"\n(?=[0-9a-f])")


def split_blocks(smaps: bytes) -> list[bytes]:
    """smaps as one block per region (its maps line and field lines); joined, the same bytes."""
    if not smaps:
        return []
    starts = [0, *(m.end() for m in _BEFORE_BLOCK.finditer(smaps))]
    return list(map(smaps.__getitem__, map(slice, starts, [*starts[1:], len(smaps)])))


class Delta(NamedTuple):
    """How a snapshot's blocks are made of the previous snapshot's: a run [start, count] of
    its blocks, or the length of a new block that follows in `literals`."""

    ops: list[Union[list[int], int]]
    literals: list[bytes]




SAME = "same"  # a record whose smaps is the previous one's, byte for byte
KEYFRAME = 8  # in a session, one record in 8 keeps its whole list of blocks
Change = Union[Delta, str, None]  # None: the whole smaps


_HEX = frozenset(b"0123456789abcdef")


def delta_of(data: bytes, base: list[bytes],
           indexed: Callable[[list[bytes]], dict[bytes, int]]) -> tuple[list[bytes], Delta]:
    """`data` as blocks, each equal one being the very bytes object of `base` (the previous
    record's blocks), and the Delta that makes it of them. The previous block expected next
    is compared in place (no copy, no allocation: 100,000 unchanged regions cost a memcmp
    each); only a block that differs is cut out of `data` and looked for by value."""
    blocks: list[bytes] = []
    ops: list[list[int] | int] = []
    literals: list[bytes] = []
    position, expected, size = 0, 0, len(data)
    while position < size:
        block = base[expected] if expected < len(base) else b""
        end = position + len(block)
        if block and data.startswith(block, position) and (end == size or data[end] in _HEX):
            i: int | None = expected
        else:
            m = _BEFORE_BLOCK.search(data, position)
            end = m.end() if m is not None else size
            head = block[:block.find(b"\n") + 1]
            block = data[position:end]
            if head and block.startswith(head):  # the same region, its figures changed
                i = None
                expected += 1
            else:  # a region came or went: where is this one in the previous record?
                i = indexed(base).get(block)
                if i is not None:
                    block = base[i]
        if i is None:
            ops.append(len(block))
            literals.append(block)
        else:
            last = ops[-1] if ops else None
            if isinstance(last, list) and last[0] + last[1] == i:
                last[1] += 1
            else:
                ops.append([i, 1])
            expected = i + 1
        blocks.append(block)
        position = end
    return blocks, Delta(ops, literals)


def apply_delta(base: Sequence[bytes], ops: Any, literals: bytes | list[bytes]
                 ) -> list[bytes]:
    """The blocks a Delta's ops make of the previous record's blocks and the new blocks:
    the very objects of a session's Delta, or cut from the bytes of them all, as a journal
    holds them."""
    if not isinstance(ops, list):
        raise ValueError("smaps_delta is not a list")
    new = iter(literals) if isinstance(literals, list) else None
    blocks: list[bytes] = []
    offset = 0
    for op in ops:
        if type(op) is int and new is not None:
            blocks.append(next(new))
        elif type(op) is int and 0 < op <= len(literals) - offset:
            blocks.append(literals[offset:offset + op])  # type: ignore[arg-type]
            offset += op
        elif (isinstance(op, list) and len(op) == 2 and all(type(v) is int for v in op)
              and op[0] >= 0 and op[1] > 0 and op[0] + op[1] <= len(base)):
            blocks += base[op[0]:op[0] + op[1]]
        else:
            raise ValueError(f"a bad step in smaps_delta: {str(op)[:40]}")
    if new is None and offset != len(literals):
        raise ValueError("smaps_delta does not use all its bytes")
    return blocks
