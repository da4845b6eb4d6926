"""gdb's events, in gdbmem's words: each empties the caches it makes stale (gdbmem.caches)
and ends memtrace's account of an address space that has gone.

  exited            a process gdb debugged is gone        -> EXITED; its account ends
  clear_objfiles    gdb dropped a program's symbols: with a live process, an exec (the
                    address space was replaced)           -> EXEC and NEW_PROGRAM; its
                    account ends; else `file`, a new run  -> NEW_PROGRAM
  new_objfile       a program or library was loaded       -> NEW_PROGRAM
  inferior_deleted  `remove-inferiors`                    -> INFERIOR_DELETED
  cont, memory_changed, register_changed
                    the process runs on, or the user changed it  -> RESUMED (the heap walked
                    at this stop is no longer the heap)
  before_prompt     the page gdb has at its prompt (settings.py: is output redirected?)

A `kill` is seen at the next traced call or report: another pid stands where the account's
was (commands/memtrace.py), and its caches are keyed by pid.
"""

from __future__ import annotations

import gdb  # type: ignore[import-not-found]

from gdbmem.caches import EXEC, EXITED, INFERIOR_DELETED, NEW_PROGRAM, RESUMED, stale
from gdbmem.commands import settings
from gdbmem.commands.state import State


def connect(state: State) -> None:
    """Connect gdb's events to the caches and to `state`'s tracer (once, at registering)."""

    def exited(event) -> None:
        inferior = getattr(event, "inferior", None)
        pid = getattr(inferior, "pid", 0) or 0
        stale(EXITED)
        if pid:
            state.tracer.ended(pid, "exited")
        if state.tracer.heaptrack is not None:
            state.tracer.heaptrack.exited()

    def cleared(event) -> None:
        stale(NEW_PROGRAM)
        progspace = getattr(event, "progspace", None)
        for inferior in gdb.inferiors():
            if inferior.pid and (progspace is None or inferior.progspace == progspace):
                stale(EXEC)
                state.tracer.ended(inferior.pid, "exec")

    gdb.events.exited.connect(exited)
    gdb.events.before_prompt.connect(settings.note_prompt)
    gdb.events.clear_objfiles.connect(cleared)
    gdb.events.new_objfile.connect(lambda event: stale(NEW_PROGRAM))
    gdb.events.inferior_deleted.connect(lambda event: stale(INFERIOR_DELETED))
    for changed in (gdb.events.cont, gdb.events.memory_changed, gdb.events.register_changed):
        changed.connect(lambda event: stale(RESUMED))
