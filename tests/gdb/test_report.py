"""memsnap report and gdbmem report: one self-contained HTML file of a known leak hunt
(testprogs/leaks.c, mode mmap, traced by memtrace), its exact content, and a real browser
opening it from disk with no network request and charts drawn."""

from __future__ import annotations

import html
import json
import os
import re
import shutil
import stat
import struct
import subprocess
import sys
import zlib

import pytest

from gdbmem.units import format_kb
from tests.gdb.conftest import ROOT, assert_error, assert_no_traceback, build, run_gdb

TICKS = 24
DATA = re.compile(r'<script type="application/json" id="gdbmem-data">(.*?)</script>', re.S)


@pytest.fixture(scope="module")
def hunt(tmp_path_factory):
    d = tmp_path_factory.mktemp("report")
    commands = [f"set gdbmem snapshot-dir {d}/j", f"memsnap report {d}/none.html",
                "memtrace on", "memsnap on tick", "run", "memsnap trend --json",
                f"memsnap report {d}/leak.html", f"memsnap report {d}/leak.html",
                f"memsnap report {d}/no-such-dir/x.html", f"memsnap save {d}/saved.jsonl"]
    return run_gdb(commands, build("leaks"), ["mmap", str(TICKS), str(d)], before=()), d


def page_data(page: str) -> dict:
    return json.loads(html.unescape(DATA.search(page).group(1)).replace("<\\/", "</"))


def test_the_report_says_what_leaks_and_where(hunt):
    gdb, d = hunt
    assert_no_traceback(gdb)
    assert gdb.output(f"memsnap report {d}/leak.html") == (
        f"memsnap: a report of {TICKS} snapshots -> {d}/leak.html\n")
    path = d / "leak.html"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    page = path.read_text()
    assert 'Verdict: <span class=leak>leak</span>.' in page
    assert f"{TICKS} snapshots over " in page and "taken at tick at testprogs/leaks.c:" in page
    malloc = next(n for n, line in enumerate(
        (ROOT / "testprogs" / "leaks.c").read_text().splitlines(), 1)
        if "char *p = malloc(size);" in line)
    assert "<h3>[anon]</h3>" in page
    assert f"<b>touched at testprogs/leaks.c:{malloc}</b> holds " in page
    assert "malloc" in re.sub(r"<[^>]+>", "", page.split("<h3>[anon]</h3>")[1])  # the source
    data = page_data(page)
    trend = gdb.json("memsnap trend --json")
    assert data["trend"] == trend  # the same report as memsnap trend --json
    assert data["verdict"] == "leak" and data["snapshots"] == TICKS


def test_the_html_tables_say_the_trend_s_numbers(hunt):
    gdb, d = hunt
    page = (d / "leak.html").read_text()
    section = page.split("<h2>Trend</h2>")[1].split("<h2>")[0]
    # What grew or shrank first; the stable regions folded in a <details> a reader opens.
    moved, folded = section.split("<details>")

    def rows_of(part):
        rows = [re.findall(r"<td[^>]*>(.*?)</td>", row)
                for row in re.findall(r"<tr>(.*?)</tr>", part, re.S)]
        return {r[-1]: r for r in ([html.unescape(c).strip() for c in r] for r in rows if r)}

    first, stable = rows_of(moved), rows_of(folded)
    regions = gdb.json("memsnap trend --json")["regions"]
    assert {r["key"] for r in regions if r["verdict"] != "stable"} == set(first)
    assert {r["key"] for r in regions if r["verdict"] == "stable"} == set(stable)
    assert f"<summary>{len(stable)} stable regions</summary>" in folded
    for region in regions:
        row = {**first, **stable}[region["key"]]
        assert row[0] == region["verdict"]
        assert (row[3], row[4]) == (format_kb(region["series_kb"][0]),
                                    format_kb(region["series_kb"][-1]))


