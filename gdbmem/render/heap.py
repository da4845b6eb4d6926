"""memheap's and memleak's reports: the census, sampled blocks, and the lost blocks."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from gdbmem.heap.census import Census, Group, Types, arena_rows
from gdbmem.heap.chunks import IN_USE, Heap
from gdbmem.heap.reach import CATEGORIES, Leaks
from gdbmem.render import jsonout
from gdbmem.render.color import FIGURE
from gdbmem.render.table import PLAIN, Column, TextStyle, render_table
from gdbmem.render.vmainfo import hexdump
from gdbmem.trace.fold import Frame
from gdbmem.units import format_bytes


def _found_line(heap: Heap) -> str:
    version = ".".join(map(str, heap.layout.version))
    threads = sum(1 for t in heap.tcaches if t.thread is not None)
    arenas = len(heap.arenas)
    return (f"glibc {version} malloc: main_arena at {heap.main_arena:#x} (found by "
            f"{'libc' + chr(39) + 's symbols' if heap.found_by == 'symbols' else 'its structure'}"
            f"), {arenas} arena{'s' if arenas != 1 else ''}, {heap.n_mmaps} mmapped "
            f"chunk{'s' if heap.n_mmaps != 1 else ''}, {len(heap.tcaches)} tcache"
            f"{'s' if len(heap.tcaches) != 1 else ''}"
            f"{f' ({threads} named by their thread)' if threads else ''}")


def _pair(entry: dict) -> str:
    return f"{entry['chunks']} / {format_bytes(entry['bytes'])}" if entry["chunks"] else "-"


_ARENA_COLUMNS = (Column("Arena", "<"), Column("Heaps"), Column("System"),
                  Column("In use", token=lambda t: FIGURE), Column("Tcache"),
                  Column("Fastbins"), Column("Unsorted"), Column("Small bins"),
                  Column("Large bins"), Column("Top"), Column("Threads", "<"))


def arena_table(heap: Heap, style: TextStyle = PLAIN) -> str:
    rows = arena_rows(heap)
    cells = [(row["arena"], str(row["heaps"]), format_bytes(row["system_mem"]),
              _pair(row["in_use"]), *(_pair(v) for v in row["free"].values()),
              ",".join(map(str, row.get("threads", []))) or "-") for row in rows]
    return render_table(_ARENA_COLUMNS, list(zip(*cells)), style)


def _group_table(title: str, groups: Sequence[Group], limit: int, style: TextStyle,
                 key_text=str) -> str:
    shown = groups[:limit]
    cells = [(key_text(g.key), str(g.chunks), format_bytes(g.bytes)) for g in shown]
    columns = (Column(title, "<" if title == "Type" else ">", clean=title != "Type"),
               Column("Chunks"), Column("Bytes", token=lambda t: FIGURE))
    more = (f"... and {len(groups) - limit} more (--limit N)\n"
            if len(groups) > limit else "")
    return render_table(columns, list(zip(*cells)) or [[], [], []], style) + more


_LONGEST_TYPE = 72


def _type_text(name: object) -> str:
    """A type as a table shows it: a C++ template's name can run to hundreds of characters
    (--json keeps it whole)."""
    text = str(name)
    return text if len(text) <= _LONGEST_TYPE else text[:_LONGEST_TYPE - 3] + "..."


def _size_text(size: int) -> str:
    return f"{size} ({format_bytes(size)})" if size >= 1024 else str(size)


def heap_json(heap: Heap, census: Census) -> dict:
    return {
        "glibc": ".".join(map(str, heap.layout.version)),
        "main_arena": heap.main_arena,
        "found_by": heap.found_by,
        "mallinfo2": heap.mallinfo2(),
        "arenas": arena_rows(heap),
        "tcaches": [{"thread": t.thread, "address": t.address, "chunks": t.chunks,
                     "bytes": t.bytes} for t in heap.tcaches],
        "sizes": [g.as_json("size") for g in census.sizes()],
        "types": [g.as_json("type") for g in census.by_type()],
        "notes": heap.notes,
    }


def heap_report(heap: Heap, census: Census, by: str | None, limit: int, as_json: bool,
                style: TextStyle = PLAIN) -> str:
    """memheap: what malloc holds, per arena, by size, by type (`by`: one of them only)."""
    if as_json:
        return jsonout.report(heap_json(heap, census), style)
    info = heap.mallinfo2()
    in_use = int((heap.state == IN_USE).sum())
    parts = [_found_line(heap) + "\n",
             f"in use: {in_use} chunks, {format_bytes(info['uordblks'] + info['hblkhd'])} "
             f"(mallinfo2: uordblks {info['uordblks']}, hblkhd {info['hblkhd']}); "
             f"free: {format_bytes(info['fordblks'])} (fordblks, top included)\n"]
    parts += [f"note: {note}\n" for note in heap.notes]
    if by in (None, "arena"):
        parts.append("\n" + arena_table(heap, style))
    if by in (None, "type"):
        parts.append("\n" + _group_table("Type", census.by_type(), limit, style, _type_text))
    if by in (None, "size"):
        parts.append("\n" + _group_table("Chunk size", census.sizes(), limit, style,
                                         _size_text))
    return "".join(parts)


def sample_report(heap: Heap, rows: Sequence[tuple[int, str, bytes | None]], what: str,
                  total: int, as_json: bool, style: TextStyle = PLAIN,
                  categories: Sequence[str] | None = None) -> str:
    """memheap show: blocks as (chunk index, type, first bytes), with their strings."""
    if as_json:
        out = []
        for n, (k, kind, data) in enumerate(rows):
            start, end = heap.user_bounds_of(k)
            entry = {"address": start, "chunk": int(heap.addr[k]), "size": int(heap.size[k]),
                     "usable": end - start, "type": kind,
                     "bytes": data.hex() if data is not None else None,
                     "strings": _strings(data)}
            if categories is not None:
                entry["category"] = categories[n]
            out.append(entry)
        return jsonout.report(out, style)
    if not rows:
        return f"memheap show: no block in use is {what}\n"
    lines = [f"{len(rows)} of {total} blocks {what}:"]
    for n, (k, kind, data) in enumerate(rows):
        start, end = heap.user_bounds_of(k)
        category = f", {categories[n].replace('_', ' ')}" if categories is not None else ""
        lines.append(f"{start:#x}  chunk of {int(heap.size[k])} bytes ({end - start} "
                     f"usable), {kind}{category}")
        if data is not None:
            lines += ["  " + line for line in hexdump(start, list(data))]
        found = _strings(data)
        if found:
            lines.append("  strings: " + ", ".join(repr(s) for s in found[:4]))
    return "\n".join(lines) + "\n"


def _strings(data: bytes | None, least: int = 6) -> list[str]:
    if not data:
        return []
    out, run = [], bytearray()
    for b in data:
        if 32 <= b < 127:
            run.append(b)
            continue
        if len(run) >= least:
            out.append(run.decode("ascii"))
        run = bytearray()
    if len(run) >= least:
        out.append(run.decode("ascii"))
    return out


def _sites_text(group: dict) -> str:
    """A group's allocation sites in a cell: the first, and how many more."""
    sites = group.get("sites", [])
    if not sites:
        return "not recorded (allocated before heaptrack started, or not written yet)"
    first = sites[0]
    where = f" at {first['file']}:{first['line']}" if first["file"] else ""
    more = f" and {len(sites) - 1} more" if len(sites) > 1 else ""
    missing = f" ({group['not_recorded']} not recorded)" if group["not_recorded"] else ""
    return f"{first['function'] or hex(first['pc'])}{where}{more}{missing}"


