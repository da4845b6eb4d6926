"""Helpers the unit tests share: the captured /proc fixtures, the classified layout, and a
target of our own that answers from those files, so what is built on Target (snapshots,
records, skipped pages, reports) is tested without gdb."""

from __future__ import annotations

from pathlib import Path

from gdbmem.kinds import ThreadStackPointer, classify
from gdbmem.model import Region
from gdbmem.proc import parse_maps, parse_smaps, parse_smaps_rollup
from gdbmem.target import Target

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT / "tests" / "fixtures"


def fixture(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


# What gdb gave at the stop where tests/fixtures/layout.* were captured (capture.sh).
EXE = "/work/main/testprogs/build/layout"
THREADS = [ThreadStackPointer(1, 5602, 0x7FFFFFFFD5C0),
           ThreadStackPointer(2, 5606, 0x7FFFF7DD1E90),
           ThreadStackPointer(3, 5607, 0x7FFFF7D90E90)]


def layout(threads=THREADS, read_memory=None) -> list[Region]:
    regions = parse_smaps(fixture("layout.smaps"))
    return classify(regions, exe=EXE, threads=threads, read_memory=read_memory)


class FakeTarget(Target):
    """The layout testprog as captured: its smaps, rollup and maps files, its threads, and
    memory and pages as the test says (`memory`: address -> bytes; `absent`: page runs)."""

    def __init__(self, pid: int = 5602, memory: dict[int, bytes] | None = None,
                 absent: list[tuple[int, int]] | None = None, alive: bool = True):
        self.pid = pid
        self.memory = memory or {}
        self.absent = absent or []
        self.alive = alive
        self.proc = {"smaps": fixture("layout.smaps"), "maps": fixture("layout.maps"),
                     "cmdline": b"layout\0/tmp/x\0"}

    def read_proc(self, name: str, keep_open: bool = False) -> bytes:
        return self.proc[name]

    def measured_map(self, with_rollup: bool) -> tuple[list[Region], dict | None]:
        rollup = parse_smaps_rollup(fixture("layout.smaps_rollup")) if with_rollup else None
        return parse_smaps(self.proc["smaps"]), rollup

    def maps(self) -> list[Region]:
        return parse_maps(self.proc["maps"])

    def exe(self) -> str:
        return EXE

    def thread_stack_pointers(self) -> list[ThreadStackPointer]:
        return list(THREADS)

    def read_memory(self, address: int, length: int) -> bytes | None:
        for start, data in self.memory.items():
            if start <= address < start + len(data):
                return data[address - start:address - start + length]
        return None

    def check_alive(self) -> None:
        from gdbmem.errors import TargetError

        if not self.alive:
            raise TargetError(f"process {self.pid} exited during the read")

    def absent_pages(self, first: int, last: int) -> list[tuple[int, int]]:
        return [(max(a, first), min(b, last)) for a, b in self.absent if a < last and b > first]


def older_saved_line(record) -> str:
    """A record in the older saved form gdbmem still reads: one JSON line, the smaps as a
    string (the header's fields are the codec's own, from the journal's form)."""
    import json

    from gdbmem.store.codec import framed

    header = json.loads(framed(record)[0])
    del header["smaps_bytes"]
    header["smaps"] = record.smaps.decode("utf-8", "surrogateescape")
    return json.dumps(header, separators=(",", ":"))
