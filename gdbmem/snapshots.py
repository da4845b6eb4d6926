"""Snapshots as they are taken and stored: a record of raw /proc text, parsed when needed.

Taking a snapshot at a breakpoint must cost little (a breakpoint that snapshots at each of
2,000 hits may take at most twice as long as one that only continues), so a record holds the
raw bytes of smaps, each thread's stack pointer, the time and the pc it stopped at; parsing,
classifying and naming the location wait until a snapshot is looked at. The process totals
are the sums over the regions: smaps_rollup would walk every resident page a second time.
Records are JSON lines: a session's journal (session.py) is appended and flushed as
snapshots are taken, `memsnap save` writes the same lines, and the `gdbmem` command outside
gdb reads them.

Between two hits most regions do not change, so a session keeps each snapshot's smaps as
blocks, one per region, and a block equal to one of the snapshot before is that same bytes
object: in memory and in the journal a snapshot costs the regions that changed. (100,000
mappings of which one changes: ~0.1 MB a snapshot instead of 70 MB.)
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Iterable, Sequence
from json.encoder import encode_basestring_ascii  # type: ignore[attr-defined]
from typing import Any, NamedTuple, Union

from gdbmem.errors import ParseError
from gdbmem.kinds import ThreadStackPointer, classify
from gdbmem.model import Region, Snapshot
from gdbmem.proc import parse_smaps, parse_smaps_rollup
from gdbmem.trace.events import FRAMES_FORMAT, TRACE_FORMAT, TraceLog

FORMAT = "gdbmem-snapshot-1"

# Where a region's block of smaps starts: a line that starts with a hex digit (its maps
# line; field lines start with a capital letter).
_BLOCK_START = re.compile(rb"(?<=\n)(?=[0-9a-f])")


def split_blocks(smaps: bytes) -> list[bytes]:
    """smaps as one block per region (its maps line and field lines); joined, the same bytes."""
    return _BLOCK_START.split(smaps) if smaps else []


# Each region block as parsed, by the block (the same bytes objects are shared between a
# session's records: a trend over 500 snapshots parses each region once, not 500 times).
# Bounded (~65,000 regions, some tens of MB), and emptied with the session (clear_parsed).
_PARSED: dict[bytes, Region] = {}
_PARSED_LIMIT = 1 << 16


def clear_parsed() -> None:
    _PARSED.clear()


def _regions_of(blocks: Sequence[bytes]) -> list[Region]:
    """The regions of a smaps kept as blocks: a copy of each block's region, parsed once."""
    missing = list(dict.fromkeys(b for b in blocks if b not in _PARSED))
    if missing:
        parsed = parse_smaps(b"".join(missing))
        if len(parsed) != len(missing):  # blocks that are not one region each
            return parse_smaps(b"".join(blocks))
        if len(_PARSED) + len(missing) > _PARSED_LIMIT:
            _PARSED.clear()
        _PARSED.update(zip(missing, parsed))
    return [_PARSED[b].copy() for b in blocks]


class Delta(NamedTuple):
    """How a snapshot's blocks are made of the previous snapshot's: a run [start, count] of
    its blocks, or the length of a new block that follows in `literals`."""

    ops: list[Union[list[int], int]]
    literals: list[bytes]


SAME = "same"  # a journal record whose smaps is the previous one's, byte for byte
KEYFRAME = 8  # in a session, one record in 8 keeps its whole list of blocks
Change = Union[Delta, str, None]  # None: the whole smaps


