"""memtrace's records on disk: each traced call as a JSON line in the session's journal (so a
crash of gdb loses none), and the names of the pcs in its stacks, as gdb resolved them when a
report or a save was made (so the gdbmem command names sites without gdb).

  {"format":"gdbmem-trace-1","call":"mmap","args":[...],"result":N,"length":N,"pcs":[...],
   "tid":N,"time":T}
  {"format":"gdbmem-frames-1","frames":[[pc,"function","file",line], ...]}
"""

from __future__ import annotations

import json
import math
from typing import Any, NamedTuple

from gdbmem.trace.fold import Frame
from gdbmem.trace.ledger import Ledger

TRACE_FORMAT = "gdbmem-trace-1"
FRAMES_FORMAT = "gdbmem-frames-1"
CALL_NAMES = ("mmap", "munmap", "mremap", "brk", "mprotect", "shmat", "shmdt")


class Event(NamedTuple):
    call: str
    args: tuple[int, ...]
    result: int
    length: int
    pcs: tuple[int, ...]
    tid: int
    time: float

    def to_line(self) -> bytes:
        return (json.dumps({"format": TRACE_FORMAT, "call": self.call, "args": list(self.args),
                            "result": self.result, "length": self.length,
                            "pcs": list(self.pcs), "tid": self.tid, "time": self.time},
                           separators=(",", ":")) + "\n").encode("ascii")

    @classmethod
    def from_json(cls, obj: dict) -> Event:
        call = obj.get("call")
        if call not in CALL_NAMES:
            raise ValueError(f"not a traced call: {str(call)[:40]}")
        args, pcs = obj.get("args"), obj.get("pcs")
        if not (isinstance(args, list) and isinstance(pcs, list)):
            raise ValueError("args and pcs are lists of numbers")
        moment = obj.get("time")
        if type(moment) not in (int, float) or not math.isfinite(moment):
            raise ValueError("time is not a finite number")
        return cls(call, tuple(_number(a, "an argument") for a in args),
                   _number(obj.get("result"), "result", signed=True),
                   _number(obj.get("length", 0), "length"),
                   tuple(_number(p, "a pc") for p in pcs), _number(obj.get("tid"), "tid"),
                   float(moment))


def _number(value: Any, what: str, signed: bool = False) -> int:
    low = -(1 << 63) if signed else 0
    if type(value) is not int or not low <= value < 1 << 64:
        raise ValueError(f"{what} is not a whole number: {str(value)[:40]}")
    return value


def frames_line(frames: dict[int, Frame]) -> bytes:
    rows = [[f.pc, f.function, f.file, f.line] for f in frames.values()]
    return (json.dumps({"format": FRAMES_FORMAT, "frames": rows}, separators=(",", ":"))
            + "\n").encode("utf-8", "surrogateescape")


def frames_from_json(obj: dict) -> dict[int, Frame]:
    out = {}
    for row in obj.get("frames", []):
        if not (isinstance(row, list) and len(row) == 4):
            raise ValueError("a frame is [pc, function, file, line]")
        pc, function, file, line = row
        out[_number(pc, "a pc")] = Frame(
            pc, function if isinstance(function, str) else None,
            file if isinstance(file, str) else None, line if type(line) is int else None)
    return out


class TraceLog:
    """The traced calls and frame names a file holds, in order (read_records fills it)."""

    def __init__(self) -> None:
        self.events: list[Event] = []
        self.frames: dict[int, Frame] = {}

    def take(self, obj: Any) -> bool:
        """Keep `obj` if it is one of memtrace's records; False if it is not."""
        if not isinstance(obj, dict):
            return False
        if obj.get("format") == TRACE_FORMAT:
            self.events.append(Event.from_json(obj))
            return True
        if obj.get("format") == FRAMES_FORMAT:
            self.frames.update(frames_from_json(obj))
            return True
        return False

    def replay(self, ledger: Ledger) -> None:
        for e in self.events:
            ledger.record(e.call, e.args, e.result, e.pcs, e.length)

    def resolve(self, pc: int) -> Frame:
        """A pc's name as saved (its address alone where none was)."""
        return self.frames.get(pc) or Frame(pc, None, None, None)
