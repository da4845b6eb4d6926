"""What every target answers through gdb alike: the inferior, its threads, its memory.

Everything here turns gdb's failures into TargetError, so the layers above see one error type.
"""

from __future__ import annotations

import gdb  # type: ignore[import-not-found]

from gdbmem.errors import TargetError
from gdbmem.kinds import ThreadStackPointer
from gdbmem.target.base import Target
from gdbmem.units import MASK64


class GdbTarget(Target):
    """A target reached through gdb's selected inferior and its connection."""

    def __init__(self, inferior: gdb.Inferior, connection: object) -> None:
        self.inferior = inferior
        self.connection = connection
        self.pid = inferior.pid
        # With several inferiors, say which one a report is of.
        self.which = (f"inferior {inferior.num}, process {inferior.pid}"
                      if len(gdb.inferiors()) > 1 else "")

    def still_selected(self) -> bool:
        """Whether this is still the selected inferior's process, through the same connection
        (a breakpoint's hits keep one target: building one costs 10 us a hit)."""
        inferior = gdb.selected_inferior()
        return (inferior is self.inferior and inferior.pid == self.pid
                and getattr(inferior, "connection", None) is self.connection)

    def program(self) -> str:
        """The file gdb loaded for this inferior: its path on the target, maybe target:PATH."""
        name = getattr(self.inferior.progspace, "filename", None) or ""
        return name[len("target:"):] if name.startswith("target:") else name

    def exe(self) -> str:
        return self.program()

    def read_memory(self, address: int, length: int) -> bytes | None:
        try:
            return bytes(self.inferior.read_memory(address, length))
        except (gdb.MemoryError, gdb.error, ValueError, OverflowError):
            return None

    def check_alive(self) -> None:
        if not self.inferior.pid:
            raise TargetError("the process has exited")

    def current_pc(self) -> int | None:
        try:
            return int(gdb.newest_frame().pc())
        except (gdb.error, RuntimeError):
            return None

    def thread_stack_pointers(self) -> list[ThreadStackPointer]:
        return self.stack_pointers_by_switching()

    def stack_pointers_by_switching(self) -> list[ThreadStackPointer]:
        """Each stopped thread's $sp, read by switching gdb to it (the selection is put back)."""
        selected = gdb.selected_thread()
        try:
            frame = gdb.selected_frame()
        except gdb.error:
            frame = None
        out = []
        try:
            for thread in self.inferior.threads():
                if not thread.is_valid() or thread.is_running() or thread.is_exited():
                    continue  # non-stop mode: a running thread has no registers to read
                try:
                    thread.switch()
                    sp = int(gdb.parse_and_eval("$sp")) & MASK64
                except gdb.error:
                    continue
                out.append(ThreadStackPointer(thread.num, thread.ptid[1] or self.pid, sp))
        finally:
            if selected is not None and selected.is_valid():
                selected.switch()
                if frame is not None and frame.is_valid():
                    frame.select()
        return out
