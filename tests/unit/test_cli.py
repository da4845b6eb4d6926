"""The `gdbmem` command on captured files: map, diff, trend, check, capture."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from gdbmem.cli import main, parse_interval
from gdbmem.store.record import Record
from tests.helpers import FIXTURES, fixture, older_saved_line

LAYOUT = str(FIXTURES / "layout.smaps")


def run(capsys, *argv, expect=0):
    """gdbmem's output and errors, after checking its exit code."""
    code = main(list(argv))
    out, err = capsys.readouterr()
    assert code == expect, err
    return out, err


def test_map_of_a_captured_smaps(capsys):
    out, _ = run(capsys, "map", LAYOUT, "--sort", "rss", "--top", "1", "--json")
    (top,) = json.loads(out)
    assert (top["start"], top["Rss"], top["kind"]) == (0x200000000000, 1024, "anon")
    out, _ = run(capsys, "map", LAYOUT, "-k")
    assert out.splitlines()[-2].split()[:4] == ["72472", "2796", "1569", "1364"]
    assert out.splitlines()[-1].endswith("(summed over the regions)")


def test_map_of_pmap_and_maps_captures(capsys):
    out, _ = run(capsys, "map", str(FIXTURES / "layout.pmap-x"), "--json")
    regions = json.loads(out)
    assert len(regions) == 35 and regions[0]["Rss"] == 1024 and "Pss" not in regions[0]
    assert regions[1]["path"] == "layout-file.bin" and regions[1]["kind"] == "file"
    assert [r["kind"] for r in regions if r["path"] == "libc.so.6"] == ["lib"] * 5
    out, _ = run(capsys, "map", str(FIXTURES / "layout.pmap-x"), "--top", "1")
    assert out.splitlines()[2].split()[:5] == ["0x200000000000", "0x200000300000", "3M", "?",
                                               "rw-p"]  # pmap -x says no offset: unknown
    out, _ = run(capsys, "map", str(FIXTURES / "layout.pmap-x"), "-x")
    assert out.splitlines()[-1] == "total kB           72472    2796    1364"
    out, _ = run(capsys, "map", str(FIXTURES / "layout.maps"), "--json")
    assert len(json.loads(out)) == 35 and json.loads(out)[0].get("Rss") is None


def test_check_and_diff(capsys):
    out, _ = run(capsys, "check", LAYOUT, "--json")
    assert [f["finding"] for f in json.loads(out)] == ["deleted-file"]
    out, _ = run(capsys, "diff", LAYOUT, str(FIXTURES / "sleep.smaps"), "--json")
    changes = {c["key"]: c for c in json.loads(out)["changes"]}
    assert changes["[anon]"]["change"] == "shrunk"
    assert changes["/tmp/tmp.L6H94ykvre/layout-file.bin"]["change"] == "removed"


def test_trend_of_saved_snapshots(capsys, tmp_path):
    smaps = fixture("layout.smaps")
    heap_rss = b"Rss:                  72 kB"  # the heap's line, as the kernel pads it
    assert smaps.count(heap_rss) == 1
    grown = smaps.replace(heap_rss, b"Rss:               XXXXX kB")
    path = tmp_path / "saved.jsonl"
    with open(path, "w") as fh:
        for n in range(8):  # the heap's Rss grows by 100 kB a snapshot
            data = grown.replace(b"XXXXX", str(72 + 100 * n).rjust(5).encode())
            fh.write(older_saved_line(Record(7, 1000.0 + n, data, label=f"n{n}")) + "\n")
    out, _ = run(capsys, "trend", str(path), "--json")
    trend = json.loads(out)
    assert (trend["verdict"], trend["snapshots"]) == ("leak", 8)
    assert (trend["regions"][0]["key"], trend["regions"][0]["verdict"]) == ("[heap]", "leak")
    assert trend["regions"][0]["growth_kb_per_second"] == pytest.approx(100)


@pytest.mark.parametrize("argv, message", [
    (["map", "/nonexistent"], "cannot read /nonexistent"),
    (["map", LAYOUT, "--kind", "nope"], "unknown kind nope"),
    (["trend", LAYOUT], "a trend needs two snapshots or more"),
    (["bogus"], "invalid choice: 'bogus'"),
    (["capture", "1", "--out", "/tmp/x", "--every", "soon"], "bad interval 'soon'"),
    (["map", str(FIXTURES / "capture.sh")], "not a mapping line"),
])
def test_bad_input_is_one_line(capsys, argv, message):
    out, err = run(capsys, *argv, expect=2)
    assert out == ""
    assert err.startswith("gdbmem: ") and err.count("\n") == 1 and message in err, err


def test_intervals():
    assert [parse_interval(t) for t in ("5s", "500ms", "2m", "1.5")] == [5, 0.5, 120, 1.5]


def test_capture_a_live_process_and_one_that_exits(tmp_path):
    from tests.gdb.conftest import build
    layout = subprocess.Popen([str(build("layout")), str(tmp_path)], stdout=subprocess.PIPE)
    try:
        assert layout.stdout.readline().startswith(b"layout ready")
        done = subprocess.run([sys.executable, "-m", "gdbmem", "capture", str(layout.pid),
                               "--every", "50ms", "--count", "3", "--out", str(tmp_path / "c")],
                              capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, done.stderr
        (journal,) = (tmp_path / "c").iterdir()
        # Not at a terminal: no progress lines, one line at the end.
        assert done.stdout == f"gdbmem: 3 samples of {layout.pid} -> {journal}\n"
        assert done.stderr == ""
        trend = subprocess.run([sys.executable, "-m", "gdbmem", "trend", str(journal), "--json"],
                               capture_output=True, text=True, timeout=60)
        result = json.loads(trend.stdout)
        assert result["snapshots"] == 3 and result["verdict"] == "stable"
        anon = next(r for r in result["regions"] if r["key"] == "[anon]")
        assert anon["series_kb"][0] >= 1024  # the layout's 1 MiB written at 0x200000000000
    finally:
        layout.kill()
        layout.wait()
    brief = subprocess.Popen(["sleep", "0.3"])
    done = subprocess.run([sys.executable, "-m", "gdbmem", "capture", str(brief.pid), "--every",
                           "0.2s", "--count", "20", "--out", str(tmp_path / "d")],
                          capture_output=True, text=True, timeout=60)
    brief.wait()
    assert done.returncode == 2
    assert "has exited after" in done.stderr and done.stderr.count("\n") == 1
