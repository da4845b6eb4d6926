"""Snapshots as they are taken and stored: a record of raw /proc text, parsed when needed.

Taking a snapshot at a breakpoint must cost little (a breakpoint that snapshots at each of
2,000 hits may take at most twice as long as one that only continues), so a record holds the
raw bytes of smaps, each thread's stack pointer, the time and the pc it stopped at; parsing,
classifying and naming the location wait until a snapshot is looked at. The process totals
are the sums over the regions: smaps_rollup would walk every resident page a second time.
Records are JSON lines: a session's journal is appended and flushed as snapshots are taken,
`memsnap save` writes the same lines, and the `gdbmem` command outside gdb reads them.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterable
from json.encoder import encode_basestring_ascii  # type: ignore[attr-defined]
from typing import Any

from gdbmem.errors import OutputError, ParseError, UsageError
from gdbmem.kinds import ThreadStackPointer, classify
from gdbmem.model import Snapshot
from gdbmem.proc import parse_smaps, parse_smaps_rollup

FORMAT = "gdbmem-snapshot-1"


class Record:
    """One snapshot as taken: raw smaps bytes plus what gdb knew at that moment."""

    __slots__ = ("_snapshot", "exe", "label", "location", "pc", "pid", "rollup_text", "smaps",
                 "taken_at", "threads")

    def __init__(self, pid: int, taken_at: float, smaps: bytes, rollup_text: str = "",
                 threads: Iterable[ThreadStackPointer] = (), label: str = "",
                 location: str = "", exe: str = "", pc: int | None = None):
        self.pid = pid
        self.taken_at = taken_at
        self.smaps = smaps
        self.rollup_text = rollup_text
        self.threads = list(threads)
        self.label = label
        self.location = location
        self.exe = exe
        self.pc = pc  # where it stopped, until `location` is filled in from it (by gdb)
        self._snapshot: Snapshot | None = None

    @property
    def snapshot(self) -> Snapshot:
        """The parsed, classified snapshot (parsed once, on first use)."""
        if self._snapshot is None:
            regions = parse_smaps(self.smaps)
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

    def framed(self, same_as_previous: bool = False) -> tuple[bytes, ...]:
        """A JSON header line with the smaps length, then the smaps bytes as read: what the
        journal appends at each snapshot, in one writev. The header is the same object as
        _header()'s, written out by hand: json.dumps of a dict costs more than the write.
        same_as_previous: the smaps is byte for byte the previous record's (nothing moved
        between two hits), so the header says so and no smaps follows."""
        text = encode_basestring_ascii  # a str as a JSON string, in C
        threads = ",".join(f"[{n},{lwp},{sp}]" for n, lwp, sp in self.threads)
        smaps = ('"smaps_as_previous":true' if same_as_previous
                 else f'"smaps_bytes":{len(self.smaps)}')
        head = (f'{{"format":"{FORMAT}","pid":{self.pid},"taken_at":{self.taken_at!r},'
                f'"label":{text(self.label)},"location":{text(self.location)},'
                f'"pc":{"null" if self.pc is None else self.pc},"exe":{text(self.exe)},'
                f'"threads":[{threads}],"smaps_rollup":{text(self.rollup_text)},{smaps}}}\n')
        if same_as_previous:
            return (head.encode("ascii"),)
        return head.encode("ascii"), self.smaps, b"\n"

    def to_framed(self, same_as_previous: bool = False) -> bytes:
        return b"".join(self.framed(same_as_previous))

    @classmethod
    def from_header(cls, obj: Any, smaps: bytes) -> Record:
        if not isinstance(obj, dict) or obj.get("format") != FORMAT:
            raise ValueError(f"not a {FORMAT} record")
        return cls(int(obj["pid"]), float(obj["taken_at"]), smaps,
                   str(obj.get("smaps_rollup", "")),
                   [ThreadStackPointer(int(n), int(lwp), int(sp))
                    for n, lwp, sp in obj.get("threads", [])],
                   str(obj.get("label", "")), str(obj.get("location", "")),
                   str(obj.get("exe", "")),
                   int(obj["pc"]) if obj.get("pc") is not None else None)


def read_records(data: bytes, name: str = "") -> list[Record]:
    """Records from a saved file (JSON lines) or a journal (framed); ParseError names the
    first bad line."""
    records = []
    position, number = 0, 0
    while position < len(data):
        end = data.find(b"\n", position)
        end = len(data) if end < 0 else end
        line = data[position:end]
        number += 1
        position = end + 1
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
            if isinstance(obj, dict) and obj.get("smaps_as_previous") is True:
                if not records:
                    raise ValueError("its smaps is the previous record's, and there is none")
                smaps = records[-1].smaps
            elif isinstance(obj, dict) and "smaps_bytes" in obj:
                size = int(obj["smaps_bytes"])
                smaps = data[position:position + size]
                if len(smaps) != size or data[position + size:position + size + 1] != b"\n":
                    raise ValueError("its smaps is cut short")
                number += smaps.count(b"\n") + 1
                position += size + 1
            else:
                smaps = str(obj["smaps"]).encode("utf-8", "surrogateescape")
            records.append(Record.from_header(obj, smaps))
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            where = f"{name}: " if name else ""
            raise ParseError(f"{where}not a snapshot record ({exc})", number) from None
    return records


class Journal:
    """A session's snapshots, appended to a file (mode 0600) as they are taken, so a crash
    of gdb loses none. A record whose smaps is the one written last (the same bytes object:
    Session.add shares it) is written as a header that says so."""

    def __init__(self, path: str):
        self.path = path
        self.fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC, 0o600)
        self.last_smaps: bytes | None = None

    def append(self, record: Record) -> None:
        parts = record.framed(same_as_previous=record.smaps is self.last_smaps)
        try:
            written = os.writev(self.fd, parts)
        except OSError as exc:
            raise OutputError(f"cannot append to the journal {self.path}: {exc.strerror}") from None
        if written != sum(map(len, parts)):  # a full disk: take the part written back
            os.ftruncate(self.fd, os.fstat(self.fd).st_size - written)
            raise OutputError(f"cannot append to the journal {self.path}: the disk is full")
        self.last_smaps = record.smaps

    def close(self) -> None:
        os.close(self.fd)


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

    def add(self, record: Record, directory: Callable[[], str]) -> int:
        """Keep `record` and journal it; directory() says where a new journal goes."""
        if self.journal is None:
            directory = directory()
            os.makedirs(directory, mode=0o700, exist_ok=True)
            name = f"snapshots-{os.getpid()}-{int(record.taken_at)}.jsonl"
            self.journal = Journal(os.path.join(directory, name))
        if self.records and record.smaps == self.records[-1].smaps:
            # Nothing changed since the last snapshot (memcmp, ~1 us): keep one copy, in
            # memory and in the journal.
            record.smaps = self.records[-1].smaps
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


# The snapshots of this gdb session: memsnap takes and shows them, memcheck reads their trends.
SESSION = Session()
