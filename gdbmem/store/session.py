"""The snapshots of one gdb session: numbered from 1, each kept as blocks shared with the one
before (record.py, delta.py say how), and journalled as they are taken (journal.py), whatever
the journal's fate. gdb's session has one, made when the commands are registered
(commands/state.py): memsnap takes and shows its snapshots, memcheck reads their trends,
memtrace journals its calls beside them.
"""

from __future__ import annotations

import os
from collections.abc import Callable

from gdbmem.caches import COMMAND_DONE, SNAPSHOTS_CLEARED, stale
from gdbmem.errors import OutputError, UsageError
from gdbmem.store.codec import framed
from gdbmem.store.delta import KEYFRAME, SAME
from gdbmem.store.journal import Journal, new_journal, prune
from gdbmem.store.record import Record
from gdbmem.units import format_bytes


class Session:
    """The snapshots of one gdb session, numbered from 1, journalled as they come. They are
    kept in memory whatever the journal's fate: a journal that cannot be written stops, once,
    with the reason, until `clear()`."""

    def __init__(self) -> None:
        self.records: list[Record] = []
        self.journal: Journal | None = None
        self.journal_stopped = ""  # why, once it has
        self._index: dict[bytes, int] | None = None  # the last record's blocks: where each is
        self._pruned_at = 0  # the journal's size when its directory was last pruned
        self._said_pruned = False
        self.journal_serial = 0  # which journal this is: 1 for the first, 2 after a clear...

    def add(self, record: Record, directory: Callable[[], str],
            warn: Callable[[str], None] | None = None,
            limit: Callable[[], int] | None = None) -> int:
        """Keep `record` and journal it; directory() says where a new journal goes, warn(line)
        hears why the journal stopped or what was pruned, and limit() bounds the bytes all
        journals there may take (the oldest go first)."""
        previous = self.records[-1] if self.records else None
        change = record.follow(previous, self._indexed,
                               keyframe=not (len(self.records) - 1) % KEYFRAME)
        if change is not SAME:
            self._index = None  # of the previous blocks: made again when first needed
        self.records.append(record)
        self._journal(lambda new: framed(record, None if new else change), record.taken_at,
                      directory, warn, limit)
        return len(self.records)

    def add_lines(self, lines_for: Callable[[int], tuple[bytes, ...]], taken_at: float,
                  directory: Callable[[], str], warn: Callable[[str], None] | None = None,
                  limit: Callable[[], int] | None = None) -> None:
        """Journal lines that are not snapshots (memtrace's accounts, calls and names):
        lines_for(serial) makes them for the journal numbered `serial` (the first is 1, a
        new one after each clear), which may be new to the one that writes them."""
        self._journal(lambda new: lines_for(self.journal_serial), taken_at, directory, warn,
                      limit)

    def _journal(self, parts: Callable[[bool], tuple[bytes, ...]], taken_at: float,
                 directory: Callable[[], str], warn: Callable[[str], None] | None,
                 limit: Callable[[], int] | None) -> None:
        """Append parts(new) to the journal, made first if there is none (new: then a
        snapshot record must stand alone); on failure the journal stops, said once."""
        if self.journal_stopped:
            return
        try:
            new = self.journal is None
            if self.journal is None:
                self.journal = new_journal(directory(),
                                           f"snapshots-{os.getpid()}-{int(taken_at)}")
                self.journal_serial += 1
            self.journal.write(parts(new))
            if limit is not None:
                self._bound(limit(), warn)
        except OutputError as exc:
            self.journal_stopped = str(exc)
            if self.journal is not None:
                self.journal.close()
                self.journal = None
            if warn is not None:
                warn(f"the journal stopped ({exc}); snapshots are kept in memory: "
                     "`memsnap save FILE` writes them")

    def _indexed(self, base: list[bytes]) -> dict[bytes, int]:
        """Where each of the previous record's blocks is (made once per record, and only
        when a block moved: a region came or went)."""
        if self._index is None:
            self._index = {block: i for i, block in enumerate(base)}
        return self._index

    def _bound(self, limit: int, warn: Callable[[str], None] | None) -> None:
        """Prune the journals' directory when this journal starts, and each time it has
        grown by an eighth of the limit since."""
        assert self.journal is not None
        step = max(limit // 8, 1 << 20)
        if self.journal.size - self._pruned_at < step and self._pruned_at:
            return
        self._pruned_at = self.journal.size or 1
        removed = prune(os.path.dirname(self.journal.path), self.journal.path, limit)
        if removed and warn is not None and not self._said_pruned:
            self._said_pruned = True
            size = format_bytes(sum(size for _, size in removed))
            warn(f"removed {len(removed)} old journal{'s' if len(removed) != 1 else ''} "
                 f"({size}) from {os.path.dirname(self.journal.path)}, the oldest first: "
                 f"together they stay under {format_bytes(limit)} (set gdbmem "
                 "journal-max-size); said once")

    def journal_state(self) -> str:
        """Where the journal is, or why there is none (for `memsnap list`)."""
        if self.journal is not None:
            return self.journal.path
        return f"stopped: {self.journal_stopped}" if self.journal_stopped else "none"

    def get(self, number: int) -> Record:
        if not 1 <= number <= len(self.records):
            have = f"1 to {len(self.records)}" if self.records else "none yet"
            raise UsageError(f"no snapshot #{number} (there are {have})")
        return self.records[number - 1]

    def command_done(self) -> None:
        """A command has written its report: what it parsed is given back."""
        for record in self.records:
            record.let_parsed_go()
        stale(COMMAND_DONE)

    def clear(self) -> None:
        self.records = []
        stale(SNAPSHOTS_CLEARED)
        self._index = None
        self.journal_stopped = ""
        self._pruned_at = 0
        if self.journal is not None:
            self.journal.close()
            self.journal = None  # the next snapshot starts a new journal
