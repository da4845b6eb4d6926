"""One error type per layer; the command edge turns each into a one-line gdb error."""

from __future__ import annotations


class GdbmemError(Exception):
    """Base of every error gdbmem reports to a user as one line."""


class ParseError(GdbmemError):
    """A /proc file or a capture that is not what the kernel writes."""

    def __init__(self, message: str, line_number: int | None = None, line: str | None = None):
        self.line_number = line_number
        self.line = line
        where = f"line {line_number}: " if line_number is not None else ""
        shown = f": {line[:80]!r}" if line is not None else ""
        super().__init__(f"{where}{message}{shown}")


class UsageError(GdbmemError):
    """A bad argument, option or filter typed by the user."""


class TargetError(GdbmemError):
    """The process cannot answer: no process, exited, unreadable /proc, unmapped address."""


class OutputError(GdbmemError):
    """A file that cannot be written: it exists, its directory is not writable, the disk is full."""


class HeapError(GdbmemError):
    """malloc's heap cannot be read as glibc lays it out: another allocator, a corrupted
    chunk, an arena in the middle of a change."""
