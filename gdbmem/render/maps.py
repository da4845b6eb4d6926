"""memmap's layouts: the annotated table, pmap's -x, -d and -X, and --group."""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from operator import attrgetter
from typing import NamedTuple

from gdbmem.analysis.select import (
    Group,
    Selection,
    group_regions,
    select,
    sort_groups,
    sort_regions,
)
from gdbmem.analysis.totals import (
    ProcessSummary,
    field_totals,
    pmap_device_totals,
    process_summary,
    sum_figures,
    totals,
)
from gdbmem.errors import UsageError
from gdbmem.model import Region, Snapshot
from gdbmem.render import jsonout
from gdbmem.render.color import FIGURE, KIND_TOKENS
from gdbmem.render.table import PLAIN, Column, TextStyle, render_table
from gdbmem.units import UNKNOWN, format_kb, kb_formatter


def _figure(text: str):
    return FIGURE


def mapping_label(region: Region) -> str:
    """The Mapping cell: the kernel's name, plus the owning thread of a stack or guard."""
    if region.thread is None:
        return region.path
    owner = f"[thread {region.thread}, LWP {region.lwp}]"
    return f"{region.path} {owner}" if region.path else owner


def _hexes(values: list) -> list:
    """hex() of each; '?' where unknown (a pmap -x capture has no offsets)."""
    if None in values:
        return [UNKNOWN if v is None else hex(v) for v in values]
    return list(map(hex, values))


def _or_blank(cells: list) -> list:
    return [c or "" for c in cells] if None in cells else cells


def _mapping_labels(regions: Sequence[Region], paths: list[str], threads: list) -> list[str]:
    """mapping_label of every region; most have no thread, so only those are redone."""
    if threads.count(None) != len(threads):
        for i, thread in enumerate(threads):
            if thread is not None:
                paths[i] = mapping_label(regions[i])
    return paths


MAP_COLUMNS = (
    Column("Start"), Column("End"), Column("Size"), Column("Offset"), Column("Perms", "<"),
    Column("RSS", token=_figure), Column("PSS"), Column("Dirty"), Column("Swap"),
    Column("Kind", "<", KIND_TOKENS.get), Column("Mapping", "<", clean=False),
)


def region_table(regions: Sequence[Region], human: bool = True, style: TextStyle = PLAIN,
                 with_totals: bool = True) -> str:
    """memmap's default table: one row per region and a totals row."""
    f = kb_formatter(human)

    def column(attribute: str) -> list:
        return list(map(attrgetter(attribute), regions))

    starts, ends = column("start"), column("end")
    sizes = [(end - start) >> 10 for start, end in zip(starts, ends)]
    figures = [column(name) for name in ("rss_kb", "pss_kb", "dirty_kb", "swap_kb")]
    cells = [
        list(map(hex, starts)), list(map(hex, ends)), list(map(f, sizes)),
        _hexes(column("offset")), column("perms"),
        *(list(map(f, values)) for values in figures),
        _or_blank(column("kind")),
        _mapping_labels(regions, column("path"), column("thread")),
    ]
    if with_totals:  # analysis.totals.totals(), from the columns already gathered
        count = len(regions)
        footer = ("", "", f(sum(sizes)), "", "", *(f(sum_figures(v)) for v in figures), "",
                  f"total of {count} region{'s' if count != 1 else ''}")
        for column_cells, cell in zip(cells, footer):
            column_cells.append(cell)
    return render_table(MAP_COLUMNS, cells, style)


def summary_line(summary: ProcessSummary, human: bool = True) -> str:
    f = format_kb
    return (f"process: RSS {f(summary.rss_kb, human)}  PSS {f(summary.pss_kb, human)}  "
            f"USS {f(summary.uss_kb, human)}  Swap {f(summary.swap_kb, human)}  "
            f"SwapPss {f(summary.swap_pss_kb, human)}  ({_SOURCES[summary.source]})\n")


