"""Sums over regions, and the process summary, the way pmap and smem count them."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from operator import attrgetter
from typing import Any, NamedTuple

from gdbmem.model import Region, field_columns


class Totals(NamedTuple):
    """Sums in kB; a figure is None when a region does not know it (a core file, maps only)."""

    count: int
    size_kb: int
    rss_kb: int | None
    pss_kb: int | None
    dirty_kb: int | None
    swap_kb: int | None


def sum_figures(values: list[int | None]) -> int | None:
    """The sum; unknown (None) when any figure is unknown: a total over a region whose
    figures are cut off (a truncated capture) or absent (a core, maps only) is not known."""
    if None in values:
        return None
    return sum(values)  # type: ignore[arg-type]


def totals(regions: Sequence[Region]) -> Totals:
    def column(attribute: str) -> list[int | None]:
        return list(map(attrgetter(attribute), regions))

    return Totals(
        count=len(regions),
        size_kb=sum(column("size_kb")),  # type: ignore[arg-type]
        rss_kb=sum_figures(column("rss_kb")),
        pss_kb=sum_figures(column("pss_kb")),
        dirty_kb=sum_figures(column("dirty_kb")),
        swap_kb=sum_figures(column("swap_kb")),
    )


def field_totals(regions: Sequence[Region], names: Sequence[str]) -> dict[str, int | None]:
    """Sum of each named integer field (pmap -X's bottom line)."""
    return {name: sum_figures([v if isinstance(v, int) else None for v in values])
            for name, values in zip(names, field_columns(regions, names))}


class PmapDevice(NamedTuple):
    """pmap -d's last line: mapped, writeable/private and shared, in kB."""

    mapped_kb: int
    writeable_private_kb: int
    shared_kb: int


def pmap_device_totals(regions: Iterable[Region]) -> PmapDevice:
    mapped = private = shared = 0
    for r in regions:
        size = r.size_kb
        mapped += size
        if r.perms[3] == "s":
            shared += size
        elif r.perms[1] == "w":
            private += size
    return PmapDevice(mapped, private, shared)


class ProcessSummary(NamedTuple):
    """Whole-process figures in kB: USS is what only this process maps (Private_*)."""

    rss_kb: int | None
    pss_kb: int | None
    uss_kb: int | None
    swap_kb: int | None
    swap_pss_kb: int | None
    source: str  # "smaps_rollup", or "regions" (summed here: no rollup in the capture)


def process_summary(rollup: Mapping[str, Any] | None, regions: Sequence[Region]) -> ProcessSummary:
    if rollup:
        def get(name: str) -> int | None:
            value = rollup.get(name)
            return value if isinstance(value, int) else None
        source = "smaps_rollup"
    else:
        sums = field_totals(regions, ("Rss", "Pss", "Private_Clean", "Private_Dirty", "Swap",
                                      "SwapPss"))
        get = sums.get
        source = "regions"
    clean, dirty = get("Private_Clean"), get("Private_Dirty")
    return ProcessSummary(get("Rss"), get("Pss"),
                          None if clean is None or dirty is None else clean + dirty,
                          get("Swap"), get("SwapPss"), source)
