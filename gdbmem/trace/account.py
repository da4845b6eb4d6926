"""memtrace's accounts: what was traced in one address space, from the moment it began (a
process started or attached, or an exec) to its end (an exit, a kill, the next exec).

An address space's calls, the names of the pcs in their stacks and its live ledger belong to
its Account, and never to another's: a pc means something only against the objfiles of the
space it ran in, and what a dead process held is not held by the live one. An Account that has
ended stays readable, as the history of that process (its pid and executable).

On disk (journals, saved files) an account is a line of its own, and its calls and names
carry its number:

  {"format":"gdbmem-space-1","space":N,"pid":P,"exe":"/path","started":T}
  {"format":"gdbmem-trace-1","space":N,"call":"mmap",...}      (events.py)
  {"format":"gdbmem-frames-1","space":N,"frames":[...]}

Files written before accounts existed carry no `space`: their lines are one account's.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable
from typing import Any

from gdbmem.trace.events import FRAMES_FORMAT, TRACE_FORMAT, Event, frames_from_json, frames_line
from gdbmem.trace.fold import Frame
from gdbmem.trace.ledger import Ledger

SPACE_FORMAT = "gdbmem-space-1"


class Account:
    """What memtrace traced in one address space: its calls, their pcs' names, its ledger,
    and which of those names the journal has yet to hear of."""

    def __init__(self, number: int, pid: int, exe: str, started: float):
        self.number = number
        self.pid = pid
        self.exe = exe
        self.started = started
        self.ended = ""  # why it ended ("exited", "exec", "killed", "saved"); "" while live
        self.ledger = Ledger()
        self.events: list[Event] = []
        self.frames: dict[int, Frame] = {}
        self.unsaved: dict[int, Frame] = {}  # named, not yet in the journal
        self.journaled_in = 0  # the serial of the journal that holds its space line
        self.clock = 0  # the account's stops so far: the order of entries and returns

    def tick(self) -> int:
        self.clock += 1
        return self.clock

    def record(self, event: Event, parked: list | None = None) -> None:
        """A call as it returns; `parked`, what the ledger took out at its entry."""
        self.ledger.record(event.call, event.args, event.result, event.pcs, event.length,
                           parked)
        self.events.append(event)

    def replay(self) -> None:
        """The ledger again from the events (read from a file), each call taking memory away
        at its entry and the rest at their returns, in the order they happened."""
        self.ledger = replayed(self.events)

    def stacks_touching(self, lo: int, hi: int) -> set[int]:
        """The stacks whose calls mapped, unmapped or changed anything in [lo, hi), holding
        anything there now or not (memtrace --region)."""
        return {self.ledger.stacks[e.pcs] for e in self.events if touches(e, lo, hi)}

    def knows(self, pc: int) -> bool:
        return pc in self.frames

    def name(self, frame: Frame) -> None:
        """A pc's name, as gdb resolved it in this address space."""
        self.frames[frame.pc] = self.unsaved[frame.pc] = frame

    def resolve(self, pc: int) -> Frame:
        """A pc's name as known (its address alone where none is)."""
        return self.frames.get(pc) or Frame(pc, None, None, None)

    def describe(self) -> str:
        what = f"account {self.number}: process {self.pid}" if self.pid else \
            f"account {self.number}"
        return f"{what}{' (' + self.exe + ')' if self.exe else ''}" + (
            f", {self.ended}" if self.ended else ", live")

    # On disk -----------------------------------------------------------------------------------

    def space_line(self) -> bytes:
        return (json.dumps({"format": SPACE_FORMAT, "space": self.number, "pid": self.pid,
                            "exe": self.exe, "started": self.started}, separators=(",", ":"))
                + "\n").encode("utf-8", "surrogateescape")

    def journal_lines(self, event: Event | None, serial: int) -> tuple[bytes, ...]:
        """What the journal numbered `serial` must be given with `event`: this account's line
        the first time it writes there, the names it does not have yet (all of them, to a
        journal new to this account), and the event."""
        lines: list[bytes] = []
        if self.journaled_in != serial:
            self.journaled_in = serial
            lines.append(self.space_line())
            self.unsaved = dict(self.frames)
        if self.unsaved:
            lines.append(frames_line(self.unsaved, self.number))
            self.unsaved = {}
        if event is not None:
            lines.append(event.to_line(self.number))
        return tuple(lines)

    def saved_lines(self) -> Iterable[bytes]:
        """The whole account, as `memsnap save` writes it."""
        yield self.space_line()
        if self.frames:
            yield frames_line(self.frames, self.number)
        for event in self.events:
            yield event.to_line(self.number)


def replayed(events: list[Event]) -> Ledger:
    """A ledger made of these events, each call taking memory away at its entry and the
    rest at their returns, in the order they happened (file order for calls of files older
    than that order)."""
    ledger = Ledger()
    steps = []  # (when, 0 for an entry or 1 for a return, the call)
    for n, e in enumerate(events):
        if e.entered is None:
            steps.append((n, 1, e))
        else:
            steps.append((e.returned, 1, e))
            steps.append((e.entered, 0, e))
    steps.sort(key=lambda step: step[0])
    parked: dict[int, list | None] = {}
    for _, phase, e in steps:
        if phase == 0:
            parked[id(e)] = ledger.enter(e.call, e.args)
        else:
            ledger.record(e.call, e.args, e.result, e.pcs, e.length, parked.pop(id(e), None))
    return ledger


