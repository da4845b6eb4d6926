"""Sizes, the table renderer and memmap's layouts; pmap's layouts byte for byte."""

from __future__ import annotations

import json

import pytest

from gdbmem.analysis.select import group_regions
from gdbmem.errors import UsageError
from gdbmem.proc import parse_smaps
from gdbmem.render.maps import group_table, pmap_device, pmap_extended, region_table, smaps_table
from gdbmem.render.table import Column, render_table
from gdbmem.units import format_bytes, format_kb, parse_size
from tests.helpers import fixture, layout


@pytest.mark.parametrize("kb, text", [
    (0, "0"), (4, "4K"), (1023, "1023K"), (1024, "1M"), (1536, "1.5M"), (65404, "63.9M"),
    (150 * 1024, "150M"), (3 * 1024 * 1024, "3G"), (None, "?"),
])
def test_format_kb(kb, text):
    assert format_kb(kb) == text


def test_plain_kb_and_bytes():
    assert format_kb(1536, human=False) == "1536"
    assert format_kb(None, human=False) == "?"
    assert (format_bytes(0), format_bytes(1023), format_bytes(4096)) == ("0", "1023B", "4K")


@pytest.mark.parametrize("text, size", [
    ("4096", 4096), ("64k", 65536), ("64K", 65536), ("100M", 100 << 20), ("1.5G", 3 << 29),
    ("2MiB", 2 << 20), ("10kB", 10240), (" 7 ", 7),
])
def test_parse_size(text, size):
    assert parse_size(text) == size


@pytest.mark.parametrize("bad", ["", "12Q", "M", "-5", "1e3"])
def test_parse_size_rejects(bad):
    with pytest.raises(UsageError, match="bad size"):
        parse_size(bad)


def test_table_aligns_and_strips_line_ends():
    """tabulate's simple format: two spaces between columns, titles padded by two."""
    text = render_table([Column("N"), Column("Name", "<"), Column("Note", "<")],
                        [["1", "100"], ["a", "bb"], ["", "x"]])
    assert text == "  N  Name    Note\n---  ------  ------\n  1  a\n100  bb      x\n"


def test_pmap_x_byte_for_byte():
    regions = parse_smaps(fixture("layout.smaps"))
    expected = fixture("layout.pmap-x").decode()
    first = expected.splitlines()[0]
    pid, cmdline = first.split(":", 1)
    assert pmap_extended(regions, int(pid), cmdline.strip()) == expected


def test_pmap_d_byte_for_byte():
    regions = parse_smaps(fixture("layout.smaps"))
    expected = fixture("layout.pmap-d").decode()
    pid, cmdline = expected.splitlines()[0].split(":", 1)
    assert pmap_device(regions, int(pid), cmdline.strip()) == expected


def test_region_table_rows_and_totals():
    lines = region_table(layout()).splitlines()
    assert lines[0].split() == ["Start", "End", "Size", "Offset", "Perms", "RSS", "PSS",
                                "Dirty", "Swap", "Kind", "Mapping"]
    assert lines[2].split() == ["0x200000000000", "0x200000300000", "3M", "0x0", "rw-p", "1M",
                                "1M", "1M", "0", "anon"]
    assert lines[16].split()[-5:] == ["thread-stack", "[thread", "3,", "LWP", "5607]"]
    assert lines[-1].split() == ["70.8M", "2.7M", "1.5M", "1.3M", "0", "total", "of", "35",
                                 "regions"]
    assert region_table(layout(), human=False).splitlines()[-1].split()[:4] == [
        "72472", "2796", "1569", "1364"]  # Pss summed per region (the rollup rounds once: 1573)


def test_unknown_figures_show_as_question_marks():
    from gdbmem.proc import parse_maps
    lines = region_table(parse_maps(fixture("layout.maps"))).splitlines()
    assert lines[2].split()[5:9] == ["?", "?", "?", "?"]
    assert lines[-1].split()[1:5] == ["?", "?", "?", "?"]


def test_every_field_table_and_groups():
    text = smaps_table(layout())
    header = text.splitlines()[0].split()
    assert header[:6] == ["Address", "Perm", "Offset", "Device", "Inode", "Size"]
    assert "VmFlags" in header and "SwapPss" in header
    footer = text.splitlines()[-1]
    assert footer.split()[:3] == ["total", "72472", "2796"]  # Size, then Rss: page sizes blank
    column = text.splitlines()[0].index("KernelPageSize")
    assert footer[column:column + len("KernelPageSize")].strip() == ""
    groups = group_table(group_regions(layout())).splitlines()
    assert groups[0].split() == ["Regions", "Size", "RSS", "PSS", "USS", "Dirty", "Swap",
                                 "Kind", "Mapping"]


def test_region_json_shape():
    region = layout()[14]
    obj = json.loads(json.dumps(region.to_dict()))
    assert {k: obj[k] for k in ("start", "end", "offset", "inode", "perms", "dev", "path",
                                "kind", "deleted", "thread")} == {
        "start": 0x7FFFF7D11000, "end": 0x7FFFF7D91000, "offset": 0, "inode": 0,
        "perms": "rw-p", "dev": "00:00", "path": "", "kind": "thread-stack", "deleted": False,
        "thread": 3}
    assert obj["Rss"] == 8 and obj["VmFlags"][:2] == ["rd", "wr"]