class Record:
    """One snapshot as taken: raw smaps bytes (or blocks, in a session) plus what gdb knew
    at that moment."""

    __slots__ = ("_after", "_smaps", "_snapshot", "blocks", "exe", "label", "location", "pc",
                 "pid", "rollup_text", "taken_at", "threads")

    def __init__(self, pid: int, taken_at: float, smaps: bytes, rollup_text: str = "",
                 threads: Iterable[ThreadStackPointer] = (), label: str = "",
                 location: str = "", exe: str = "", pc: int | None = None,
                 blocks: list[bytes] | None = None):
        self.pid = pid
        self.taken_at = taken_at
        self._smaps: bytes | None = smaps if blocks is None else None
        self.blocks = blocks
        # In a session: the record before and how this one's blocks are made of its (a
        # Delta, or SAME), for when the list of blocks itself is let go (Session.add).
        self._after: tuple[Record, Change] | None = None
        self.rollup_text = rollup_text
        self.threads = list(threads)
        self.label = label
        self.location = location
        self.exe = exe
        self.pc = pc  # where it stopped, until `location` is filled in from it (by gdb)
        self._snapshot: Snapshot | None = None

    @property
    def smaps(self) -> bytes:
        """The smaps text as read (joined again from the blocks when kept as blocks)."""
        return self._smaps if self._smaps is not None else b"".join(self.smaps_blocks())

    def keep_as(self, blocks: list[bytes]) -> None:
        """Keep the smaps as these blocks (shared with other records), not as one text."""
        self.blocks, self._smaps = blocks, None

    def smaps_blocks(self) -> list[bytes]:
        if self.blocks is not None:
            return self.blocks
        if self._after is not None:
            before, change = self._after
            base = before.smaps_blocks()
            if not isinstance(change, Delta):
                return base
            return _apply_delta(base, change.ops, change.literals)
        return split_blocks(self._smaps or b"")

    def same_smaps(self, data: bytes) -> bool:
        """Whether `data` is byte for byte this record's smaps, without joining blocks."""
        if self._smaps is not None:
            return data == self._smaps
        position = 0
        for block in self.blocks or ():
            if not data.startswith(block, position):
                return False
            position += len(block)
        return position == len(data)

    @property
    def snapshot(self) -> Snapshot:
        """The parsed, classified snapshot (parsed once, on first use)."""
        if self._snapshot is None:
            regions = (_regions_of(self.smaps_blocks()) if self._smaps is None
                       else parse_smaps(self._smaps))
            classify(regions, exe=self.exe, threads=self.threads, pid=self.pid)
            rollup = parse_smaps_rollup(self.rollup_text) if self.rollup_text else None
            self._snapshot = Snapshot(self.pid, regions, rollup, exe=self.exe,
                                      taken_at=self.taken_at)
        return self._snapshot

    def _header(self) -> dict[str, Any]:
        return {"format": FORMAT, "pid": self.pid, "taken_at": self.taken_at,
                "label": self.label, "location": self.location, "pc": self.pc, "exe": self.exe,
                "threads": [list(t) for t in self.threads], "smaps_rollup": self.rollup_text}

    def to_json(self) -> str:
        """One JSON line, smaps included as text: what `memsnap save` writes."""
        return json.dumps(dict(self._header(), smaps=self.smaps.decode("utf-8",
                                                                        "surrogateescape")),
                          separators=(",", ":"))

    def framed(self, change: Change = None) -> tuple[bytes, ...]:
        """A JSON header line, then the smaps bytes it announces: what the journal appends at
        each snapshot, in one writev. The header is the same object as _header()'s, written
        out by hand: json.dumps of a dict costs more than the write. `change` says how much
        of the smaps follows: all of it (None), none (SAME: byte for byte the previous
        record's, nothing moved between two hits), or a Delta's new blocks only."""
        text = encode_basestring_ascii  # a str as a JSON string, in C
        threads = ",".join(f"[{n},{lwp},{sp}]" for n, lwp, sp in self.threads)
        if change is SAME:
            smaps, payload = '"smaps_as_previous":true', ()
        elif isinstance(change, Delta):
            ops = ",".join(f"[{op[0]},{op[1]}]" if isinstance(op, list) else str(op)
                           for op in change.ops)
            payload = (*change.literals, b"\n")
            smaps = f'"smaps_delta":[{ops}],"smaps_bytes":{sum(map(len, change.literals))}'
        else:
            data = self.smaps
            smaps, payload = f'"smaps_bytes":{len(data)}', (data, b"\n")
        head = (f'{{"format":"{FORMAT}","pid":{self.pid},"taken_at":{self.taken_at!r},'
                f'"label":{text(self.label)},"location":{text(self.location)},'
                f'"pc":{"null" if self.pc is None else self.pc},"exe":{text(self.exe)},'
                f'"threads":[{threads}],"smaps_rollup":{text(self.rollup_text)},{smaps}}}\n')
        return (head.encode("ascii"), *payload)

    def to_framed(self, change: Change = None) -> bytes:
        return b"".join(self.framed(change))

    @classmethod
    def from_header(cls, obj: Any, smaps: bytes, blocks: list[bytes] | None = None) -> Record:
        if not isinstance(obj, dict) or obj.get("format") != FORMAT:
            raise ValueError(f"not a {FORMAT} record")
        pc = obj.get("pc")
        return cls(_whole(obj["pid"], "pid"), _finite(obj["taken_at"], "taken_at"), smaps,
                   _text(obj.get("smaps_rollup", ""), "smaps_rollup"),
                   [ThreadStackPointer(_whole(n, "a thread's number"),
                                       _whole(lwp, "a thread's LWP"),
                                       _whole(sp, "a stack pointer"))
                    for n, lwp, sp in obj.get("threads", [])],
                   _text(obj.get("label", ""), "label"), _text(obj.get("location", ""), "location"),
                   _text(obj.get("exe", ""), "exe"),
                   _whole(pc, "pc") if pc is not None else None, blocks)


