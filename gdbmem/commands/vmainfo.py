"""vmainfo ADDR: the mapping that holds an address, and everything known about it."""

from __future__ import annotations

import argparse

import gdb  # type: ignore[import-not-found]
import numpy as np

from gdbmem.analysis.lookup import describe_address
from gdbmem.commands.base import ArgumentParser, Command, write
from gdbmem.commands.heapview import heap_view, mmapped_chunk_at, name_of, walked
from gdbmem.commands.settings import text_style
from gdbmem.commands.state import state
from gdbmem.errors import GdbmemError, UsageError
from gdbmem.heap.census import block_types, chunk_info
from gdbmem.render.vmainfo import address_report
from gdbmem.target import current
from gdbmem.target.symbols import evaluate_address, symbol_at
from gdbmem.trace.fold import Frame, site_frame


def _chunk(target, address: int, region) -> dict | None:
    """The malloc chunk that holds `address`, for an address in a heap, an arena or an
    anonymous mapping (a chunk mmapped on its own: one at the mapping's start, or any once
    the heap was walked at this stop); None elsewhere, or when the heap cannot be read
    (memheap says why)."""
    if region.kind not in ("heap", "arena", "anon"):
        return None
    try:
        if (region.kind == "anon" and not walked(target)
                and not mmapped_chunk_at(target, region, address)):
            return None  # no heap to walk for an anonymous address that is no chunk
        view = heap_view(target)
    except GdbmemError:
        return None

    def type_of(k: int) -> str:
        chosen = np.array([k], dtype=np.int64)
        return view.read(lambda mem: block_types(mem, view.heap, chosen, view.regions,
                                                 name_of)).name(0)

    chunk = chunk_info(view.heap, address, type_of, view.leaks)
    heaptrack = state().tracer.heaptrack
    if chunk is not None and heaptrack is not None and chunk["state"] == "in use":
        found = heaptrack.site_of(chunk["address"])
        chunk["allocated_by"] = ({"requested": found[0], **found[1].to_dict()}
                                 if found is not None else None)
    return chunk


def _mapped_by(address: int) -> Frame | None:
    """The call site whose traced call mapped the range holding `address` (memtrace)."""
    frames = state().tracer.holder_site(address)
    return site_frame(frames) if frames else None


parser = ArgumentParser(
    "vmainfo",
    "Show the mapping that holds an address, and everything known about it.",
    usage="vmainfo [-h] [--json] [--bytes N] ADDR",
    epilog="""\
ADDR is any gdb expression. The report names the region (bounds, size, perms, kind, path,
owning thread), the offset into the region and into its file, the symbol and section,
whether the page is resident, swapped or not present (pagemap), the region's smaps
fields, the call that mapped it when memtrace traced it, the malloc chunk that holds it
(inside a heap: its size, in use or free and where, its type, and lost or reachable when
memleak ran at this stop), and the bytes at the address as a
hexdump (--bytes N, 32 by default, 0 for none;
?? where unreadable). For an unmapped address it names the nearest regions below and above.

Examples:
  vmainfo $sp                    which stack, which thread
  vmainfo ptr                    a heap pointer: heap, arena or anonymous block?
  vmainfo &global_counter        the executable's .data or .bss
  vmainfo 0x7ffff7dd3000 --json  the same as a JSON object
See also the functions $vma_start(ADDR) and $vma_end(ADDR): x/8gx $vma_start($sp)""")
parser.add_argument("address", nargs="+", metavar="ADDR", help="a gdb expression")
parser.add_argument("--json", action="store_true", help="print a JSON object")
parser.add_argument("--bytes", type=int, default=32, metavar="N",
                    help="show the N bytes at the address as a hexdump (default 32, 0: none)")
_MOST_BYTES = 1 << 16


class VmainfoCommand(Command):
    parser = parser
    words = gdb.COMPLETE_EXPRESSION  # and options after '-'

    def run(self, args: argparse.Namespace, from_tty: bool) -> None:
        target = current()  # first: with no process, say so (not "No registers")
        # Expressions may hold spaces ($sp + 8): argv splitting took them apart.
        address = evaluate_address(" ".join(args.address))
        info = describe_address(target.regions(), address)
        symbol = symbol_at(address) if info.mapped else None
        page = target.page_state(address) if info.mapped else None
        if not 0 <= args.bytes <= _MOST_BYTES:
            raise UsageError(f"--bytes takes a count from 0 to {_MOST_BYTES}")
        data = target.read_bytes(address, args.bytes) if info.mapped else []
        write(address_report(info, symbol, page, args.json, text_style(from_tty), data,
                             _mapped_by(address) if info.mapped else None,
                             target.why_unknown("page state") or "pagemap unreadable",
                             _chunk(target, address, info.region) if info.mapped else None))
