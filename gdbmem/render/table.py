"""The one table renderer: tabulate, in any of its formats, and a fast path for the default.

Cells come column by column. Every format is tabulate's own. The default format, `simple`,
has a fast path: at 20,000 rows tabulate takes ~0.5 s, four times all of gdb's own `info proc
mappings`, where one max(map(len, ...)) per column and one '%-16s  %8s ...' % row per row
take ~20 ms. Its output is byte for byte tabulate's for the same cells (proved under
hypothesis in tests/unit/test_table.py against the tabulate installed), and it is used only
where that holds: the tabulate version it was proved with, no wide characters mode, and
cells without the surrounding whitespace, line breaks or tabs tabulate would treat apart.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Callable, NamedTuple

import tabulate as _tabulate
from pygments.token import _TokenType

from gdbmem.render.color import HEADING, Palette

DEFAULT_FORMAT = "simple"
FORMATS = tuple(sorted(_tabulate.tabulate_formats))
# Formats read at a terminal, which colour may paint (never html, latex, tsv, ...).
TERMINAL_FORMATS = frozenset(f for f in FORMATS if f in (
    "simple", "plain", "grid", "simple_grid", "rounded_grid", "heavy_grid", "mixed_grid",
    "double_grid", "fancy_grid", "outline", "simple_outline", "rounded_outline",
    "heavy_outline", "mixed_outline", "double_outline", "fancy_outline", "psql", "presto",
    "pretty", "orgtbl"))
# The tabulate versions whose `simple` output the fast path was proved equal to.
_PROVED = ("0.9.", "0.10.")
_FAST = (_tabulate.__version__.startswith(_PROVED)
         and not getattr(_tabulate, "WIDE_CHARS_MODE", False)
         and getattr(_tabulate, "MIN_PADDING", 2) == 2)


class Column(NamedTuple):
    title: str
    align: str = ">"  # ">" right (numbers, sizes, addresses), "<" left (names, text)
    # The token type a cell is painted as, chosen from its text (None: not painted).
    token: Callable[[str], _TokenType | None] | None = None
    # Cells gdbmem made itself (numbers, sizes, kinds): never whitespace at either end, no
    # line breaks or tabs. Others (paths, labels) are checked before the fast path takes them.
    clean: bool = True


def check_format(name: str) -> str:
    """A tabulate format name, or UsageError naming the valid ones."""
    from gdbmem.errors import UsageError

    if name not in FORMATS:
        raise UsageError(f"unknown table format {name!r}: choose from {', '.join(FORMATS)}")
    return name


class TextStyle(NamedTuple):
    """How a report is written: its tables' format, and the colours (None: plain)."""

    table_format: str = DEFAULT_FORMAT
    palette: Palette | None = None


PLAIN = TextStyle()


def render_table(columns: Sequence[Column], cells: Sequence[Sequence[str]],
                 style: TextStyle = PLAIN) -> str:
    """`cells[j]` holds column j's cells top to bottom; the table, ending with a newline."""
    fmt = style.table_format
    palette = style.palette if fmt in TERMINAL_FORMATS else None
    if fmt == DEFAULT_FORMAT and _FAST and all(
            column.clean or _plain_cells(cells[j]) for j, column in enumerate(columns)):
        return _simple(columns, cells, palette) + "\n"
    return _tabulated(columns, cells, fmt, palette) + "\n"


def _plain_cells(cells: Sequence[str]) -> bool:
    """No cell that tabulate would strip, split into lines, expand, measure without its
    escape codes, or draw as a line (\x01 is its SEPARATING_LINE)."""
    joined = "\0".join(cells)
    if any(c in joined for c in ("\n", "\t", "\r", "\x1b", "\x0b", "\x0c", "\x01")):
        return False
    return all(c == c.strip() for c in cells)


def _simple(columns: Sequence[Column], cells: Sequence[Sequence[str]],
            palette: Palette | None) -> str:
    """tabulate's `simple`: a title line, a line of dashes, the rows; two spaces between
    columns; a column as wide as its widest cell or its title and two more; lines stripped
    at their end."""
    widths = [max(len(c.title) + 2, max(map(len, cells[j]), default=0))
              for j, c in enumerate(columns)]
    cells = list(cells)  # painting replaces whole columns, never the caller's lists
    specs = []
    for j, column in enumerate(columns):
        if palette is not None and column.token is not None:
            width, right = widths[j], column.align != "<"
            token = column.token
            cells[j] = [palette.paint(text.rjust(width) if right else text.ljust(width),
                                      token(text)) for text in cells[j]]
            specs.append("%s")
        else:
            specs.append(f"%{'-' if column.align == '<' else ''}{widths[j]}s")
    rowless = not any(cells)  # tabulate left-aligns every title of a table without rows
    titles = "  ".join(c.title.ljust(w) if c.align == "<" or rowless else c.title.rjust(w)
                       for c, w in zip(columns, widths)).rstrip()
    if palette is not None:
        titles = palette.paint(titles, HEADING)
    dashes = "  ".join("-" * w for w in widths)
    rows = map(str.rstrip, map(("  ".join(specs)).__mod__, zip(*cells)))
    return "\n".join([titles, dashes, *rows])


def _tabulated(columns: Sequence[Column], cells: Sequence[Sequence[str]], fmt: str,
               palette: Palette | None) -> str:
    rows = list(zip(*cells))
    if palette is not None:  # tabulate measures widths without the escape codes
        rows = [tuple(palette.paint(text, c.token(text)) if c.token is not None else text
                      for text, c in zip(row, columns)) for row in rows]
    headers = [c.title for c in columns]
    return _tabulate.tabulate(rows, headers=headers, tablefmt=fmt, disable_numparse=True,
                              colalign=["left" if c.align == "<" else "right"
                                        for c in columns])
