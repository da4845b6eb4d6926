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
import math
import os
from collections.abc import Callable, Iterable
from json.encoder import encode_basestring_ascii  # type: ignore[attr-defined]
from typing import Any

from gdbmem.errors import OutputError, ParseError, UsageError
from gdbmem.kinds import ThreadStackPointer, classify
from gdbmem.model import Snapshot
from gdbmem.proc import parse_smaps, parse_smaps_rollup
from gdbmem.safefile import create_exclusive

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
        pc = obj.get("pc")
        return cls(_whole(obj["pid"], "pid"), _finite(obj["taken_at"], "taken_at"), smaps,
                   _text(obj.get("smaps_rollup", ""), "smaps_rollup"),
                   [ThreadStackPointer(_whole(n, "a thread's number"),
                                       _whole(lwp, "a thread's LWP"),
                                       _whole(sp, "a stack pointer"))
                    for n, lwp, sp in obj.get("threads", [])],
                   _text(obj.get("label", ""), "label"), _text(obj.get("location", ""), "location"),
                   _text(obj.get("exe", ""), "exe"),
                   _whole(pc, "pc") if pc is not None else None)


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
                 torn: Callable[[str], None] | None = None) -> list[Record]:
    """Records from a saved file (JSON lines) or a journal (framed); ParseError names the
    first bad line. A last record the file ends inside of (gdb killed while writing it) is
    dropped, and torn(message) says so; without `torn` it is an error like any other."""
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
            if isinstance(obj, dict) and obj.get("smaps_as_previous") is True:
                if not records:
                    raise ValueError("its smaps is the previous record's, and there is none")
                smaps = records[-1].smaps
            elif isinstance(obj, dict) and "smaps_bytes" in obj:
                size = _whole(obj["smaps_bytes"], "smaps_bytes")
                smaps = data[position:position + size]
                if len(smaps) != size or data[position + size:position + size + 1] != b"\n":
                    cut = position + size >= len(data)
                    raise ValueError("its smaps is cut short")
                number += smaps.count(b"\n") + 1
                position += size + 1
            else:
                smaps = str(obj["smaps"]).encode("utf-8", "surrogateescape")
            records.append(Record.from_header(obj, smaps))
        except (ValueError, KeyError, TypeError, AttributeError, RecursionError) as exc:
            if cut and torn is not None:
                torn(f"{where}the last record is cut short (gdb was killed while writing it?): "
                     f"dropped; {len(records)} complete snapshot"
                     f"{'s' if len(records) != 1 else ''} read")
                return records
            raise ParseError(f"{where}not a snapshot record ({exc})", number) from None
    return records


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
    """A session's snapshots, appended to a file (mode 0600) as they are taken, so a crash
    of gdb loses none. A record whose smaps is the one written last (the same bytes object:
    Session.add shares it) is written as a header that says so."""

    def __init__(self, path: str):
        self.path = path
        self.fd = create_exclusive(path)
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
    """The snapshots of one gdb session, numbered from 1, journalled as they come. They are
    kept in memory whatever the journal's fate: a journal that cannot be written stops, once,
    with the reason, until `clear()`."""

    def __init__(self) -> None:
        self.records: list[Record] = []
        self.journal: Journal | None = None
        self.journal_stopped = ""  # why, once it has

    def add(self, record: Record, directory: Callable[[], str],
            warn: Callable[[str], None] | None = None) -> int:
        """Keep `record` and journal it; directory() says where a new journal goes, and
        warn(line) hears why the journal stopped."""
        if self.records and record.smaps == self.records[-1].smaps:
            # Nothing changed since the last snapshot (memcmp, ~1 us): keep one copy, in
            # memory and in the journal.
            record.smaps = self.records[-1].smaps
        self.records.append(record)
        if not self.journal_stopped:
            try:
                if self.journal is None:
                    self.journal = new_journal(
                        directory(), f"snapshots-{os.getpid()}-{int(record.taken_at)}")
                self.journal.append(record)
            except OutputError as exc:
                self.journal_stopped = str(exc)
                if self.journal is not None:
                    self.journal.close()
                    self.journal = None
                if warn is not None:
                    warn(f"the journal stopped ({exc}); snapshots are kept in memory: "
                         "`memsnap save FILE` writes them")
        return len(self.records)

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

    def clear(self) -> None:
        self.records = []
        self.journal_stopped = ""
        if self.journal is not None:
            self.journal.close()
            self.journal = None  # the next snapshot starts a new journal


# The snapshots of this gdb session: memsnap takes and shows them, memcheck reads their trends.
SESSION = Session()
