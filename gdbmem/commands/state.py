"""What gdbmem keeps between commands, with one owner each, made once when the commands are
registered (never at import): the snapshots of this gdb session (store/session.py) and
memtrace's accounts (commands/memtrace.py's Tracer). Caches are not here: each is a
gdbmem.caches.Cache, emptied by the gdb events it names (events.py)."""

from __future__ import annotations

from gdbmem.errors import UsageError
from gdbmem.store.session import Session


class State:
    def __init__(self) -> None:
        from gdbmem.commands.memtrace import Tracer

        self.session = Session()
        self.tracer = Tracer(self.session)


_state: State | None = None


def create() -> State:
    global _state
    _state = State()
    return _state


def registered() -> State | None:
    """The state, if the commands are registered (None in a plain Python)."""
    return _state


def state() -> State:
    if _state is None:
        raise UsageError("gdbmem's commands are not registered: source gdbinit.py")
    return _state
