"""The HTML report as a reader sees it, at 24, 200 and 5,000 snapshots: distinct, readable
time ticks, an RSS axis from 0, a time span said in the unit it reads in, and an address
space whose blocks say what they are."""

from __future__ import annotations

import re
import shutil
import subprocess

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gdbmem.analysis.checks import DEFAULTS
from gdbmem.render.report import html_report, time_ticks
from gdbmem.store.record import Record
from gdbmem.units import format_seconds
from tests.helpers import fixture

HEAP_RSS = b"Rss:                  72 kB"  # the heap's line in layout.smaps


def page(count: int, seconds: float) -> str:
    smaps = fixture("layout.smaps")
    assert smaps.count(HEAP_RSS) == 1
    records = [Record(7, 1000.0 + seconds * n / (count - 1),
                      smaps.replace(HEAP_RSS, f"Rss: {72 + 4 * n:>18} kB".encode()),
                      exe="/bin/leaky") for n in range(count)]
    return html_report([r.snapshot for r in records], ["tick"] * count, 64, DEFAULTS)


def x_labels(svg: str) -> list[str]:
    axis = re.search(r'<g class="axis x[^"]*">(.*?)<g class="(?:series|titles)', svg, re.S)
    assert axis, "no x axis"
    return [t for t in re.findall(r"<text[^>]*>([^<]*)</text>", axis.group(1)) if t.strip()]


@pytest.mark.parametrize("count, seconds, unit", [(24, 0.022, "ms"), (200, 3.0, "s"),
                                                  (5000, 7200.0, "h")])
def test_time_ticks_are_distinct_and_readable(count, seconds, unit):
    text = page(count, seconds)
    rss = text[text.index("RSS over time"):text.index("The address space")]
    labels = x_labels(rss)
    assert 3 <= len(labels) <= 12, labels
    assert len(set(labels)) == len(labels) and not any("…" in t for t in labels), labels
    assert all(t.endswith(" " + unit) for t in labels), labels
    assert f"{count} snapshots over {format_seconds(seconds)}" in text
    y_axis = re.search(r'<g class="axis y[^"]*">(.*?)</g>', rss, re.S).group(1)
    assert ">0<" in y_axis  # the RSS axis starts at 0: a small rise is drawn small


def test_the_address_space_says_what_each_block_is():
    text = page(24, 0.022)
    svg = text[text.index('<svg xmlns="http://www.w3.org/2000/svg" class="address-space"'):]
    svg = svg[:svg.index("</svg>")]
    titles = re.findall(r"<title>([^<]*)</title>", svg)
    assert any(t.startswith("[heap] (heap): 0x") and "resident" in t for t in titles), titles
    assert any("libc.so.6 (lib)" in t for t in titles)
    addresses = re.findall(r">(0x[0-9a-f]+)</text>", svg)
    assert len(addresses) >= 3 and addresses == sorted(addresses, key=lambda a: int(a, 16))
    assert re.search(r">layout-file.bin</text>|>libc.so.6</text>", svg)  # large ones named


@settings(max_examples=300, deadline=None)
@given(st.lists(st.floats(0, 1e6, allow_nan=False), min_size=2, max_size=300))
def test_ticks_are_distinct_at_any_spacing(gaps):
    times = [1000.0]
    for gap in gaps:
        times.append(times[-1] + gap)
    labels = [t for t in time_ticks(times) if t]
    assert len(set(labels)) == len(labels) >= 1
    if times[-1] > times[0]:
        assert len(labels) >= 2
    assert len(labels) <= 12


def test_screenshots_in_a_real_browser(tmp_path):
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        pytest.skip("chromium is not installed (make test installs it: tools/setup.sh --browser)")
    for count, seconds in ((24, 0.022), (200, 3.0), (5000, 7200.0)):
        path, shot = tmp_path / f"r{count}.html", tmp_path / f"r{count}.png"
        path.write_text(page(count, seconds))
        done = subprocess.run(
            [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
             "--disable-background-networking", "--disable-component-update",
             f"--user-data-dir={tmp_path / 'profile'}", "--window-size=1000,1400",
             f"--screenshot={shot}", f"file://{path}"], capture_output=True, text=True,
            timeout=120)
        assert shot.exists() and shot.stat().st_size > 20000, done.stderr