_SOURCES = {"smaps_rollup": "from smaps_rollup", "regions": "summed over the regions"}


GROUP_COLUMNS = (
    Column("Regions"), Column("Size"), Column("RSS", token=_figure), Column("PSS"), Column("USS"),
    Column("Dirty"), Column("Swap"), Column("Kind", "<", KIND_TOKENS.get),
    Column("Mapping", "<", clean=False),
)


def group_table(groups: Sequence[Group], human: bool = True, style: TextStyle = PLAIN) -> str:
    """One row per mapping name, the figures of all its regions summed (like smem -m)."""
    f = kb_formatter(human)
    rows = []
    for g in groups:
        t = totals(g.regions)
        uss_kb = sum_figures([r.uss_kb for r in g.regions])
        rows.append((str(t.count), f(t.size_kb), f(t.rss_kb), f(t.pss_kb), f(uss_kb),
                     f(t.dirty_kb), f(t.swap_kb), g.kind, g.name))
    return render_table(GROUP_COLUMNS, list(zip(*rows)) or [[] for _ in GROUP_COLUMNS], style)


def _pmap_mode(perms: str) -> str:
    return perms[:3] + ("s" if perms[3] == "s" else "-") + "-"


def _pmap_name(region: Region) -> str:
    """pmap's Mapping column: a file's base name, '[ stack ]', '[ shmid=0x… ]' or '[ anon ]'."""
    if region.path.startswith("/SYSV"):
        return f"  [ shmid=0x{region.inode:x} ]"
    if "/" in region.path:
        return os.path.basename(region.path) or region.path
    if region.path == "[stack]":
        return "  [ stack ]"
    return "  [ anon ]"


def pmap_extended(regions: Sequence[Region], pid: int, cmdline: str) -> str:
    """Exactly `pmap -x PID`: Kbytes, RSS and Dirty per region and the `total kB` line."""
    lines = [f"{pid}:   {cmdline}", "Address           Kbytes     RSS   Dirty Mode  Mapping"]
    na = UNKNOWN
    for r in regions:
        rss = na if r.rss_kb is None else r.rss_kb
        dirty = na if r.dirty_kb is None else r.dirty_kb
        lines.append(f"{r.start:016x} {r.size_kb:7} {rss:>7} {dirty:>7} {_pmap_mode(r.perms)} "
                     f"{_pmap_name(r)}")
    t = totals(regions)
    rss_total = na if t.rss_kb is None else t.rss_kb
    dirty_total = na if t.dirty_kb is None else t.dirty_kb
    lines.append("---------------- ------- ------- ------- ")
    lines.append(f"total kB {t.size_kb:15} {rss_total:>7} {dirty_total:>7}")
    return "\n".join(lines) + "\n"


def pmap_device(regions: Sequence[Region], pid: int, cmdline: str) -> str:
    """Exactly `pmap -d PID`: offsets and devices, and the mapped/writeable/shared line."""
    lines = [f"{pid}:   {cmdline}",
             "Address           Kbytes Mode  Offset           Device    Mapping"]
    for r in regions:
        major, _, minor = r.dev.partition(":")
        lines.append(f"{r.start:016x} {r.size_kb:7} {_pmap_mode(r.perms)} {r.offset:016x} "
                     f"{int(major, 16):03x}:{int(minor or '0', 16):05x} {_pmap_name(r)}")
    d = pmap_device_totals(regions)
    lines.append(f"mapped: {d.mapped_kb}K    writeable/private: {d.writeable_private_kb}K    "
                 f"shared: {d.shared_kb}K")
    return "\n".join(lines) + "\n"


def field_names(regions: Sequence[Region]) -> list[str]:
    """Every smaps field any region has, in the kernel's order."""
    names: dict[str, None] = {}
    for r in regions:
        for name in r.fields:
            names.setdefault(name, None)
    return list(names)