def _whole(value: Any, what: str) -> int:
    """A whole number from 0 to 2**64 - 1 (pids, addresses): never a float, bool or string."""
    if type(value) is not int or not 0 <= value < 1 << 64:
        raise ValueError(f"{what} is not a whole number from 0 to 2**64-1: {str(value)[:40]}")
    return value


def _finite(value: Any, what: str) -> float:
    if type(value) not in (int, float) or not math.isfinite(value):
        raise ValueError(f"{what} is not a finite number: {str(value)[:40]}")
    return float(value)


def _text(value: Any, what: str) -> str:
    if not isinstance(value, str):
        raise ValueError(f"{what} is not a string")
    return value


def read_records(data: bytes, name: str = "",
                 torn: Callable[[str], None] | None = None,
                 trace: TraceLog | None = None) -> list[Record]:
    """Records from a saved file (JSON lines) or a journal (framed); ParseError names the
    first bad line. A last record the file ends inside of (gdb killed while writing it) is
    dropped, and torn(message) says so; without `torn` it is an error like any other.
    memtrace's records go to `trace` (passed over without one)."""
    records = []
    position, number = 0, 0
    where = f"{name}: " if name else ""
    while position < len(data):
        end = data.find(b"\n", position)
        at_end = end < 0
        end = len(data) if at_end else end
        line = data[position:end]
        number += 1
        position = end + 1
        if not line.strip():
            continue
        cut = at_end  # the file ends inside this line
        try:
            obj = json.loads(line)
            if isinstance(obj, dict) and obj.get("format") in (TRACE_FORMAT, FRAMES_FORMAT):
                if trace is not None:  # memtrace's, in the same journal
                    trace.take(obj)
                continue
            blocks = None
            if isinstance(obj, dict) and obj.get("smaps_as_previous") is True:
                if not records:
                    raise ValueError("its smaps is the previous record's, and there is none")
                smaps, blocks = records[-1]._smaps or b"", records[-1].blocks
            elif isinstance(obj, dict) and "smaps_bytes" in obj:
                size = _whole(obj["smaps_bytes"], "smaps_bytes")
                smaps = data[position:position + size]
                if len(smaps) != size or data[position + size:position + size + 1] != b"\n":
                    cut = position + size >= len(data)
                    raise ValueError("its smaps is cut short")
                number += smaps.count(b"\n") + 1
                position += size + 1
                if "smaps_delta" in obj:
                    if not records:
                        raise ValueError("its smaps is made of the previous record's, and "
                                         "there is none")
                    blocks = _apply_delta(records[-1].smaps_blocks(), obj["smaps_delta"], smaps)
            else:
                smaps = str(obj["smaps"]).encode("utf-8", "surrogateescape")
            records.append(Record.from_header(obj, smaps, blocks))
        except (ValueError, KeyError, TypeError, AttributeError, RecursionError) as exc:
            if cut and torn is not None:
                torn(f"{where}the last record is cut short (gdb was killed while writing it?): "
                     f"dropped; {len(records)} complete snapshot"
                     f"{'s' if len(records) != 1 else ''} read")
                return records
            raise ParseError(f"{where}not a snapshot record ({exc})", number) from None
    return records


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
            m = _BLOCK_START.search(data, position + 1)
            end = m.start() if m is not None else size
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


def _apply_delta(base: Sequence[bytes], ops: Any, literals: bytes | list[bytes]
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
