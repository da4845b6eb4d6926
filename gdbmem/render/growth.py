"""memsnap's reports: the list of snapshots, a diff, trends with sparklines."""

from __future__ import annotations

import time
from collections.abc import Sequence

from gdbmem.analysis.growth import Diff, Trend
from gdbmem.analysis.totals import process_summary
from gdbmem.render.color import KIND_COLOURS
from gdbmem.render.sizes import format_kb
from gdbmem.render.table import Column, render_table
from gdbmem.snapshots import Record

_BARS = "▁▂▃▄▅▆▇█"
_VERDICT_COLOURS = {"leak": "\x1b[31;1m", "growing": "\x1b[33m", "stable": "\x1b[32m",
                    "shrinking": "\x1b[36m"}


def sparkline(series: Sequence[int], width: int = 24) -> str:
    """The series scaled from its minimum to its maximum; at most `width` bars (sampled)."""
    if not series:
        return ""
    if len(series) > width:
        series = [series[i * (len(series) - 1) // (width - 1)] for i in range(width)]
    low, high = min(series), max(series)
    if high == low:
        return _BARS[0] * len(series)
    return "".join(_BARS[(v - low) * (len(_BARS) - 1) // (high - low)] for v in series)


def _signed_kb(kb: float, human: bool = True) -> str:
    whole = round(kb)  # the sign of what is shown: never "-0"
    return ("+" if whole > 0 else "-" if whole < 0 else "") + format_kb(abs(whole), human)


def records_table(records: Sequence[Record]) -> str:
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
               Column("Regions"), Column("Threads"), Column("Label", "<"),
               Column("Stopped in", "<")]
    return render_table(columns, list(zip(*rows)) or [[] for _ in columns])


def diff_text(result: Diff, a: int, b: int, colour: bool = False) -> str:
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
               Column("ΔSize"), Column("Kind", "<", KIND_COLOURS.get), Column("Region", "<")]
    return head + render_table(columns, list(zip(*rows)), colour)


def trend_text(trends: Sequence[Trend], process: str, process_series: Sequence[int],
               colour: bool = False) -> str:
    head = (f"process: {process}  RSS {format_kb(process_series[0])} -> "
            f"{format_kb(process_series[-1])}  {sparkline(process_series)}\n")
    rows = [(t.verdict, _signed_kb(t.growth_kb_per_snapshot), _signed_kb(t.growth_kb_per_second),
             format_kb(t.series_kb[0]), format_kb(t.series_kb[-1]), sparkline(t.series_kb),
             t.kind, t.key) for t in trends]
    columns = [Column("Verdict", "<", _VERDICT_COLOURS.get), Column("Per snap"), Column("Per s"),
               Column("First"), Column("Last"), Column("RSS", "<"),
               Column("Kind", "<", KIND_COLOURS.get), Column("Region", "<")]
    return head + render_table(columns, list(zip(*rows)), colour)
