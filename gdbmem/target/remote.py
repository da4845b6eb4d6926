"""A process behind gdbserver: its /proc is on the other machine.

Its files come through gdb's remote file access (`remote get`), its memory and threads
through gdb, never from the local /proc (a pid there is not a pid here). There is no pagemap
(page state unknown; a dump reads every page), and the process totals are summed from the
regions: a second transfer of smaps_rollup (and a second walk of every page there) would
cost more than the map itself.
"""

from __future__ import annotations

import os
import tempfile

import gdb  # type: ignore[import-not-found]

from gdbmem.errors import ParseError, TargetError
from gdbmem.model import Region
from gdbmem.proc import parse_maps, parse_smaps_chunks
from gdbmem.target.gdbtarget import GdbTarget

# On tmpfs where there is one: deleting a fresh 1 MB file on ext4 costs ~8 ms.
_SCRATCH = "/dev/shm" if os.access("/dev/shm", os.W_OK) else None


class RemoteProcess(GdbTarget):
    cannot_know = ("page state: no pagemap over gdbserver",)

    def read_proc(self, name: str, keep_open: bool = False) -> bytes:
        """/proc/PID/NAME of the remote machine, fresh each time."""
        path = f"/proc/{self.pid}/{name}"
        fd, local = tempfile.mkstemp(prefix="gdbmem-remote-", dir=_SCRATCH)
        os.close(fd)
        try:
            gdb.execute(f'remote get "{path}" "{local}"', to_string=True)
            with open(local, "rb") as fh:
                return fh.read()
        except gdb.error as exc:
            raise TargetError(f"cannot read {path} on the remote target: {exc}") from None
        finally:
            os.unlink(local)

    def measured_map(self, with_rollup: bool) -> tuple[list[Region], dict | None]:
        try:
            return parse_smaps_chunks([self.read_proc("smaps")], summed=True), None
        except ParseError as exc:
            raise TargetError(f"unexpected /proc/{self.pid}/smaps: {exc}") from None

    def maps(self) -> list[Region]:
        try:
            return parse_maps(self.read_proc("maps"))
        except ParseError as exc:
            raise TargetError(f"unexpected /proc/{self.pid}/maps: {exc}") from None