def test_the_page_needs_nothing_from_elsewhere(hunt):
    _, d = hunt
    page = (d / "leak.html").read_text()
    assert page.count("<svg") == 2  # the charts, inline
    # Scripts are inline (pygal's config in its SVG, and the data): none is fetched.
    assert not re.search(r"<script[^>]*\ssrc\s*=", page)
    assert not re.search(r"""(?:src|href)\s*=\s*["'](?:https?:)?//""", page)
    assert not re.search(r"url\(\s*['\"]?(?:https?:)?//", page)
    assert "<link" not in page and "@import" not in page


def test_bad_input(hunt):
    gdb, d = hunt
    assert_error(gdb, f"memsnap report {d}/none.html", "a report needs two snapshots or more")
    refused = gdb.nth(f"memsnap report {d}/leak.html", 1)["error"]
    assert refused == f"memsnap report: {d}/leak.html exists (use --force to replace it)"
    assert_error(gdb, f"memsnap report {d}/no-such-dir/x.html", "no directory")
    assert not (d / "none.html").exists()
    assert not [n for n in os.listdir(d) if n.endswith(".part")]


def test_the_gdbmem_command_writes_the_same_report(hunt):
    _, d = hunt
    done = subprocess.run([sys.executable, "-m", "gdbmem", "report", str(d / "saved.jsonl"),
                           "-o", str(d / "outside.html")], capture_output=True, text=True,
                          timeout=120, cwd=ROOT)
    assert done.returncode == 0, done.stderr
    assert done.stdout == f"gdbmem: a report of {TICKS} snapshots -> {d}/outside.html\n"
    assert page_data((d / "outside.html").read_text()) == page_data(
        (d / "leak.html").read_text())
    again = subprocess.run([sys.executable, "-m", "gdbmem", "report", str(d / "saved.jsonl"),
                            "-o", str(d / "outside.html")], capture_output=True, text=True,
                           timeout=120, cwd=ROOT)
    assert again.returncode == 2 and "exists" in again.stderr


def png_colours(path) -> int:
    """How many different colours a PNG screenshot has (a blank page has one)."""
    data = path.read_bytes()
    _, height = struct.unpack(">II", data[16:24])
    chunks, i = [], 8
    while i < len(data):
        length, kind = struct.unpack(">I4s", data[i:i + 8])
        if kind == b"IDAT":
            chunks.append(data[i + 8:i + 8 + length])
        i += 12 + length
    raw = zlib.decompress(b"".join(chunks))
    stride = len(raw) // height
    # Filter bytes aside, the distinct 3-byte runs in a few rows are enough to tell.
    seen = set()
    for row in range(0, height, max(height // 200, 1)):
        line = raw[row * stride + 1:(row + 1) * stride]
        seen.update(line[k:k + 3] for k in range(0, len(line) - 3, 3))
    return len(seen)


def test_a_real_browser_opens_it_from_disk(hunt, tmp_path):
    _, d = hunt
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        pytest.skip("chromium is not installed (make test installs it: tools/setup.sh "
                    "--browser); the page's self-containment is checked above")
    shot, netlog = tmp_path / "shot.png", tmp_path / "net.json"
    done = subprocess.run(
        [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
         "--no-first-run", "--disable-background-networking", "--disable-component-update",
         "--disable-sync", f"--user-data-dir={tmp_path / 'profile'}", "--window-size=1100,1600",
         "--enable-logging=stderr", "--v=0", f"--log-net-log={netlog}",
         f"--screenshot={shot}", f"file://{d / 'leak.html'}"],
        capture_output=True, text=True, timeout=120)
    assert shot.exists(), done.stderr
    assert "CONSOLE" not in done.stderr and "Uncaught" not in done.stderr
    log = json.loads(netlog.read_text() + ("" if netlog.read_text().rstrip().endswith("}")
                                           else "]}"))
    urls = {e.get("params", {}).get("url", "") for e in log.get("events", [])}
    # Chromium's own services (network time, component updates) call home whatever the page;
    # any other request would be the page's.
    own = re.compile(r"(?:https?|wss?)://[^/]*(?:google\.com|googleapis\.com|gvt1\.com)[:/]")
    assert not [u for u in urls if re.match(r"(?:https?|wss?):", u) and not own.match(u)], urls
    assert png_colours(shot) > 20  # charts drawn, not a blank page
