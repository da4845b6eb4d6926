"""Journals on disk: the files a session's snapshots are appended to as they are taken, so
a crash of gdb loses none (record.py says what a record is, codec.py how it is written).

A journal is a new file, created exclusively (0600, never through a symlink, never one that
was there before), in a directory made 0700 if missing; together the journals there are kept
under a bound, the oldest removed first, never the one being written.
"""

from __future__ import annotations

import os
import re

from gdbmem.errors import OutputError
from gdbmem.safefile import create_exclusive, own_files
from gdbmem.store.codec import framed
from gdbmem.store.delta import Change
from gdbmem.store.record import Record


def new_journal(directory: str, stem: str) -> Journal:
    """A journal named STEM.jsonl in `directory` (made 0700 if missing), or STEM-2.jsonl ...
    when that name is taken: an existing file is never appended to."""
    try:
        os.makedirs(directory, mode=0o700, exist_ok=True)
    except (OSError, ValueError) as exc:
        reason = getattr(exc, "strerror", None) or str(exc)
        raise OutputError(f"cannot use the directory {directory!r}: {reason}") from None
    for attempt in range(1, 100):
        path = os.path.join(directory, f"{stem}{'' if attempt == 1 else f'-{attempt}'}.jsonl")
        if not os.path.lexists(path):
            return Journal(path)
    raise OutputError(f"cannot create a journal in {directory}: {stem}.jsonl and 98 more exist")


class Journal:
    """A session's snapshots, appended to a new file (0600, created exclusively) as they are
    taken, so a crash of gdb loses none. Each record is written as Session.add says: whole,
    as the previous one, or as a Delta of it."""

    def __init__(self, path: str):
        self.path = path
        self.fd = create_exclusive(path)
        self.size = 0

    def append(self, record: Record, change: Change = None) -> None:
        self.write(framed(record, change))

    def write(self, parts: tuple[bytes, ...]) -> None:
        """Lines already made (memtrace's events), in one writev."""
        try:
            written = os.writev(self.fd, parts)
        except OSError as exc:
            raise OutputError(f"cannot append to the journal {self.path}: {exc.strerror}") from None
        if written != sum(map(len, parts)):  # a full disk: take the part written back
            os.ftruncate(self.fd, os.fstat(self.fd).st_size - written)
            raise OutputError(f"cannot append to the journal {self.path}: the disk is full")
        self.size += written

    def close(self) -> None:
        os.close(self.fd)


JOURNAL_MAX_SIZE = "1G"  # how much the journals take together: `set gdbmem journal-max-size`
JOURNAL_NAME = re.compile(r"snapshots-\d+-\d+(-\d+)?\.jsonl\Z")


def prune(directory: str, current: str, limit: int) -> list[tuple[str, int]]:
    """Remove the oldest journals in `directory` (gdbmem's, by name; regular files of ours)
    until all of them together take at most `limit` bytes; never `current`. Returns the
    (path, size) of each removed."""
    journals = [(info.st_mtime, path, info.st_size)
                for path, info, _ in own_files(directory, JOURNAL_NAME, _is_journal)]
    total = sum(size for _, _, size in journals)
    removed = []
    for _, path, size in sorted(journals):
        if total <= limit:
            break
        if os.path.abspath(path) == os.path.abspath(current):
            continue
        try:
            os.unlink(path)
        except OSError:
            continue
        total -= size
        removed.append((path, size))
    return removed


def _is_journal(path: str, match: object) -> bool:
    """A journal begins with one of gdbmem's records (an empty one was never written to)."""
    try:
        with open(path, "rb") as fh:
            head = fh.read(len(_JOURNAL_START))
    except OSError:
        return False
    return head in (b"", _JOURNAL_START)


_JOURNAL_START = b'{"format":"gdbmem-'


def default_directory() -> str:
    """Where a session's journal goes: $XDG_STATE_HOME/gdbmem, or ~/.local/state/gdbmem."""
    state = os.environ.get("XDG_STATE_HOME") or os.path.join(os.path.expanduser("~"), ".local",
                                                             "state")
    return os.path.join(state, "gdbmem")