_LEAK_COLUMNS = (Column("Category", "<"), Column("Blocks"),
                 Column("Bytes", token=lambda t: FIGURE))


SiteOf = Callable[[int], "tuple[int, Frame] | None"]


def leak_groups(leaks: Leaks, types: Types, lost: np.ndarray,
                site_of: SiteOf | None = None) -> list[dict]:
    """The lost blocks (not still reachable) by category, chunk size and type, the most
    bytes first; each with its first block's address as a sample. With `site_of` (heaptrack,
    memtrace on --malloc): each group's allocation sites, the most blocks first, with the
    bytes asked for, and how many blocks heaptrack has no record of."""
    groups: dict[tuple[int, int, str], list[int]] = {}
    for j, b in enumerate(lost.tolist()):
        key = (int(leaks.category[b]), int(leaks.sizes[b]), types.name(j))
        groups.setdefault(key, []).append(b)
    out = []
    for (cat, size, kind), members in groups.items():
        group = {"category": CATEGORIES[cat], "size": size, "type": kind,
                 "blocks": len(members), "bytes": size * len(members),
                 "sample": [int(leaks.blocks.start[b]) for b in members[:4]]}
        if site_of is not None:
            group.update(_group_sites(members, leaks, site_of))
        out.append(group)
    out.sort(key=lambda g: (-g["bytes"], g["category"], g["type"]))
    return out


def _group_sites(members: list[int], leaks: Leaks, site_of: SiteOf) -> dict:
    by_site: dict[tuple, list] = {}
    unknown = 0
    for b in members:
        found = site_of(int(leaks.blocks.start[b]))
        if found is None:
            unknown += 1
            continue
        requested, frame = found
        entry = by_site.setdefault((frame.function, frame.file, frame.line), [frame, 0, 0])
        entry[1] += 1
        entry[2] += requested
    sites = sorted(by_site.values(), key=lambda e: (-e[1], -e[2], str(e[0].function)))
    return {"sites": [{**frame.to_dict(), "blocks": n, "requested": asked}
                      for frame, n, asked in sites],
            "not_recorded": unknown}


def leak_report(leaks: Leaks, groups: list[dict], notes: Sequence[str], limit: int,
                as_json: bool, style: TextStyle = PLAIN) -> str:
    totals = leaks.totals()
    if as_json:
        return jsonout.report({**{name: totals[name] for name in reversed(CATEGORIES)},
                               "groups": groups, "notes": list(notes)}, style)
    rows = [(name.replace("_", " "), str(totals[name]["blocks"]),
             format_bytes(totals[name]["bytes"])) for name in reversed(CATEGORIES)]
    parts = [render_table(_LEAK_COLUMNS, list(zip(*rows)), style)]
    parts += [f"note: {note}\n" for note in notes]
    if groups:
        traced = any("sites" in g for g in groups)
        cells = [(g["category"].replace("_", " "), str(g["size"]), _type_text(g["type"]),
                  str(g["blocks"]),
                  format_bytes(g["bytes"]), f"{g['sample'][0]:#x}",
                  *((_sites_text(g),) if traced else ())) for g in groups[:limit]]
        columns = (Column("Lost", "<"), Column("Chunk size"), Column("Type", "<", clean=False),
                   Column("Blocks"), Column("Bytes", token=lambda t: FIGURE), Column("Sample"),
                   *((Column("Allocated by (heaptrack)", "<", clean=False),) if traced else ()))
        parts.append("\n" + render_table(columns, list(zip(*cells)), style))
        if len(groups) > limit:
            parts.append(f"... and {len(groups) - limit} more groups (--limit N)\n")
        parts.append("bytes are chunk sizes (valgrind counts the sizes asked for); "
                     "`memheap show SIZE` or `vmainfo ADDR` looks at a sample\n")
    return "".join(parts)
