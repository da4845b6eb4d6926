"""What every target answers through gdb alike: the inferior, its threads, its memory.

Everything here turns gdb's failures into TargetError, so the layers above see one error type.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import gdb  # type: ignore[import-not-found]

from gdbmem.caches import EXEC, EXITED, INFERIOR_DELETED, Cache
from gdbmem.errors import TargetError
from gdbmem.kinds import ThreadStackPointer
from gdbmem.target.base import Target
from gdbmem.units import MASK64

# Each thread's stack pointer at the last stop that could read it, by (pid, LWP): a stack
# does not move while its thread lives, so it names the stack of a thread running now.
KNOWN_STACKS: Cache[tuple[int, int], int] = Cache(
    "thread stacks", 1 << 14, {EXITED, EXEC, INFERIOR_DELETED},
    "a thread's stack lives as long as its address space: an exec or an exit takes it")


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

    def remember_stack(self, lwp: int, sp: int) -> None:
        KNOWN_STACKS.put((self.pid, lwp), sp)

    def stack_of_running(self, lwp: int, thread: gdb.InferiorThread | None) -> int | None:
        """An address inside the stack of a thread that runs now (gdb 13 runs all-stop on a
        non-stop target: while a breakpoint's stop() runs, the other threads run on, and
        their registers cannot be read): its stack pointer at an earlier stop, else its
        pthread_t, which glibc places at the top of the thread's own stack mapping. None
        for the main thread (its pthread_t is not on its stack; the kernel names [stack])."""
        known = KNOWN_STACKS.get((self.pid, lwp))
        if known is not None or thread is None or lwp == self.pid:
            return known
        try:
            handle = thread.handle()
        except (gdb.error, RuntimeError, AttributeError, NotImplementedError):
            return None
        return int.from_bytes(handle, "little") or None if handle else None

    def stack_pointers_by_switching(self) -> list[ThreadStackPointer]:
        """Each stopped thread's $sp, read by switching gdb to it (the selection is put back)."""
        out = []
        with selection_kept():
            for thread in self.inferior.threads():
                if not thread.is_valid() or thread.is_exited():
                    continue
                lwp = thread.ptid[1] or self.pid
                if thread.is_running():  # no registers to read: find its stack another way
                    sp = self.stack_of_running(lwp, thread)
                    if sp is not None:
                        out.append(ThreadStackPointer(thread.num, lwp, sp))
                    continue
                try:
                    thread.switch()
                    sp = int(gdb.parse_and_eval("$sp")) & MASK64
                except gdb.error:
                    continue
                self.remember_stack(lwp, sp)
                out.append(ThreadStackPointer(thread.num, lwp, sp))
        return out


@contextlib.contextmanager
def selection_kept() -> Iterator[None]:
    """gdb's selected thread and frame, put back after the block switched threads."""
    selected = gdb.selected_thread()
    try:
        frame = gdb.selected_frame()
    except gdb.error:
        frame = None
    try:
        yield
    finally:
        if selected is not None and selected.is_valid():
            selected.switch()
            if frame is not None and frame.is_valid():
                frame.select()