def touches(event: Event, lo: int, hi: int) -> bool:
    """Whether a call mapped, unmapped, moved or changed anything in [lo, hi)."""
    def meets(start: int, length: int) -> bool:
        return start < hi and start + max(length, 1) > lo

    args, result = event.args, event.result
    if event.call == "brk":
        return lo <= args[0] <= hi or lo <= result <= hi
    if event.call == "mmap":
        return meets(result, args[1])
    if event.call == "mremap":
        return meets(args[0], args[1]) or meets(result, args[2])
    if event.call == "shmat":
        return meets(result, event.length)
    if event.call == "shmdt":
        return lo <= args[0] < hi
    return meets(args[0], args[1])  # munmap, mprotect


class Accounts:
    """The accounts of one gdb session (or of the files read), numbered from 1 in order."""

    def __init__(self) -> None:
        self.items: list[Account] = []
        self._by_file_number: dict[int, Account] = {}  # while reading a file

    def begin(self, pid: int, exe: str, started: float) -> Account:
        account = Account(len(self.items) + 1, pid, exe, started)
        self.items.append(account)
        return account

    def live_for(self, pid: int) -> Account | None:
        """The account of process `pid` now: the newest of that pid that has not ended."""
        for account in reversed(self.items):
            if account.pid == pid:
                return account if not account.ended else None
        return None

    def end(self, pid: int, why: str) -> Account | None:
        """Process `pid`'s live account ends (the process exited, exec'd or was killed)."""
        live = self.live_for(pid)
        if live is not None:
            live.ended = why
        return live

    def traced(self) -> list[Account]:
        return [a for a in self.items if a.events]

    def get(self, number: int) -> Account:
        for account in self.items:
            if account.number == number:
                return account
        have = f"1 to {len(self.items)}" if self.items else "none"
        raise LookupError(f"no account {number} (there are {have})")

    def shown(self, number: int | None = None, pid: int = 0) -> Account | None:
        """The account a report is of: `number`, else process `pid`'s live one when it traced
        anything, else the newest that did."""
        if number is not None:
            return self.get(number)
        live = self.live_for(pid) if pid else None
        if live is not None and live.events:
            return live
        traced = self.traced()
        return traced[-1] if traced else None

    def of_process(self, pid: int, at: float) -> Account | None:
        """The account of process `pid` at time `at` (the newest begun by then): the one whose
        calls made the memory a snapshot of that moment shows."""
        found = None
        for account in self.items:
            if account.events and account.pid in (pid, 0) and account.started <= at:
                found = account
        return found

    def adopt(self, other: Accounts, why: str) -> int:
        """The accounts of a file read, as ended accounts of this session (renumbered);
        how many traced anything."""
        count = 0
        for account in other.traced():
            account.number = len(self.items) + 1
            account.ended = account.ended or why
            account.journaled_in = 0
            account.unsaved = {}
            self.items.append(account)
            count += 1
        return count

    # Reading files -----------------------------------------------------------------------------

    def take(self, obj: Any) -> bool:
        """Keep `obj` if it is one of memtrace's records; False if it is not. ValueError for
        one of ours that is malformed."""
        if not isinstance(obj, dict):
            return False
        kind = obj.get("format")
        if kind not in (SPACE_FORMAT, TRACE_FORMAT, FRAMES_FORMAT):
            return False
        number = obj.get("space", 1)
        if type(number) is not int or not 0 < number < 1 << 31:
            raise ValueError(f"space is not an account's number: {str(number)[:40]}")
        if kind == SPACE_FORMAT:
            pid, exe, started = obj.get("pid"), obj.get("exe"), obj.get("started")
            if type(pid) is not int or not 0 <= pid < 1 << 32:
                raise ValueError(f"pid is not a process id: {str(pid)[:40]}")
            if not isinstance(exe, str):
                raise ValueError("exe is not a string")
            if type(started) not in (int, float) or not math.isfinite(started):
                raise ValueError("started is not a finite number")
            account = self.begin(pid, exe, float(started))
            account.ended = "saved"
            self._by_file_number[number] = account
            return True
        account = self._by_file_number.get(number)
        if account is None:  # a file without space lines (older): one account
            account = self.begin(0, "", 0.0)
            account.ended = "saved"
            self._by_file_number[number] = account
        if kind == TRACE_FORMAT:
            account.events.append(Event.from_json(obj))  # the ledger: when the file is read
        else:
            account.frames.update(frames_from_json(obj))
        return True

    def file_ended(self) -> None:
        """A file has been read: its accounts' ledgers are made, and the numbers in the next
        one are its own."""
        for account in self._by_file_number.values():
            account.replay()
        self._by_file_number = {}
