"""Every cache gdbmem keeps between commands, in one registry: each says what makes it stale,
in the words of gdb's events (and gdbmem's own, like the snapshots being cleared), and is
emptied when one of them happens. commands/events.py connects gdb's events to `stale()`;
nothing else evicts, but a cache's bound (when full, it starts again empty).

A cache keyed by what it depends on (a pid, a program's file) would give no wrong answer if
an event were missed; the events free what it holds (a dead process's open /proc files) and
keep a pid that is used again from finding an old entry.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Generic, TypeVar

# The events (commands/events.py says which of gdb's each is).
EXITED = "exited"  # a process gdb debugged is gone (exit, kill, detach)
EXEC = "exec"  # a process replaced its address space (gdb cleared its objfiles)
NEW_PROGRAM = "new-program"  # gdb's objfiles were cleared or loaded (`file`, a run, an exec)
INFERIOR_DELETED = "inferior-deleted"
SNAPSHOTS_CLEARED = "snapshots-cleared"  # memsnap clear
COMMAND_DONE = "command-done"  # a command of gdbmem's has written its report
RESUMED = "resumed"  # the process ran on, or the user wrote its memory or registers
EVENTS = (EXITED, EXEC, NEW_PROGRAM, INFERIOR_DELETED, SNAPSHOTS_CLEARED, COMMAND_DONE, RESUMED)

K = TypeVar("K")
V = TypeVar("V")


class Cache(dict, Generic[K, V]):  # type: ignore[type-arg]
    """A bounded dict that is emptied by the events it names (and when full)."""

    def __init__(self, name: str, limit: int, stale_on: Iterable[str], why: str,
                 close: Callable[[V], object] | None = None):
        super().__init__()
        unknown = set(stale_on) - set(EVENTS)
        if unknown:
            raise ValueError(f"no such event: {', '.join(sorted(unknown))}")
        self.name = name
        self.limit = limit
        self.stale_on = frozenset(stale_on)
        self.why = why  # what it keeps, and why those events make it stale
        self.close = close  # what to do with a value let go (an open file: close it)
        REGISTRY.append(self)

    # A cache is itself, never equal to another that holds the same (the registry holds
    # each once, and finds each by identity).
    __eq__ = object.__eq__  # type: ignore[assignment]
    __hash__ = object.__hash__  # type: ignore[assignment]

    def put(self, key: K, value: V) -> None:
        if key not in self and len(self) >= self.limit:
            self.clear()
        self[key] = value

    def put_all(self, items: Iterable[tuple[K, V]]) -> None:
        for key, value in items:
            self.put(key, value)

    def take(self, key: K) -> V | None:
        """The value, removed (its holder puts it back when it is still good)."""
        return self.pop(key, None)

    def clear(self) -> None:
        if self.close is not None:
            for value in self.values():
                self.close(value)
        super().clear()


REGISTRY: list[Cache] = []


def stale(event: str) -> list[str]:
    """Empty every cache that `event` makes stale; the names of those that held anything."""
    emptied = []
    for cache in REGISTRY:
        if event in cache.stale_on:
            if cache:
                emptied.append(cache.name)
            cache.clear()
    return emptied
