"""A core file: one moment of a process, and no /proc.

The map comes from the core itself (its PT_LOAD segments and NT_FILE note, proc/core.py):
bounds, perms and files, but no RSS, PSS, Dirty or Swap (shown as '?'), no page state, and
none of the kernel's names ([heap], [vsyscall]), which name_regions() gives back. Memory and
threads come through gdb, which reads them from the core.
"""

from __future__ import annotations

import re

import gdb  # type: ignore[import-not-found]

from gdbmem.errors import ParseError, TargetError
from gdbmem.kinds import name_core_regions
from gdbmem.model import Region
from gdbmem.proc.core import core_regions
from gdbmem.store.record import Record
from gdbmem.target.gdbtarget import GdbTarget


class CoreFile(GdbTarget):
    cannot_know = ("RSS, PSS, Dirty and Swap: not in a core", "page state: not in a core",
                   "/proc: not in a core")

    def path(self) -> str:
        """The core file gdb has open (`info target` names it)."""
        text = gdb.execute("info target", to_string=True)
        m = re.search(r"Local core dump file:\s*`(.+)', file type", text)
        if m is None:
            raise TargetError("cannot tell which core file gdb has open")
        return m.group(1)

    def note(self) -> str:
        return f"core file {self.path()}: RSS, PSS, Dirty and Swap are not in a core (shown as ?)"

    def read_proc(self, name: str, keep_open: bool = False) -> bytes:
        raise TargetError("this is a core file: it has no /proc (the map comes from the core)")

    def record(self, label: str = "", pc: int | None = None) -> Record:
        raise TargetError("a core file is one moment: memsnap needs a live process")

    def measured_map(self, with_rollup: bool) -> tuple[list[Region], dict | None]:
        return self.maps(), None

    def maps(self) -> list[Region]:
        """The core's map, unclassified: snapshot() names the kinds."""
        path = self.path()
        try:
            with open(path, "rb") as fh:
                def read(offset: int, size: int) -> bytes:
                    fh.seek(offset)
                    return fh.read(size)
                return core_regions(read)
        except OSError as exc:
            raise TargetError(f"cannot read the core file {path}: {exc.strerror}") from None
        except ParseError as exc:
            raise TargetError(f"unexpected core file {path}: {exc}") from None

    def name_regions(self, regions: list[Region]) -> None:
        name_core_regions(regions)  # a core keeps none of the kernel's names
