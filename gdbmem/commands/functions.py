"""$vma_start(ADDR) and $vma_end(ADDR): the bounds of the region holding ADDR, for gdb
expressions like `x/8gx $vma_start($sp)` or `dump memory f $vma_start(p) $vma_end(p)`."""

from __future__ import annotations

import gdb  # type: ignore[import-not-found]

from gdbmem.analysis.lookup import find_region
from gdbmem.commands.base import report_failure
from gdbmem.target import current
from gdbmem.target.symbols import value_address


def _region_of(name: str, values: tuple):
    if len(values) != 1:
        raise gdb.GdbError(f"${name} takes one address: ${name}(ADDR), like ${name}($sp)")
    try:
        address = value_address(values[0], "its argument")
        region = find_region(current().maps(), address)
    except (Exception, KeyboardInterrupt) as exc:  # one line, as every command's
        raise gdb.GdbError(report_failure(f"${name}", exc)) from None
    if region is None:
        raise gdb.GdbError(f"${name}: {address:#x} is not mapped")
    return region


def _pointer(address: int) -> gdb.Value:
    return gdb.Value(address).cast(gdb.lookup_type("void").pointer())


class VmaStart(gdb.Function):
    """$vma_start(ADDR): the start of the mapping that holds ADDR, as a void *.
Example: x/8gx $vma_start($sp)"""

    def __init__(self) -> None:
        super().__init__("vma_start")

    def invoke(self, *values: gdb.Value) -> gdb.Value:
        return _pointer(_region_of("vma_start", values).start)


class VmaEnd(gdb.Function):
    """$vma_end(ADDR): the end (one past the last byte) of the mapping that holds ADDR.
Example: dump memory heap.bin $vma_start(p) $vma_end(p)"""

    def __init__(self) -> None:
        super().__init__("vma_end")

    def invoke(self, *values: gdb.Value) -> gdb.Value:
        return _pointer(_region_of("vma_end", values).end)
