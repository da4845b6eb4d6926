"""The one table renderer: columns sized to their widest cell, one printf-style pass per row.

Cells come column by column, so widths are one max(map(len, ...)) each and rows are one
'%-16s %8s ...' % row each; at 20,000 rows a per-cell rjust/ljust would cost more than all
of gdb's own `info proc mappings`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Callable, NamedTuple

from gdbmem.render.color import BOLD, paint


class Column(NamedTuple):
    title: str
    align: str = ">"  # ">" right, "<" left
    # Colour for a cell, chosen from its text; applied after padding so widths stay right.
    colour: Callable[[str], str | None] | None = None


def _pad(text: str, width: int, align: str) -> str:
    return text.ljust(width) if align == "<" else text.rjust(width)


def render_table(columns: Sequence[Column], cells: Sequence[Sequence[str]],
                 colour: bool = False) -> str:
    """`cells[j]` holds column j's cells top to bottom; returns the lines, header first."""
    cells = list(cells)  # painting replaces whole columns, never the caller's lists
    widths = [max(len(c.title), max(map(len, cells[j]), default=0))
              for j, c in enumerate(columns)]
    last = len(columns) - 1
    specs = []
    for j, column in enumerate(columns):
        if colour and column.colour is not None:
            painter = column.colour
            width, align = widths[j], column.align
            cells[j] = [paint(_pad(text, width, align), painter(text)) for text in cells[j]]
            specs.append("%s")
        elif j == last and column.align == "<":
            specs.append("%s")
        else:
            specs.append(f"%{'-' if column.align == '<' else ''}{widths[j]}s")
    header = " ".join(_pad(c.title, widths[j], c.align) for j, c in enumerate(columns))
    # An empty last cell leaves the padding of the one before it: strip line ends.
    lines = map(str.rstrip, map((" ".join(specs)).__mod__, zip(*cells)))
    head = paint(header.rstrip(), BOLD) if colour else header.rstrip()
    return "\n".join([head, *lines]) + "\n"
