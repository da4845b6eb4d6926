"""Snapshot records on disk, one codec for journals and saved files alike.

A record is a JSON header line, then the smaps bytes it announces (`smaps_bytes`), whole, as
the previous record's (`smaps_as_previous`), or as a Delta of it (`smaps_delta`, then only
the new blocks: delta.py). A session's journal appends records so as they are taken, and
`memsnap save` writes the same: a saved file costs what changed, as the journal does. An
older saved form, one JSON line with the smaps as a string (`smaps`), is read as well.
memtrace's lines (its accounts, calls and names: trace/account.py) stand between them.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterator, Sequence
from json.encoder import encode_basestring_ascii  # type: ignore[attr-defined]
from typing import Any

from gdbmem.errors import ParseError
from gdbmem.kinds import ThreadStackPointer
from gdbmem.store.delta import SAME, Change, Delta, apply_delta, delta_of, split_blocks
from gdbmem.store.record import Record
from gdbmem.trace.account import SPACE_FORMAT, Accounts
from gdbmem.trace.events import FRAMES_FORMAT, TRACE_FORMAT

FORMAT = "gdbmem-snapshot-1"
TRACE_FORMATS = (SPACE_FORMAT, TRACE_FORMAT, FRAMES_FORMAT)


def _header(record: Record, smaps: str) -> str:
    """A record's header line: its fields, then `smaps` (how its smaps follows). Written out
    by hand, the one spelling of a header: json.dumps of a dict costs more than the write."""
    text = encode_basestring_ascii  # a str as a JSON string, in C
    threads = ",".join(f"[{n},{lwp},{sp}]" for n, lwp, sp in record.threads)
    carried = '"carried":true,' if record.carried else ""
    if record.heap is not None:  # memsnap --heap's census: rare, small, any JSON
        carried += f'"heap":{json.dumps(record.heap, separators=(",", ":"))},'
    return (f'{{"format":"{FORMAT}","pid":{record.pid},"taken_at":{record.taken_at!r},'
            f'"label":{text(record.label)},"location":{text(record.location)},'
            f'"pc":{"null" if record.pc is None else record.pc},"exe":{text(record.exe)},'
            f'"threads":[{threads}],"smaps_rollup":{text(record.rollup_text)},{carried}'
            f'{smaps}}}\n')


def framed(record: Record, change: Change = None) -> tuple[bytes, ...]:
    """The header line, then the smaps bytes it announces, for one writev. `change` says how
    much of the smaps follows: all of it (None), none (SAME: byte for byte the previous
    record's), or a Delta's new blocks only."""
    if change is SAME:
        smaps, payload = '"smaps_as_previous":true', ()
    elif isinstance(change, Delta):
        ops = ",".join(f"[{op[0]},{op[1]}]" if isinstance(op, list) else str(op)
                       for op in change.ops)
        payload = (*change.literals, b"\n")
        smaps = f'"smaps_delta":[{ops}],"smaps_bytes":{sum(map(len, change.literals))}'
    else:
        data = record.smaps
        smaps, payload = f'"smaps_bytes":{len(data)}', (data, b"\n")
    return (_header(record, smaps).encode("ascii"), *payload)


def encoded(record: Record, change: Change = None) -> bytes:
    return b"".join(framed(record, change))


def saved(records: Sequence[Record]) -> Iterator[bytes]:
    """Records as a saved file holds them: each as the change from the one before (the
    journal's form), so that what snapshots share is written once."""
    previous: list[bytes] | None = None
    for record in records:
        data = record.smaps
        if previous is None:
            change: Change = None
            blocks = split_blocks(data)
        elif b"".join(previous) == data:
            change, blocks = SAME, previous
        else:
            blocks, change = delta_of(data, previous, _Index())
        yield encoded(record, change)
        previous = blocks


class _Index:
    """Where each block of the previous record is: made once, when first asked."""

    def __init__(self) -> None:
        self.index: dict[bytes, int] | None = None

    def __call__(self, blocks: list[bytes]) -> dict[bytes, int]:
        if self.index is None:
            self.index = {block: i for i, block in enumerate(blocks)}
        return self.index


def _record(obj: Any, smaps: bytes, blocks: list[bytes] | None = None) -> Record:
    if not isinstance(obj, dict) or obj.get("format") != FORMAT:
        raise ValueError(f"not a {FORMAT} record")
    pc = obj.get("pc")
    threads = obj.get("threads", [])
    if not isinstance(threads, list) or not all(isinstance(t, list) and len(t) == 3
                                                 for t in threads):
        raise ValueError("threads is a list of [number, LWP, stack pointer]")
    return Record(_whole(obj["pid"], "pid"), _finite(obj["taken_at"], "taken_at"), smaps,
                  _text(obj.get("smaps_rollup", ""), "smaps_rollup"),
                  [ThreadStackPointer(_whole(n, "a thread's number"),
                                      _whole(lwp, "a thread's LWP"),
                                      _whole(sp, "a stack pointer"))
                   for n, lwp, sp in threads],
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
                 trace: Accounts | None = None) -> list[Record]:
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
        first = number  # the record's header line
        position = end + 1
        if not line.strip():
            continue
        cut = at_end  # the file ends inside this line
        try:
            obj = json.loads(line)
            if isinstance(obj, dict) and obj.get("format") in TRACE_FORMATS:
                if trace is not None:  # memtrace's, in the same journal
                    trace.take(obj)
                continue
            blocks = None
            if isinstance(obj, dict) and obj.get("smaps_as_previous") is True:
                if not records:
                    raise ValueError("its smaps is the previous record's, and there is none")
                smaps, blocks = records[-1].kept()
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
                    blocks = apply_delta(records[-1].smaps_blocks(), obj["smaps_delta"], smaps)
            else:
                smaps = str(obj["smaps"]).encode("utf-8", "surrogateescape")
            record = _record(obj, smaps, blocks)
            record.carried = obj.get("carried") is True
            heap = obj.get("heap")
            record.heap = heap if isinstance(heap, dict) else None
            # Where it was read: a bad field inside its smaps, found when it is first parsed,
            # is then said with the file and the line (a whole smaps follows its header).
            record.origin = (name, first, blocks is None and "smaps_bytes" in obj)
            records.append(record)
        except (ValueError, KeyError, TypeError, AttributeError, RecursionError) as exc:
            if cut and torn is not None:
                torn(f"{where}the last record is cut short (gdb was killed while writing it?): "
                     f"dropped; {len(records)} complete snapshot"
                     f"{'s' if len(records) != 1 else ''} read")
                if trace is not None:
                    trace.file_ended()
                return records
            raise ParseError(f"{where}not a snapshot record ({exc})", number) from None
    if trace is not None:
        trace.file_ended()
    return records


