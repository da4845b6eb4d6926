"""gdbmem: where a process's memory is and why it grows.

Inside gdb, after `source gdbinit.py`, the same data the commands print is here for scripts:

    import gdbmem
    for region in gdbmem.regions():          # every mapping of the selected inferior
        print(region.kind, hex(region.start), region.rss_kb)
    gdbmem.region_at("$sp")                  # the Region holding an address, or None

Only `regions()` and `region_at()` need gdb; the rest of the package (gdbmem.proc,
gdbmem.model, gdbmem.kinds, gdbmem.analysis, gdbmem.render) is plain Python.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

if TYPE_CHECKING:
    from gdbmem.model import Region


def regions() -> list[Region]:
    """Every region of the selected inferior, with smaps fields, kind and owning thread."""
    from gdbmem.target import current

    return current().regions()


def region_at(address: Any) -> Region | None:
    """The region holding `address` (an int, a gdb.Value or an expression string), or None."""
    from gdbmem.analysis.lookup import find_region
    from gdbmem.target.symbols import evaluate_address
    from gdbmem.units import MASK64

    if isinstance(address, str):
        address = evaluate_address(address)
    return find_region(regions(), int(address) & MASK64)
