"""memtrace's records on disk: each traced call as a JSON line in the session's journal (so a
crash of gdb loses none), and the names of the pcs in its stacks, as gdb resolved them when
first seen (so the gdbmem command names sites without gdb). N is the account's number
(account.py): the address space the call was made in.

  {"format":"gdbmem-trace-1","space":N,"call":"mmap","args":[...],"result":N,"length":N,
   "pcs":[...],"tid":N,"time":T}
  {"format":"gdbmem-frames-1","space":N,"frames":[[pc,"function","file",line], ...]}
"""

from __future__ import annotations

import json
import math
from typing import Any, NamedTuple

from gdbmem.trace.fold import Frame

TRACE_FORMAT = "gdbmem-trace-1"
FRAMES_FORMAT = "gdbmem-frames-1"
CALL_NAMES = ("mmap", "munmap", "mremap", "brk", "mprotect", "shmat", "shmdt")
ARGUMENTS = 5  # rdi, rsi, rdx, r10, r8: as many as any traced call takes
# Which arguments are lengths, by call; x86-64's user space is 2**47 bytes.
_LENGTHS = {"mmap": (1,), "munmap": (1,), "mremap": (1, 2), "mprotect": (1,)}
_LONGEST = 1 << 47


class Event(NamedTuple):
    call: str
    args: tuple[int, ...]
    result: int
    length: int
    pcs: tuple[int, ...]
    tid: int
    time: float
    # The order of the call's entry and of its return among the account's stops (a call
    # that takes memory away does so between them; with threads, others return meanwhile);
    # None in files written before they were kept.
    entered: int | None = None
    returned: int | None = None

    def to_line(self, space: int = 1) -> bytes:
        obj = {"format": TRACE_FORMAT, "space": space, "call": self.call,
               "args": list(self.args), "result": self.result, "length": self.length,
               "pcs": list(self.pcs), "tid": self.tid, "time": self.time}
        if self.entered is not None:
            obj["entered"], obj["returned"] = self.entered, self.returned
        return (json.dumps(obj, separators=(",", ":")) + "\n").encode("ascii")

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
        if len(args) != ARGUMENTS:
            raise ValueError(f"a {call} has {ARGUMENTS} arguments, not {len(args)}")
        numbers = tuple(_number(a, "an argument") for a in args)
        # The lengths a call takes: a range past the 64-bit space is no call that returned
        if any(numbers[i] > _LONGEST for i in _LENGTHS.get(call, ())):
            raise ValueError(f"a {call} of more than {_LONGEST:#x} bytes")
        entered, returned = obj.get("entered"), obj.get("returned")
        if (entered is None) != (returned is None):
            raise ValueError("entered and returned go together")
        if entered is not None:
            entered, returned = _number(entered, "entered"), _number(returned, "returned")
            if returned <= entered:
                raise ValueError("a call returns after its entry")
        return cls(call, numbers,
                   _number(obj.get("result"), "result", signed=True),
                   _number(obj.get("length", 0), "length"),
                   tuple(_number(p, "a pc") for p in pcs), _number(obj.get("tid"), "tid"),
                   float(moment), entered, returned)


def _number(value: Any, what: str, signed: bool = False) -> int:
    low = -(1 << 63) if signed else 0
    if type(value) is not int or not low <= value < 1 << 64:
        raise ValueError(f"{what} is not a whole number: {str(value)[:40]}")
    return value


def frames_line(frames: dict[int, Frame], space: int = 1) -> bytes:
    rows = [[f.pc, f.function, f.file, f.line] for f in frames.values()]
    return (json.dumps({"format": FRAMES_FORMAT, "space": space, "frames": rows},
                       separators=(",", ":"))
            + "\n").encode("utf-8", "surrogateescape")


def frames_from_json(obj: dict) -> dict[int, Frame]:
    out = {}
    rows = obj.get("frames", [])
    if not isinstance(rows, list):
        raise ValueError("frames is a list")
    for row in rows:
        if not (isinstance(row, list) and len(row) == 4):
            raise ValueError("a frame is [pc, function, file, line]")
        pc, function, file, line = row
        out[_number(pc, "a pc")] = Frame(
            pc, function if isinstance(function, str) else None,
            file if isinstance(file, str) else None, line if type(line) is int else None)
    return out
