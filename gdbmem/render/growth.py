"""memsnap's reports: the list of snapshots, one snapshot, a diff, trends with sparklines;
the `gdbmem` command prints the same diff and trend reports."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence

from gdbmem.analysis.growth import (
    Diff,
    Trend,
    diff,
    process_series,
    process_verdict,
    region_key,
)
from gdbmem.analysis.growth import trends as compute_trends
from gdbmem.analysis.totals import process_summary
from gdbmem.errors import UsageError
from gdbmem.heap.census import Grown
from gdbmem.model import Region, Snapshot
from gdbmem.render import jsonout
from gdbmem.render.color import KIND_TOKENS, VERDICT_TOKENS
from gdbmem.render.maps import region_table, summary_line
from gdbmem.render.table import PLAIN, Column, TextStyle, render_table
from gdbmem.render.trace import frame_text
from gdbmem.store.record import Record
from gdbmem.trace.fold import Site
from gdbmem.units import format_bytes, format_kb

_BARS = "▁▂▃▄▅▆▇█"


def sparkline(series: Sequence[int], width: int = 24, flat_below_kb: int = 0) -> str:
    """The series scaled from its minimum to its maximum; at most `width` bars (sampled). A
    series that moves by less than `flat_below_kb` (leak-min-growth: noise) stays flat, so a
    4K change in 97.5M does not draw a full-height step."""
    if not series:
        return ""
    if len(series) > width:
        series = [series[i * (len(series) - 1) // (width - 1)] for i in range(width)]
    low, high = min(series), max(series)
    if high - low < max(flat_below_kb, 1):
        return _BARS[0] * len(series)
    return "".join(_BARS[(v - low) * (len(_BARS) - 1) // (high - low)] for v in series)


def _signed_kb(kb: float, human: bool = True) -> str:
    """+16K, -1.5M, 0; below 1K, one decimal (+0.4K), so that a growth per snapshot too small
    for a whole kB is not written 0 beside a growth per second of +1K."""
    whole = round(kb)  # the sign of what is shown: never "-0"
    if whole == 0 and abs(kb) >= 0.05:
        return f"{'+' if kb > 0 else '-'}{abs(kb):.1f}K"
    return ("+" if whole > 0 else "-" if whole < 0 else "") + format_kb(abs(whole), human)


def records_table(records: Sequence[Record], style: TextStyle = PLAIN) -> str:
    first = records[0].taken_at if records else 0.0
    rows = []
    for number, record in enumerate(records, 1):
        snapshot = record.snapshot
        summary = process_summary(snapshot.rollup, snapshot.regions)
        rows.append((f"#{number}", f"+{record.taken_at - first:.1f}s",
                     time.strftime("%H:%M:%S", time.localtime(record.taken_at)),
                     format_kb(summary.rss_kb), format_kb(summary.pss_kb),
                     str(len(snapshot.regions)), str(len(record.threads) or "?"),
                     record.label, record.location))
    columns = [Column("#"), Column("After"), Column("Time"), Column("RSS"), Column("PSS"),
               Column("Regions"), Column("Threads"), Column("Label", "<", clean=False),
               Column("Stopped in", "<", clean=False)]
    return render_table(columns, list(zip(*rows)) or [[] for _ in columns], style)


def diff_text(result: Diff, a: int, b: int, style: TextStyle = PLAIN) -> str:
    rows = [(c.change, _signed_kb(c.rss_delta_kb),
             format_kb(c.before.rss_kb if c.before else None),
             format_kb(c.after.rss_kb if c.after else None), _signed_kb(c.size_delta_kb),
             c.kind, c.key) for c in result.changes]
    totals = "  ".join(f"{name} {_signed_kb(delta or 0)}" for name, delta in (
        ("RSS", result.rss_delta_kb), ("PSS", result.pss_delta_kb), ("Swap", result.swap_delta_kb)))
    head = f"from #{a} to #{b} ({result.seconds:.1f} s): {totals}\n"
    if not rows:
        return head + "no region changed\n"
    columns = [Column("Change", "<"), Column("ΔRSS"), Column("RSS before"), Column("RSS after"),
               Column("ΔSize"), Column("Kind", "<", KIND_TOKENS.get),
               Column("Region", "<", clean=False)]
    return head + render_table(columns, list(zip(*rows)), style)


def trend_text(trends: Sequence[Trend], process: str, process_series: Sequence[int],
               style: TextStyle = PLAIN, flat_below_kb: int = 0, every: bool = False) -> str:
    """The trend as a table: what grew or shrank first; the stable regions folded into one
    line unless `every` (`--all`)."""
    head = (f"process: {process}  RSS {format_kb(process_series[0])} -> "
            f"{format_kb(process_series[-1])}  "
            f"{sparkline(process_series, flat_below_kb=flat_below_kb)}\n")
    moved = [t for t in trends if t.verdict != "stable"]
    stable = [t for t in trends if t.verdict == "stable"]
    shown = moved + stable if every else moved
    folded = ""
    if stable and not every:
        folded = (f"{'and ' if moved else 'no region grew or shrank: '}{len(stable)} stable "
                  f"region{'s' if len(stable) != 1 else ''} (--all lists them)\n")
    if not shown:
        return head + folded
    rows = [(t.verdict, _signed_kb(t.growth_kb_per_snapshot), _signed_kb(t.growth_kb_per_second),
             format_kb(t.series_kb[0]), format_kb(t.series_kb[-1]),
             sparkline(t.series_kb, flat_below_kb=flat_below_kb),
             t.kind, t.key) for t in shown]
    columns = [Column("Verdict", "<", VERDICT_TOKENS.get), Column("Per snap"), Column("Per s"),
               Column("First"), Column("Last"), Column("RSS", "<"),
               Column("Kind", "<", KIND_TOKENS.get), Column("Region", "<", clean=False)]
    return head + render_table(columns, list(zip(*rows)), style) + folded


# Reports: each one's text and JSON, for memsnap in gdb and the gdbmem command alike ----------

def records_report(records: Sequence[Record], as_json: bool, journal: str,
                   style: TextStyle = PLAIN) -> str:
    """memsnap list."""
    if as_json:
        return jsonout.report([
            {"number": n, "label": r.label, "location": r.location, "pid": r.pid,
             "taken_at": r.taken_at,
             "rss_kb": process_summary(r.snapshot.rollup, r.snapshot.regions).rss_kb,
             "regions": len(r.snapshot.regions), "threads": len(r.threads),
             "carried": r.carried}
            for n, r in enumerate(records, 1)], style)
    if not records:
        return ("memsnap: no snapshots yet (`memsnap` takes one, `memsnap on LOCATION` "
                "takes one at each hit)\n")
    return records_table(records, style) + f"journal: {journal}\n"


def snapshot_report(number: int, record: Record, as_json: bool, human: bool = True,
                    style: TextStyle = PLAIN) -> str:
    """memsnap show N: the snapshot as memmap shows a live process."""
    snapshot = record.snapshot
    summary = process_summary(snapshot.rollup, snapshot.regions)
    if as_json:
        return jsonout.report({
            "number": number, "label": record.label, "location": record.location,
            "pid": record.pid, "taken_at": record.taken_at, "totals": summary._asdict(),
            "carried": record.carried, "regions": [r.to_dict() for r in snapshot.regions]},
            style)
    return (f"snapshot #{number} {record.label} ({record.location})\n"
            + region_table(snapshot.regions, human, style) + summary_line(summary, human))


def _processes(snapshots: Sequence[Snapshot]) -> list[int]:
    """The pids the snapshots are of, in order (0, a capture that does not say, is none)."""
    return list(dict.fromkeys(s.pid for s in snapshots if s.pid))


def diff_report(a: Snapshot, b: Snapshot, a_number: int, b_number: int, as_json: bool,
                style: TextStyle = PLAIN) -> str:
    """memsnap diff A B, and gdbmem diff."""
    if len(_processes([a, b])) > 1:
        raise UsageError(f"#{a_number} is of process {a.pid} and #{b_number} of process "
                         f"{b.pid}: a diff compares snapshots of one process")
    result = diff(a, b)
    if not as_json:
        return diff_text(result, a_number, b_number, style)
    return jsonout.report({
        "from": a_number, "to": b_number, "seconds": result.seconds,
        "rss_delta_kb": result.rss_delta_kb, "pss_delta_kb": result.pss_delta_kb,
        "swap_delta_kb": result.swap_delta_kb,
        "changes": [{"key": c.key, "kind": c.kind, "change": c.change,
                     "rss_delta_kb": c.rss_delta_kb, "size_delta_kb": c.size_delta_kb,
                     "before": c.before._asdict() if c.before else None,
                     "after": c.after._asdict() if c.after else None}
                    for c in result.changes]}, style)


SitesOf = Callable[[Sequence[Region]], Sequence[Site]]


def of_one_process(snapshots: Sequence[Snapshot], pid: int | None) -> list[int]:
    """The indices of the snapshots of one process: `pid`, needed when they are of several
    (a fork's child, a program run again)."""
    processes = _processes(snapshots)
    if pid is not None:
        if pid not in processes:
            raise UsageError(f"no snapshot is of process {pid} (they are of "
                             f"{', '.join(map(str, processes)) or 'no known process'})")
        return [i for i, s in enumerate(snapshots) if s.pid == pid]
    if len(processes) > 1:
        raise UsageError(f"the snapshots are of {len(processes)} processes "
                         f"({', '.join(map(str, processes))}): a trend follows one, so choose "
                         "it with --pid N")
    return list(range(len(snapshots)))


def trend_report(snapshots: Sequence[Snapshot], min_growth_kb: int, as_json: bool,
                 style: TextStyle = PLAIN, pid: int | None = None,
                 sites_of: SitesOf | None = None,
                 trends: Sequence[Trend] | None = None, every: bool = False,
                 heap_growth: Sequence[Grown] | None = None) -> str:
    """memsnap trend, and gdbmem trend: over the snapshots of one process (`pid`, needed
    when they are of several: a fork's child, a program run again). sites_of(regions), when
    memtrace traced the process, gives the top call sites holding memory in the regions a
    leaking or growing key has in the last snapshot: said under the table, and in JSON.
    `trends`: of these snapshots, when the caller has them already. The text folds the
    stable regions unless `every`. `heap_growth`: what grew in malloc's arenas between the
    first and the last census (memsnap --heap), said under the heap or arena it is in."""
    snapshots = [snapshots[i] for i in of_one_process(snapshots, pid)]
    if len(snapshots) < 2:
        raise UsageError("a trend needs two snapshots or more "
                         f"(there {'is' if len(snapshots) == 1 else 'are'} {len(snapshots)})")
    region_trends = trends if trends is not None else compute_trends(snapshots, min_growth_kb)
    verdict = process_verdict(snapshots, region_trends, min_growth_kb)
    series = process_series(snapshots)
    sites: dict[str, Sequence[Site]] = {}
    last: dict[str, list[Region]] = {}
    for region in snapshots[-1].regions:
        last.setdefault(region_key(region), []).append(region)
    growing = [t for t in region_trends if t.verdict in ("leak", "growing")]
    if sites_of is not None:
        sites = {t.key: sites_of(last.get(t.key, [])) for t in growing}
    grown: dict[str, list[Grown]] = {}
    for t in growing:
        inside = [g for g in heap_growth or ()
                  if any(g.overlaps(r.start, r.end) for r in last.get(t.key, []))]
        if inside:
            grown[t.key] = inside
    if as_json:
        regions = []
        for t in region_trends:
            entry = t.to_dict()
            if t.key in sites:
                entry["sites"] = [s.to_dict(n) for n, s in enumerate(sites[t.key], 1)]
            if t.key in grown:
                entry["heap"] = [g.as_json() for g in grown[t.key]]
            regions.append(entry)
        return jsonout.report({"verdict": verdict, "snapshots": len(snapshots),
                              "process_series_kb": series, "regions": regions}, style)
    text = trend_text(region_trends, verdict, series, style, min_growth_kb, every)
    lines = [f"  {key}: {frame_text(s.frame)} holds {format_bytes(s.held)}"
             for key, found in sites.items() for s in found]
    if lines:
        text += "call sites holding what grew (memtrace):\n" + "\n".join(lines) + "\n"
    if grown:
        text += ("what grew in malloc's heap, from the first census to the last "
                 "(memsnap --heap):\n" + "".join(grown_lines(key, found)
                                                  for key, found in grown.items()))
    return text


def grown_lines(key: str, found: Sequence[Grown]) -> str:
    """Under a growing heap or arena: the chunk sizes and types that grew in it."""
    def said(rows: Sequence[tuple], what: str) -> str:
        return ", ".join(f"{what}{k} +{c} chunk{'s' if c != 1 else ''} ({format_bytes(b)})"
                         for k, c, b in rows)

    out = []
    for g in found:
        parts = [p for p in (said(g.sizes, "size "), said(g.types, "")) if p]
        out.append(f"  {key} ({g.arena}): {'; '.join(parts)}\n")
    return "".join(out)
