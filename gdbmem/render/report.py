"""One HTML report of a leak hunt, to look at and to share: a single file that opens from disk
with no network (no script, font or stylesheet from elsewhere), for memsnap report and
gdbmem report alike.

Top to bottom: the verdict and the process totals from the first snapshot to the last; RSS
over time of each region that grew or shrank (a pygal stacked line chart, by kind, the
legend naming each line); the address space as a picture (every region in address order,
its width to a log scale, coloured by kind, its resident share solid); for each leaking or
growing region its top call sites (memtrace), with the source lines around each highlighted
by pygments; memcheck's findings, and the trend and diff tables (tabulate's html). The same
data is in the file as JSON, in <script type="application/json" id="gdbmem-data">.

Charts are pygal's: pure Python, writing SVG that a browser shows inline, without its
tooltip script (which it would fetch from the network).
"""

from __future__ import annotations

import html
import json
import math
import time
from collections.abc import Callable, Sequence

import pygal
from pygal.style import Style
from pygments import highlight
from pygments.formatters import HtmlFormatter
from pygments.lexers import TextLexer, get_lexer_for_filename
from pygments.util import ClassNotFound

from gdbmem.analysis.checks import Thresholds
from gdbmem.analysis.growth import Trend, region_key
from gdbmem.analysis.growth import trends as region_trends
from gdbmem.analysis.totals import process_summary
from gdbmem.errors import UsageError
from gdbmem.heap.census import growth_over
from gdbmem.model import Region, Snapshot
from gdbmem.render import jsonout
from gdbmem.render.checks import check_report
from gdbmem.render.growth import (
    SitesOf,
    diff_report,
    of_one_process,
    trend_report,
    trend_text,
)
from gdbmem.render.table import Column, TextStyle, render_table
from gdbmem.render.trace import frame_text
from gdbmem.trace.fold import Frame, Site
from gdbmem.units import format_bytes, format_kb, format_seconds

# Kinds' colours in the pictures: mid-tones, read on white.
KIND_COLOURS = {
    "heap": "#2e7d32", "arena": "#66bb6a", "stack": "#6a1b9a", "thread-stack": "#ab47bc",
    "guard": "#9e9e9e", "exe": "#c62828", "lib": "#1565c0", "file": "#00838f",
    "anon": "#ef6c00", "shm": "#00acc1", "vdso": "#757575", "vvar": "#757575",
    "vsyscall": "#757575",
}
MOST_LINES = 16  # regions drawn over time; the rest of what moved is summed as one line
MOST_RUNS = 400  # runs of regions of one kind drawn in the address space

HTML = "html"
Source = Callable[[Frame], "list[str] | None"]  # a frame's source file's lines, if readable


def _chart_style(colours: Sequence[str]) -> Style:
    return Style(colors=tuple(colours), background="white", plot_background="white",
                 font_family="sans-serif")


def _svg(chart: pygal.graph.graph.Graph) -> str:
    return chart.render(is_unicode=True)


def _nice_step(span: float, count: int = 7) -> float:
    """A step of 1, 2 or 5 times a power of ten that cuts `span` into about `count`."""
    raw = span / count
    power = 10 ** math.floor(math.log10(raw))
    return next(m * power for m in (1, 2, 5, 10) if raw <= m * power * (1 + 1e-9))


# The unit a span of time reads in, by the span: (the longest span in it, name, per second).
_TIME_UNITS = ((2e-3, "µs", 1e6), (2.0, "ms", 1e3), (120.0, "s", 1.0), (7200.0, "min", 1 / 60))


def time_ticks(times: Sequence[float]) -> list[str]:
    """A label under each snapshot of a chart over time: about eight nice, distinct times
    since the first, in the unit the whole span reads in (0 ms, 5 ms, 10 ms ...; 0 s,
    0.5 s ...; 0 min, 20 min ...), each under the first snapshot taken at or after it, and
    nothing under the others: readable at any count."""
    labels = [""] * len(times)
    if not times:
        return labels
    start, span = times[0], times[-1] - times[0]
    if span <= 0:
        labels[0] = "0 s"
        return labels
    unit, scale = next(((u, k) for most, u, k in _TIME_UNITS if span < most), ("h", 1 / 3600))
    step = _nice_step(span * scale)  # in that unit
    decimals = max(0, -math.floor(math.log10(step) + 1e-9))
    i = 0
    for k in range(int(span * scale / step + 1e-9) + 1):
        moment = k * step / scale  # seconds
        while i < len(times) and times[i] - start < moment - step / scale * 1e-6:
            i += 1
        if i == len(times):
            break
        if not labels[i]:
            number = f"{k * step:.{decimals}f}"
            labels[i] = f"{number.rstrip('0').rstrip('.') if '.' in number else number} {unit}"
    return labels


