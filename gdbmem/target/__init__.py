"""Which process gdb debugs: one class per kind of target, chosen once by `current()`.

  LocalProcess   (local.py)   a process on this machine: /proc, pagemap, /proc/PID/mem
  RemoteProcess  (remote.py)  a process behind gdbserver: /proc through `remote get`
  CoreFile       (core.py)    a core file: the map from the core, no figures, no /proc

What every kind answers, and what is built from those answers alike for all, is Target
(base.py), which imports no gdb; so does this module, and the unit tests build targets of
their own. What gdb says of expressions and symbols is in symbols.py.
"""

from __future__ import annotations

from gdbmem.errors import TargetError
from gdbmem.target.base import MemoryReader, Target

__all__ = ["MemoryReader", "Target", "current"]


def current() -> Target:
    """The selected inferior's target, as the class for its kind of connection."""
    import gdb  # type: ignore[import-not-found]

    inferior = gdb.selected_inferior()
    connection = getattr(inferior, "connection", None)
    kind = getattr(connection, "type", None) if connection is not None else None
    if kind == "core":
        from gdbmem.target.core import CoreFile

        return CoreFile(inferior, connection)
    if not inferior.pid:
        raise TargetError("no process: start one with `run` or `start`, or `attach PID`")
    if kind in ("remote", "extended-remote"):
        from gdbmem.target.remote import RemoteProcess

        return RemoteProcess(inferior, connection)
    from gdbmem.target.local import LocalProcess

    return LocalProcess(inferior, connection)
