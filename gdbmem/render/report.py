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
from gdbmem.render.table import TextStyle
from gdbmem.render.trace import frame_text
from gdbmem.trace.fold import Frame, Site
from gdbmem.units import format_bytes, format_kb

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


def rss_chart(snapshots: Sequence[Snapshot], trends: Sequence[Trend]) -> str:
    """RSS of each region that grew or shrank, stacked by kind, over the snapshots' time."""
    moved = [t for t in trends if t.series_kb[0] != t.series_kb[-1] or t.verdict != "stable"]
    moved.sort(key=lambda t: (t.kind, -max(t.series_kb)))
    shown, rest = moved[:MOST_LINES], moved[MOST_LINES:]
    start = snapshots[0].taken_at
    chart = pygal.StackedLine(
        fill=True, show_dots=False, width=900, height=380, js=[], truncate_legend=60,
        legend_at_bottom=True, x_title="seconds since the first snapshot", y_title="RSS, kB",
        style=_chart_style([KIND_COLOURS.get(t.kind, "#455a64") for t in shown] + ["#b0bec5"]))
    chart.title = "RSS over time of what grew or shrank"
    span = snapshots[-1].taken_at - start
    digits = 1 if span >= 10 else 2 if span >= 1 else 3
    chart.x_labels = [f"{s.taken_at - start:.{digits}f}" for s in snapshots]
    chart.x_labels_major_count = 8
    chart.show_minor_x_labels = False
    for t in shown:
        chart.add(f"{t.verdict}: {t.key} ({t.kind})", t.series_kb)
    if rest:
        chart.add(f"{len(rest)} more", [sum(v) for v in zip(*(t.series_kb for t in rest))])
    return _svg(chart)


def address_chart(regions: Sequence[Region]) -> str:
    """Every region in address order, its width to a log scale (the 47-bit space is mostly
    empty: gaps are left out), coloured by kind; the resident share of each solid, the rest
    pale. Neighbours of one kind are drawn as one run."""
    runs: list[list] = []  # [kind, log width, resident kB, size kB, first start]
    for r in regions:
        width = math.log2(max(r.size_kb, 1)) + 1
        kind = r.kind or "anon"
        if runs and runs[-1][0] == kind:
            run = runs[-1]
            run[1] += width
            run[2] += r.rss_kb or 0
            run[3] += r.size_kb
        else:
            runs.append([kind, width, r.rss_kb or 0, r.size_kb, r.start])
    while len(runs) > MOST_RUNS:  # fold the smallest runs into their left neighbour
        i = min(range(1, len(runs)), key=lambda k: runs[k][1])
        runs[i - 1][1] += runs[i][1]
        runs[i - 1][2] += runs[i][2]
        runs[i - 1][3] += runs[i][3]
        del runs[i]
    colours = []
    for kind, _, _, _, _ in runs:
        colours += [KIND_COLOURS.get(kind, "#455a64"), KIND_COLOURS.get(kind, "#455a64") + "40"]
    chart = pygal.HorizontalStackedBar(
        show_legend=False, width=900, height=160, js=[], show_y_labels=False,
        x_title="regions in address order, each as wide as log2 of its size; solid: resident",
        style=_chart_style(colours))
    chart.title = "The address space"
    for kind, width, rss, size, start in runs:
        share = min(rss / size, 1.0) if size else 0.0
        label = f"{kind} at {start:#x}: {format_kb(size)}, {format_kb(rss)} resident"
        chart.add(label, [width * share])
        chart.add(label, [width * (1 - share)])
    return _svg(chart)


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


def html_report(snapshots: Sequence[Snapshot], labels: Sequence[str], min_growth_kb: int,
                thresholds: Thresholds, sites_of: SitesOf | None = None,
                source: Source | None = None, pid: int | None = None) -> str:
    """The whole page (see the module's docstring); `labels` say where each snapshot was
    taken; sites_of and source, when memtrace traced the process; of the snapshots of
    process `pid` (needed when they are of several)."""
    chosen = of_one_process(snapshots, pid)
    snapshots, labels = [snapshots[i] for i in chosen], [labels[i] for i in chosen]
    if len(snapshots) < 2:
        raise UsageError("a report needs two snapshots or more "
                         f"(there {'is' if len(snapshots) == 1 else 'are'} {len(snapshots)})")
    trends = region_trends(snapshots, min_growth_kb)
    trend = json.loads(trend_report(snapshots, min_growth_kb, True, sites_of=sites_of,
                                    trends=trends))
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
    span = (f"{len(snapshots)} snapshots over {last.taken_at - first.taken_at:.1f} s, "
            f"from {time.strftime('%Y-%m-%d %H:%M:%S', time.localtime(first.taken_at))}, of "
            f"{html.escape(last.exe or 'an unnamed program')} (pid {last.pid}), taken at "
            f"{html.escape(', '.join(places[:5]) or 'no named place')}"
            f"{' and more' if len(places) > 5 else ''}.")
    style = TextStyle(HTML)
    data = {"format": "gdbmem-report-1", "verdict": trend["verdict"],
            "totals": {"first": totals[0]._asdict(), "last": totals[1]._asdict()},
            "snapshots": len(snapshots), "trend": trend,
            "diff": json.loads(diff_report(first, last, 1, len(snapshots), True))}
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
        trend_table=_trend_tables(trends, trend["process_series_kb"], style, min_growth_kb),
        diff_table=diff_report(first, last, 1, len(snapshots), False,
                               style).split("\n", 1)[1],
        data=jsonout.dumps(data).replace("</", "<\\/"))