def smaps_table(regions: Sequence[Region], style: TextStyle = PLAIN) -> str:
    """-X: every smaps field of every region, in kB, with a totals row."""
    names = field_names(regions)
    columns = [Column("Address"), Column("Perm", "<"), Column("Offset"), Column("Device"),
               Column("Inode")]
    columns += [Column(name, "<" if name == "VmFlags" else ">") for name in names]
    columns.append(Column("Mapping", "<", clean=False))
    rows = []
    for r in regions:
        row = [f"{r.start:x}", r.perms, f"{r.offset:08x}", r.dev, str(r.inode)]
        for name in names:
            value = r.fields.get(name)
            row.append(UNKNOWN if value is None else " ".join(value) if isinstance(value, list)
                       else str(value))
        row.append(mapping_label(r))
        rows.append(row)
    summed = [n for n in names if n not in _NOT_SUMMED]
    sums = field_totals(regions, summed)
    rows.append(["", "", "", "", "total"]
                + [format_kb(sums[n], human=False) if n in sums else "" for n in names]
                + [f"kB, {len(regions)} regions"])
    return render_table(columns, list(zip(*rows)), style)


# Page sizes and flags are not amounts: a sum of them means nothing.
_NOT_SUMMED = {"KernelPageSize", "MMUPageSize", "THPeligible", "ProtectionKey", "VmFlags"}


LAYOUTS = ("table", "pmap-x", "pmap-d", "every-field", "json")


def group_json(groups: Sequence[Group]) -> list[dict]:
    out = []
    for g in groups:
        t = totals(g.regions)
        out.append({"name": g.name, "kind": g.kind, "regions": t.count, "size_kb": t.size_kb,
                    "rss_kb": t.rss_kb, "pss_kb": t.pss_kb,
                    "uss_kb": sum_figures([r.uss_kb for r in g.regions]),
                    "dirty_kb": t.dirty_kb, "swap_kb": t.swap_kb})
    return out


_EVERYTHING = Selection()


class MapOptions(NamedTuple):
    """What a map report shows: the regions `selection` keeps, sorted by `sort`, the first
    `top`, in one of LAYOUTS; with `group`, one row per mapping name (or kind, for unnamed
    memory), sorted and cut as groups; sizes human-readable or in plain kB."""

    selection: Selection = _EVERYTHING
    sort: str | None = None
    top: int | None = None
    layout: str = "table"
    group: bool = False
    human: bool = True


_ALL = MapOptions()


def map_report(snapshot: Snapshot, options: MapOptions = _ALL,
               style: TextStyle = PLAIN, cmdline: Callable[[], str] = str) -> str:
    """memmap, and gdbmem map: the snapshot as `options` says. cmdline() gives pmap's first
    line; it is asked only for pmap's layouts."""
    selection, sort, top, layout, group, human = options
    if group and layout not in ("table", "json"):
        raise UsageError("--group goes with the default table or --json, not pmap's layouts")
    regions = select(snapshot.regions, selection)
    if group:
        groups = group_regions(regions)
        groups = sort_groups(groups, sort) if sort else groups
        groups = groups[:top] if top is not None else groups
        if layout == "json":
            return jsonout.report(group_json(groups), style)
        if not groups:
            raise UsageError("no region matches")
        return group_table(groups, human, style)
    regions = sort_regions(regions, sort) if sort else regions
    regions = regions[:top] if top is not None else regions
    if layout == "json":
        return jsonout.report((r.to_dict() for r in regions), style)
    if not regions:
        raise UsageError("no region matches")
    if layout == "pmap-x":
        return pmap_extended(regions, snapshot.pid, cmdline())
    if layout == "pmap-d":
        return pmap_device(regions, snapshot.pid, cmdline())
    if layout == "every-field":
        return smaps_table(regions, style)
    return (region_table(regions, human, style)
            + summary_line(process_summary(snapshot.rollup, snapshot.regions), human))