def rss_chart(snapshots: Sequence[Snapshot], trends: Sequence[Trend]) -> str:
    """RSS of each region that grew or shrank, stacked by kind, over the snapshots' time,
    from 0 up."""
    moved = [t for t in trends if t.series_kb[0] != t.series_kb[-1] or t.verdict != "stable"]
    moved.sort(key=lambda t: (t.kind, -max(t.series_kb)))
    shown, rest = moved[:MOST_LINES], moved[MOST_LINES:]
    chart = pygal.StackedLine(
        fill=True, show_dots=False, width=900, height=380, js=[], truncate_legend=60,
        truncate_label=-1, include_x_axis=True, show_x_guides=False, legend_at_bottom=True,
        x_title="time since the first snapshot (a point per snapshot)", y_title="RSS, kB",
        style=_chart_style([KIND_COLOURS.get(t.kind, "#455a64") for t in shown] + ["#b0bec5"]))
    chart.title = "RSS over time of what grew or shrank"
    chart.x_labels = time_ticks([s.taken_at for s in snapshots])
    # Only the ticks are drawn (a snapshot without a label has no guide, no text: 5,000
    # snapshots stay a small page).
    chart.x_labels_major = [label for label in chart.x_labels if label]
    chart.show_minor_x_labels = False
    for t in shown:
        chart.add(f"{t.verdict}: {t.key} ({t.kind})", t.series_kb)
    if rest:
        chart.add(f"{len(rest)} more", [sum(v) for v in zip(*(t.series_kb for t in rest))])
    return _svg(chart)


ADDRESS_WIDTH, ADDRESS_BAR = 900, 48  # the address-space picture: its width, its bar's height


def _runs(regions: Sequence[Region]) -> list[dict]:
    """Neighbours of one kind and one name as one run, each as wide as log2 of its size;
    the smallest folded into their left neighbour past MOST_RUNS."""
    runs: list[dict] = []
    for r in regions:
        kind = r.kind or "anon"
        name = r.path or f"[{kind}]"
        width = math.log2(max(r.size_kb, 1)) + 1
        if runs and (runs[-1]["kind"], runs[-1]["names"][0]) == (kind, name):
            run = runs[-1]
        else:
            run = {"kind": kind, "names": [name], "start": r.start, "width": 0.0, "rss": 0,
                   "size": 0, "regions": 0}
            runs.append(run)
        run["width"] += width
        run["rss"] += r.rss_kb or 0
        run["size"] += r.size_kb
        run["regions"] += 1
        run["end"] = r.end
    while len(runs) > MOST_RUNS:
        i = min(range(1, len(runs)), key=lambda k: runs[k]["width"])
        left, run = runs[i - 1], runs.pop(i)
        for key in ("width", "rss", "size", "regions"):
            left[key] += run[key]
        left["end"] = run["end"]
        left["names"] += [n for n in run["names"] if n not in left["names"]]
    return runs


