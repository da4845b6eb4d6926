"""A snapshot as taken: a record of raw /proc text, parsed when needed.

Taking a snapshot at a breakpoint must cost little (a breakpoint that snapshots at each of
2,000 hits may take at most twice as long as one that only continues), so a record holds the
raw bytes of smaps, each thread's stack pointer, the time and the pc it stopped at; parsing,
classifying and naming the location wait until a snapshot is looked at. The process totals
are the sums over the regions: smaps_rollup would walk every resident page a second time.
In a session, a record keeps its smaps as blocks shared with the record before (delta.py);
codec.py writes and reads records, in journals and saved files alike.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence

from gdbmem.caches import COMMAND_DONE, SNAPSHOTS_CLEARED, Cache
from gdbmem.errors import ParseError
from gdbmem.kinds import ThreadStackPointer, classify
from gdbmem.model import Region, Snapshot
from gdbmem.proc import parse_smaps, parse_smaps_rollup
from gdbmem.store.delta import SAME, Change, Delta, apply_delta, delta_of, split_blocks

# Each region block as parsed, by the block (the same bytes objects are shared between a
# session's records: a trend over 500 snapshots parses each region once, not 500 times).
# Bounded (~65,000 regions, some tens of MB), and kept for one command only: what a report
# parsed is given back when it is written (10 snapshots of 60,000 regions took 217 MB).
PARSED: Cache[bytes, Region] = Cache(
    "parsed regions", 1 << 16, {SNAPSHOTS_CLEARED, COMMAND_DONE},
    "a region's parse is the block's own, never stale; kept while one command runs")


def _regions_of(blocks: Sequence[bytes]) -> list[Region]:
    """The regions of a smaps kept as blocks: a copy of each block's region, parsed once."""
    missing = list(dict.fromkeys(b for b in blocks if b not in PARSED))
    if missing:
        parsed = parse_smaps(b"".join(missing))
        if len(parsed) != len(missing):  # blocks that are not one region each
            return parse_smaps(b"".join(blocks))
        PARSED.put_all(zip(missing, parsed))
    return [PARSED[b].copy() for b in blocks]


class Record:
    """One snapshot as taken: raw smaps bytes (or blocks, in a session) plus what gdb knew
    at that moment."""

    __slots__ = ("_after", "_smaps", "_snapshot", "blocks", "carried", "exe", "heap", "label",
                 "location", "origin", "pc", "pid", "rollup_text", "taken_at", "threads")

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
        # Where it was read from: the file, its header's line, whether the whole smaps
        # follows there (codec.py); None for a record taken here.
        self.origin: tuple[str, int, bool] | None = None
        # The figures are the last full read's: nothing changed since (carry.py).
        self.carried = False
        # malloc's census at that moment (memsnap --heap: heap/census.py's summary), or None.
        self.heap: dict | None = None

    def let_parsed_go(self) -> None:
        """Forget the parsed snapshot (parsed again when next looked at): a command's
        parsing lasts as long as the command."""
        self._snapshot = None

    def kept(self) -> tuple[bytes, list[bytes] | None]:
        """Its smaps as kept, to share with a record that is the same (codec.py)."""
        return self._smaps or b"", self.blocks

    @property
    def smaps(self) -> bytes:
        """The smaps text as read (joined again from the blocks when kept as blocks)."""
        return self._smaps if self._smaps is not None else b"".join(self.smaps_blocks())

    def follow(self, previous: Record | None,
               indexed: Callable[[list[bytes]], dict[bytes, int]], keyframe: bool) -> Change:
        """Keep this record's smaps as blocks shared with `previous` (the session's record
        before it) where they are equal, and say how it differs from that one: SAME, a Delta,
        or None (the whole smaps: there is none before). `indexed(blocks)` finds where each
        of the previous blocks is; unless `previous` is a keyframe, it then lets its list of
        blocks go (rebuilt from its own record before when looked at: never far)."""
        data = self._smaps
        # A carried snapshot made of the very blocks of the one before: the same smaps.
        carried = (previous is not None and data is None and self.blocks is not None
                   and self.blocks is previous.blocks)
        if data is None and not carried:  # loaded as blocks already
            if previous is None or self.blocks is None:
                return None
            data = self.smaps
        if previous is None:
            self.blocks, self._smaps = split_blocks(data), None
            return None
        if carried or previous.same_smaps(data):
            # Nothing changed since the last snapshot (~1 us a small process): keep one copy.
            self._smaps, self.blocks = previous._smaps, previous.blocks
            change: Change = SAME
        else:
            self.blocks, change = delta_of(data, previous.smaps_blocks(), indexed)
            self._smaps = None
        if self.blocks is not None:
            self._after = (previous, change)
            if previous._after is not None and not keyframe:
                previous.blocks = None
        return change

    def smaps_blocks(self) -> list[bytes]:
        if self.blocks is not None:
            return self.blocks
        if self._after is not None:
            before, change = self._after
            base = before.smaps_blocks()
            if not isinstance(change, Delta):
                return base
            return apply_delta(base, change.ops, change.literals)
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
            try:
                regions = (_regions_of(self.smaps_blocks()) if self._smaps is None
                           else parse_smaps(self._smaps))
            except ParseError as exc:
                raise self._placed(exc) from None
            classify(regions, exe=self.exe, threads=self.threads, pid=self.pid)
            rollup = parse_smaps_rollup(self.rollup_text) if self.rollup_text else None
            self._snapshot = Snapshot(self.pid, regions, rollup, exe=self.exe,
                                      taken_at=self.taken_at)
        return self._snapshot

    def _placed(self, exc: ParseError) -> ParseError:
        """A parse error inside this record's smaps, said where the record was read."""
        if self.origin is None:
            return exc
        name, header, whole = self.origin
        where = f"{name}: " if name else ""
        message = str(exc)
        if exc.line_number is not None:
            message = message[len(f"line {exc.line_number}: "):]
            if whole:
                return ParseError(f"{where}line {header + exc.line_number}: {message} (in "
                                  f"the snapshot recorded at line {header})")
        return ParseError(f"{where}in the snapshot recorded at line {header}: {message}")
