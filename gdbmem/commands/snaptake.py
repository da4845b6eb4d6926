"""Taking snapshots: `take` now (memsnap, memsnap take) and SnapshotBreakpoint at each hit
(memsnap on): the hot path, where a hit's record is read or carried (store/carry.py), kept in
the session and journalled. The memsnap commands, which list, compare and save what is
taken, are memsnap.py.
"""

from __future__ import annotations

import gdb  # type: ignore[import-not-found]

from gdbmem.commands.base import report_failure, warn
from gdbmem.commands.heapview import snapshot_census
from gdbmem.commands.settings import journal_max_bytes, snapshot_directory, value
from gdbmem.commands.state import state
from gdbmem.store.carry import Carrier
from gdbmem.store.record import Record
from gdbmem.target import current
from gdbmem.target.gdbtarget import GdbTarget
from gdbmem.target.symbols import breakpoint_location, stop_location


def _warn(message: str) -> None:
    warn("memsnap", message)


def take(label: str = "", pc: int | None = None, target: GdbTarget | None = None,
         location: str | None = None, record: Record | None = None,
         heap: bool = False) -> int:
    """A snapshot now (or `record`, made already), its location named now (a later exec
    would name it from another program): where the selected thread stopped, unless the
    caller knows better; with `heap`, a census of malloc's heap beside it."""
    if record is None:
        target = target or current()
        record = target.record(label, pc)
        if heap:
            record.heap = snapshot_census(target, False, _warn, False)
    record.location = stop_location() if location is None else location
    return state().session.add(record, snapshot_directory, _warn, journal_max_bytes)


class SnapshotBreakpoint(gdb.Breakpoint):
    """Takes a snapshot at each Nth hit, then lets the program go on (unless --stop)."""

    def __init__(self, location: str, every: int, stop_here: bool, exact: bool = False,
                 heap: bool = False):
        super().__init__(location)
        self.every, self.stop_here, self.counted = every, stop_here, 0
        self.heap = heap  # a census of malloc's heap with each snapshot (--heap)
        self.said_cost = False
        self.carrier = Carrier(exact)  # whether a hit may carry the last full read
        self.target: GdbTarget | None = None  # the target of the last hit, while it lasts
        self.of_location = f" of {self.location}"  # labels: "hit N of LOCATION"
        self.named: tuple[str, str] | None = None  # (program, where a hit stops), while it lasts

    def _address(self) -> int | None:
        """Where a hit stops, when the breakpoint has one place (gdb 13 tells)."""
        locations = getattr(self, "locations", None)
        if locations and len(locations) == 1 and locations[0].address is not None:
            return int(locations[0].address)
        return None

    def _where(self, target: GdbTarget) -> str:
        """Where a hit stops, named once for each program the process runs (an exec changes
        it): as `info breakpoints` names the place, else as the stop shows it."""
        program = target.program()
        if self.named is None or self.named[0] != program:
            locations = getattr(self, "locations", None)
            where = (breakpoint_location(locations[0])
                     if locations and len(locations) == 1 else None)
            if where is None:
                return stop_location()  # several places: each hit names its own
            self.named = (program, where)
        return self.named[1]

    def stop(self) -> bool:
        self.counted += 1
        if self.counted % self.every:
            return False
        try:  # never a traceback from inside gdb's event loop
            if self.target is None or not self.target.still_selected():
                self.target = current()  # type: ignore[assignment]
            target = self.target
            record = target.record_at_hit(  # type: ignore[union-attr]
                self.carrier, f"hit {self.counted}{self.of_location}", self._address(),
                int(value("memsnap-full-every")), float(value("memsnap-full-seconds")))
            if self.heap:
                record.heap = snapshot_census(target, True, _warn, not self.said_cost)
                self.said_cost = self.said_cost or record.heap is not None
            take(target=target, location=self._where(target),  # type: ignore[arg-type]
                 record=record)
        except Exception as exc:
            _warn(report_failure(f"no snapshot at hit {self.counted}", exc))
        return self.stop_here