def address_chart(regions: Sequence[Region]) -> str:
    """Every region in address order, as wide as log2 of its size (the 47-bit space is
    mostly empty: gaps are left out), coloured by kind; the resident share of each solid,
    the rest pale. Each block has a title a browser shows on hover (name, bounds, size,
    resident); the large ones are labelled; addresses stand on the axis below."""
    runs = _runs(regions)
    total = sum(run["width"] for run in runs) or 1.0
    scale = ADDRESS_WIDTH / total
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" class="address-space" '
             f'width="{ADDRESS_WIDTH}" height="{ADDRESS_BAR + 70}" '
             f'viewBox="0 0 {ADDRESS_WIDTH} {ADDRESS_BAR + 70}" font-family="sans-serif">']
    x = 0.0
    labelled_until = -1.0
    for run in runs:
        width = run["width"] * scale
        colour = KIND_COLOURS.get(run["kind"], "#455a64")
        share = min(run["rss"] / run["size"], 1.0) if run["size"] else 0.0
        names = ", ".join(run["names"][:3]) + (" ..." if len(run["names"]) > 3 else "")
        title = (f"{names} ({run['kind']}): {run['start']:#x}-{run['end']:#x}, "
                 f"{run['regions']} region{'s' if run['regions'] != 1 else ''}, "
                 f"{format_kb(run['size'])}, {format_kb(run['rss'])} resident")
        parts.append(f'<g class="block"><title>{html.escape(title)}</title>'
                     f'<rect x="{x:.2f}" y="0" width="{width * share:.2f}" '
                     f'height="{ADDRESS_BAR}" fill="{colour}"/>'
                     f'<rect x="{x + width * share:.2f}" y="0" '
                     f'width="{width * (1 - share):.2f}" height="{ADDRESS_BAR}" '
                     f'fill="{colour}" fill-opacity="0.25"/></g>')
        if width >= 70 and x >= labelled_until:
            name = run["names"][0]
            short = name.rsplit("/", 1)[-1] if name.startswith("/") else name
            parts.append(f'<text x="{x + 3:.2f}" y="{ADDRESS_BAR + 14}" font-size="11">'
                         f'{html.escape(short[:24])}</text>'
                         f'<text x="{x + 3:.2f}" y="{ADDRESS_BAR + 27}" font-size="10" '
                         f'fill="#555">{format_kb(run["size"])}, {format_kb(run["rss"])} RSS'
                         '</text>')
            labelled_until = x + max(width, 120)
        x += width
    # Addresses under the blocks' left edges, far enough apart to read (the last one's
    # text ends at its edge).
    edges, at = [], 0.0
    for run in runs:
        if not edges or at - edges[-1][0] >= 130:
            edges.append((at, run["start"]))
        at += run["width"] * scale
    if len(edges) > 1 and ADDRESS_WIDTH - edges[-1][0] < 65:
        edges.pop()  # no room for its text at the right end
    for at, start in edges:
        parts.append(f'<line x1="{at:.2f}" x2="{at:.2f}" y1="{ADDRESS_BAR}" '
                     f'y2="{ADDRESS_BAR + 34}" stroke="#999"/>'
                     f'<text x="{at + 2:.2f}" y="{ADDRESS_BAR + 46}" font-size="10">'
                     f'{start:#x}</text>')
    parts.append(f'<text x="0" y="{ADDRESS_BAR + 64}" font-size="11" fill="#555">addresses, '
                 "low to high (not to scale: the gaps between regions are left out, and each "
                 "block is as wide as log2 of its size); solid: resident</text></svg>")
    return "".join(parts)


def _source_lines(frame: Frame, source: Source | None) -> str:
    """The lines around a call site, highlighted by pygments (nothing if not readable)."""
    lines = source(frame) if source is not None and frame.line else None
    if not lines or frame.line is None or frame.line > len(lines):
        return ""
    first = max(frame.line - 3, 1)
    text = "".join(lines[first - 1:frame.line + 2])
    try:
        lexer = get_lexer_for_filename(frame.file or "")
    except ClassNotFound:
        lexer = TextLexer()
    formatter = HtmlFormatter(noclasses=True, linenos="inline", linenostart=first,
                              hl_lines=[frame.line - first + 1], nobackground=True)
    return highlight(text, lexer, formatter)


def _sites_html(sites: dict[str, Sequence[Site]], source: Source | None) -> str:
    if not sites:
        return "<p>Not traced: <code>memtrace on</code> before the run names the code.</p>"
    out = []
    for key, found in sites.items():
        out.append(f"<h3>{html.escape(key)}</h3>")
        for site in found:
            out.append(f"<p class=site><b>{html.escape(frame_text(site.frame))}</b> holds "
                       f"{format_bytes(site.held)} ({site.calls} calls, "
                       f"{format_bytes(site.mapped)} mapped)</p>")
            out.append(_source_lines(site.frame, source))
    return "\n".join(out)


_PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<title>gdbmem report: {title}</title>
<style>
body {{ font-family: sans-serif; margin: 1.5em auto; max-width: 1000px; color: #222; }}
h1 {{ font-size: 1.4em; }} h2 {{ font-size: 1.15em; margin-top: 1.6em; }}
table {{ border-collapse: collapse; font-size: 0.85em; }}
td, th {{ border-bottom: 1px solid #ddd; padding: 0.15em 0.6em; }}
.verdict {{ font-size: 1.2em; }} .leak {{ color: #c62828; font-weight: bold; }}
pre {{ font-size: 0.85em; }} .site {{ margin-bottom: 0.2em; }}
</style></head><body>
<h1>gdbmem report: {title}</h1>
<p class=verdict>Verdict: <span class={verdict_class}>{verdict}</span>. {summary}</p>
<p>{span}</p>
<h2>RSS over time</h2>
{rss_chart}
<h2>The address space, at the last snapshot</h2>
{address_chart}
<p>{kind_legend}</p>
<h2>Call sites of what grows</h2>
{sites}
<h2>malloc's heap</h2>
{heap}
<h2>memcheck</h2>
<pre>{findings}</pre>
<h2>Trend</h2>
{trend_table}
<h2>From the first snapshot to the last</h2>
{diff_table}
<script type="application/json" id="gdbmem-data">{data}</script>
</body></html>
"""


def _trend_tables(trends: Sequence[Trend], series: Sequence[int], style: TextStyle,
                  min_growth_kb: int) -> str:
    """What grew or shrank, then the stable regions folded (a <details> a reader opens)."""
    def table(chosen: Sequence[Trend]) -> str:
        return trend_text(chosen, "", series, style, min_growth_kb, every=True).split("\n", 1)[1]

    moved = [t for t in trends if t.verdict != "stable"]
    stable = [t for t in trends if t.verdict == "stable"]
    out = table(moved) if moved else "<p>No region grew or shrank.</p>\n"
    if stable:
        out += (f"<details><summary>{len(stable)} stable region{'s' if len(stable) != 1 else ''}"
                f"</summary>\n{table(stable)}</details>\n")
    return out


def _heap_html(censuses: Sequence[dict], leaks: dict | None, style: TextStyle) -> str:
    """What grew in malloc's heap from the first census to the last (memsnap --heap), the
    last census's largest types and sizes per arena, and memleak's verdict at the moment the
    report was written (when a process was stopped then)."""
    out = []
    if not censuses:
        out.append("<p>No census of malloc's heap was taken (<code>memsnap on LOC --heap"
                   "</code> takes one with each snapshot).</p>")
    else:
        grown = growth_over(censuses)
        if grown:
            out.append(f"<p>What grew from the first census to the last "
                       f"({len(censuses)} censuses):</p>")
            for g in grown:
                rows = [(f"size {k}" if n == 0 else str(k), f"+{c}", format_bytes(b))
                        for n, rows_ in enumerate((g.sizes, g.types)) for k, c, b in rows_]
                out.append(f"<p>{html.escape(g.arena)}</p>" + render_table(
                    (Column("What", "<", clean=False), Column("Chunks"), Column("Bytes")),
                    list(zip(*rows)), style))
        elif len(censuses) > 1:
            out.append("<p>Nothing grew in malloc's heap from the first census to the "
                       "last.</p>")
        for arena in censuses[-1].get("arenas", []):
            chunks, size = arena["in_use"]
            rows = [(str(k), str(c), format_bytes(b)) for k, c, b in arena["types"][:8]]
            out.append(f"<details><summary>{html.escape(arena['arena'])} at the last census: "
                       f"{chunks} chunks in use, {format_bytes(size)}</summary>"
                       + render_table((Column("Type", "<", clean=False), Column("Chunks"),
                                       Column("Bytes")), list(zip(*rows)) or [[], [], []],
                                      style) + "</details>")
    if leaks is None:
        out.append("<p>memleak: no process was stopped when this report was written.</p>")
    else:
        rows = [(name.replace("_", " "), str(leaks[name]["blocks"]),
                 format_bytes(leaks[name]["bytes"]))
                for name in ("definitely_lost", "indirectly_lost", "possibly_lost",
                             "still_reachable")]
        out.append("<p>memleak, when this report was written:</p>" + render_table(
            (Column("Category", "<"), Column("Blocks"), Column("Bytes")), list(zip(*rows)),
            style))
        lost = [(g["category"].replace("_", " "), str(g["size"]), g["type"], str(g["blocks"]),
                 format_bytes(g["bytes"]), f"{g['sample'][0]:#x}") for g in leaks["groups"][:12]]
        if lost:
            out.append(render_table((Column("Lost", "<"), Column("Chunk size"),
                                     Column("Type", "<", clean=False), Column("Blocks"),
                                     Column("Bytes"), Column("Sample")),
                                    list(zip(*lost)), style))
    return "\n".join(out) + "\n"


def html_report(snapshots: Sequence[Snapshot], labels: Sequence[str], min_growth_kb: int,
                thresholds: Thresholds, sites_of: SitesOf | None = None,
                source: Source | None = None, pid: int | None = None,
                censuses: Sequence[dict] = (), leaks: dict | None = None) -> str:
    """The whole page (see the module's docstring); `labels` say where each snapshot was
    taken; sites_of and source, when memtrace traced the process; of the snapshots of
    process `pid` (needed when they are of several); the censuses of malloc's heap the
    snapshots carry, and memleak's JSON at the moment of the report."""
    chosen = of_one_process(snapshots, pid)
    snapshots, labels = [snapshots[i] for i in chosen], [labels[i] for i in chosen]
    if len(snapshots) < 2:
        raise UsageError("a report needs two snapshots or more "
                         f"(there {'is' if len(snapshots) == 1 else 'are'} {len(snapshots)})")
    trends = region_trends(snapshots, min_growth_kb)
    trend = json.loads(trend_report(snapshots, min_growth_kb, True, sites_of=sites_of,
                                    trends=trends, heap_growth=growth_over(censuses)))
    first, last = snapshots[0], snapshots[-1]
    totals = [process_summary(s.rollup, s.regions) for s in (first, last)]
    sites: dict[str, Sequence[Site]] = {}
    if sites_of is not None:
        by_key: dict[str, list[Region]] = {}
        for region in last.regions:
            by_key.setdefault(region_key(region), []).append(region)
        sites = {t.key: sites_of(by_key.get(t.key, [])) for t in trends
                 if t.verdict in ("leak", "growing")}
        sites = {k: v for k, v in sites.items() if v}
    summary = "  ".join(
        f"{name} {format_kb(getattr(totals[0], attr))} → {format_kb(getattr(totals[1], attr))}"
        for name, attr in (("RSS", "rss_kb"), ("PSS", "pss_kb"), ("USS", "uss_kb"),
                           ("Swap", "swap_kb")))
    places = sorted(set(filter(None, labels)))
    span = (f"{len(snapshots)} snapshots over {format_seconds(last.taken_at - first.taken_at)}, "
            f"from {time.strftime('%Y-%m-%d %H:%M:%S', time.localtime(first.taken_at))}, of "
            f"{html.escape(last.exe or 'an unnamed program')} (pid {last.pid}), taken at "
            f"{html.escape(', '.join(places[:5]) or 'no named place')}"
            f"{' and more' if len(places) > 5 else ''}.")
    style = TextStyle(HTML)
    data = {"format": "gdbmem-report-1", "verdict": trend["verdict"],
            "totals": {"first": totals[0]._asdict(), "last": totals[1]._asdict()},
            "snapshots": len(snapshots), "trend": trend,
            "diff": json.loads(diff_report(first, last, 1, len(snapshots), True)),
            "heap": {"censuses": len(censuses), "last": censuses[-1] if censuses else None,
                     "leaks": leaks}}
    findings = check_report(last, snapshots, thresholds, min_growth_kb, False,
                            region_trends=trends)
    return _PAGE.format(
        title=html.escape(last.exe or f"pid {last.pid}"),
        verdict=html.escape(trend["verdict"]),
        verdict_class="leak" if trend["verdict"] == "leak" else "other",
        summary=html.escape(summary), span=span,
        rss_chart=rss_chart(snapshots, trends), address_chart=address_chart(last.regions),
        kind_legend=" ".join(
            f'<span style="color:{colour}">&#9632;</span>&nbsp;{kind}'
            for kind, colour in KIND_COLOURS.items()
            if any((r.kind or "anon") == kind for r in last.regions)),
        sites=_sites_html(sites, source), findings=html.escape(findings),
        heap=_heap_html(censuses, leaks, style),
        trend_table=_trend_tables(trends, trend["process_series_kb"], style, min_growth_kb),
        diff_table=diff_report(first, last, 1, len(snapshots), False,
                               style).split("\n", 1)[1],
        data=jsonout.dumps(data).replace("</", "<\\/"))
