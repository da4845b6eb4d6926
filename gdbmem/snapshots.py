"""Snapshots as they are taken and stored: a record of raw /proc text, parsed when needed.

Taking a snapshot at a breakpoint must cost little (a breakpoint that snapshots at each of
2,000 hits may take at most twice as long as one that only continues), so a record holds the
raw bytes of smaps and smaps_rollup, each thread's stack pointer, the time and the stop
location; parsing and classifying wait until a snapshot is looked at. Records are JSON lines:
a session's journal is appended and flushed as snapshots are taken, `memsnap save` writes the
same lines, and the `gdbmem` command outside gdb reads them.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Iterator

from gdbmem.errors import ParseError, UsageError
from gdbmem.kinds import ThreadStackPointer, classify
from gdbmem.model import Snapshot
from gdbmem.proc import parse_smaps, parse_smaps_rollup

FORMAT = "gdbmem-snapshot-1"


class Record:
    """One snapshot as taken: raw text plus what gdb knew at that moment."""

    __slots__ = ("_snapshot", "exe", "label", "location", "pid", "rollup_text", "smaps_text",
                 "taken_at", "threads")

    def __init__(self, pid: int, taken_at: float, smaps_text: str, rollup_text: str = "",
                 threads: Iterable[ThreadStackPointer] = (), label: str = "",
                 location: str = "", exe: str = ""):
        self.pid = pid
        self.taken_at = taken_at
        self.smaps_text = smaps_text
        self.rollup_text = rollup_text
        self.threads = list(threads)
        self.label = label
        self.location = location
        self.exe = exe
        self._snapshot: Snapshot | None = None

    @property
    def snapshot(self) -> Snapshot:
        """The parsed, classified snapshot (parsed once, on first use)."""
        if self._snapshot is None:
            regions = parse_smaps(self.smaps_text)
            classify(regions, exe=self.exe, threads=self.threads)
            rollup = parse_smaps_rollup(self.rollup_text) if self.rollup_text else None
            self._snapshot = Snapshot(self.pid, regions, rollup, exe=self.exe,
                                      taken_at=self.taken_at)
        return self._snapshot

    def to_json(self) -> str:
        return json.dumps({
            "format": FORMAT, "pid": self.pid, "taken_at": self.taken_at, "label": self.label,
            "location": self.location, "exe": self.exe,
            "threads": [list(t) for t in self.threads],
            "smaps": self.smaps_text, "smaps_rollup": self.rollup_text,
        }, separators=(",", ":"))

    @classmethod
    def from_json(cls, line: str, where: str = "") -> Record:
        try:
            obj = json.loads(line)
            if obj.get("format") != FORMAT:
                raise ValueError(f"not a {FORMAT} record")
            return cls(int(obj["pid"]), float(obj["taken_at"]), str(obj["smaps"]),
                       str(obj.get("smaps_rollup", "")),
                       [ThreadStackPointer(int(n), int(lwp), int(sp))
                        for n, lwp, sp in obj.get("threads", [])],
                       str(obj.get("label", "")), str(obj.get("location", "")),
                       str(obj.get("exe", "")))
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise ParseError(f"not a snapshot record ({exc})", None, where or None) from None


def read_records(lines: Iterable[str], name: str = "") -> list[Record]:
    """Records from JSON lines; ParseError names the first bad line."""
    records = []
    for number, line in enumerate(lines, 1):
        if line.strip():
            try:
                records.append(Record.from_json(line))
            except ParseError as exc:
                raise ParseError(f"{name + ': ' if name else ''}{exc}", number) from None
    return records


class Journal:
    """A session's snapshots, appended to a file (mode 0600) as they are taken and flushed,
    so a crash of gdb loses none."""

    def __init__(self, path: str):
        self.path = path
        self.fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC, 0o600)

    def append(self, record: Record) -> None:
        os.write(self.fd, (record.to_json() + "\n").encode("utf-8", "surrogateescape"))

    def close(self) -> None:
        os.close(self.fd)


def iter_lines(path: str) -> Iterator[str]:
    with open(path, encoding="utf-8", errors="surrogateescape") as fh:
        yield from fh


def default_directory() -> str:
    """Where a session's journal goes: $XDG_STATE_HOME/gdbmem, or ~/.local/state/gdbmem."""
    state = os.environ.get("XDG_STATE_HOME") or os.path.join(os.path.expanduser("~"), ".local",
                                                             "state")
    return os.path.join(state, "gdbmem")


class Session:
    """The snapshots of one gdb session, numbered from 1, journalled as they come."""

    def __init__(self) -> None:
        self.records: list[Record] = []
        self.journal: Journal | None = None

    def add(self, record: Record, directory: str) -> int:
        if self.journal is None:
            os.makedirs(directory, mode=0o700, exist_ok=True)
            name = f"snapshots-{os.getpid()}-{int(record.taken_at)}.jsonl"
            self.journal = Journal(os.path.join(directory, name))
        self.journal.append(record)
        self.records.append(record)
        return len(self.records)

    def get(self, number: int) -> Record:
        if not 1 <= number <= len(self.records):
            have = f"1 to {len(self.records)}" if self.records else "none yet"
            raise UsageError(f"no snapshot #{number} (there are {have})")
        return self.records[number - 1]

    def clear(self) -> None:
        self.records = []
        if self.journal is not None:
            self.journal.close()
            self.journal = None  # the next snapshot starts a new journal
