"""The one table renderer: every format is tabulate's, and the default format's fast path is
byte for byte tabulate's `simple` output for the same cells, under hypothesis."""

from __future__ import annotations

import os
import re

import pytest
import tabulate
from hypothesis import given, settings
from hypothesis import strategies as st

from gdbmem.errors import UsageError
from gdbmem.render import table
from gdbmem.render.color import KIND_TOKENS, Palette
from gdbmem.render.table import (
    DEFAULT_FORMAT,
    FORMATS,
    Column,
    TextStyle,
    check_format,
    render_table,
)

# Any text: unicode, empty, spaces inside, and what tabulate treats apart (surrounding
# whitespace, line breaks, tabs, escape codes), for the columns gdbmem does not make itself.
ANY_TEXT = st.text(st.characters(blacklist_categories=("Cs",)), max_size=12)
OURS = st.text(st.characters(blacklist_categories=("Cs", "Zs", "Cc", "Zl", "Zp")),
               max_size=12)


@st.composite
def tables(draw):
    count = draw(st.integers(1, 6))
    columns = [Column(draw(OURS.filter(lambda t: t == t.strip())), draw(st.sampled_from("<>")),
                      clean=draw(st.booleans())) for _ in range(count)]
    rows = draw(st.integers(0, 8))
    cells = [[draw(OURS if c.clean else ANY_TEXT) for _ in range(rows)] for c in columns]
    return columns, cells


def tabulated(columns, cells, fmt=DEFAULT_FORMAT) -> str:
    return tabulate.tabulate(list(zip(*cells)), headers=[c.title for c in columns],
                             tablefmt=fmt, disable_numparse=True,
                             colalign=["left" if c.align == "<" else "right"
                                       for c in columns]) + "\n"


@settings(max_examples=int(os.environ.get("GDBMEM_TABLE_EXAMPLES", "500")), deadline=None)
@given(tables())
def test_the_fast_path_is_tabulate_byte_for_byte(columns_cells):
    columns, cells = columns_cells
    assert render_table(columns, cells) == tabulated(columns, cells)


def test_the_fast_path_is_taken_for_gdbmem_s_own_cells():
    """Not a vacuous proof: cells as gdbmem makes them go the fast way (tabulate 0.9/0.10)."""
    assert table._FAST, tabulate.__version__
    columns = [Column("Start"), Column("Kind", "<"), Column("Mapping", "<", clean=False)]
    cells = [["0x1000", "0x7fff0000"], ["heap", ""], ["[heap]", "/usr/lib/libc.so.6 (deleted)"]]
    called = []
    real = table._tabulated
    table._tabulated = lambda *a: called.append(a) or real(*a)
    try:
        assert render_table(columns, cells) == tabulated(columns, cells)
        assert called == []
        render_table(columns, [c[:] for c in cells[:2]] + [[" padded", "x"]])
        assert len(called) == 1  # a cell tabulate would strip: tabulate renders it
    finally:
        table._tabulated = real


@pytest.mark.parametrize("fmt", ["github", "pipe", "html", "latex", "tsv", "grid", "rst"])
def test_every_other_format_is_tabulate_s_own(fmt):
    columns = [Column("RSS"), Column("Kind", "<"), Column("Mapping", "<", clean=False)]
    cells = [["1.5M", "4K"], ["heap", "lib"], ["[heap]", "/usr/lib/libc.so.6"]]
    assert render_table(columns, cells, TextStyle(fmt)) == tabulated(columns, cells, fmt)


def test_an_unknown_format_names_the_valid_ones():
    with pytest.raises(UsageError, match=r"unknown table format 'nope': choose from .*github"):
        check_format("nope")
    assert check_format("github") == "github" and "simple" in FORMATS


def test_colour_paints_cells_and_keeps_the_widths():
    columns = [Column("RSS"), Column("Kind", "<", KIND_TOKENS.get)]
    palette = Palette("default", "256")
    cells = [["1.5M", "4K"], ["heap", "lib"]]
    painted = render_table(columns, cells, TextStyle("simple", palette))
    assert "\x1b[" in painted
    plain = render_table(columns, cells)
    strip = re.compile(r"\x1b\[[0-9;]*m").sub
    assert [line.rstrip() for line in strip("", painted).splitlines()] == plain.splitlines()
    # Formats not read at a terminal are never painted.
    assert "\x1b" not in render_table(columns, cells, TextStyle("html", palette))
