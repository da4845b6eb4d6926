"""/proc/PID/smaps and smaps_rollup: a maps line, then `Name: value [kB]` lines, per region.

Two parsers give the same result:

* `_parse_lines` walks line by line. It accepts anything a kernel (old or new) writes, keeps
  fields we do not know, and raises ParseError naming the first malformed line.
* `_ColumnParser` is the fast path for a live kernel's output, where every region has the same
  fields in the same order (the kernel prints a fixed list per region). It is fed the file's
  chunks as they are read, splits each once, and checks that every K-th line is a maps line
  (K learnt from the first block); anything else falls back to the line walk.
  A column of field lines is checked (each starts with its field's name, kB fields end in kB)
  and converted to numbers only when a field of it is first read, so a malformed field line
  raises ParseError then, naming its line. The headline figures (Rss, Pss, Swap, the two
  Dirty) are converted as each chunk arrives. At 20,000 regions the line walk costs ~350 ms
  and the columns ~65 ms.
"""

from __future__ import annotations

import gc
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from itertools import repeat
from operator import gt
from typing import Any

from gdbmem.errors import ParseError
from gdbmem.model import Region
from gdbmem.proc.maps import HEADER_RE, as_bytes, parse_header

FIELD_RE = re.compile(rb"([A-Za-z_][A-Za-z0-9_]*):(?:[ \t]*)(.*)")


def _field_value(name: str, text: bytes, line_number: int, line: bytes) -> Any:
    """A field's value: kB figures and bare numbers as int, VmFlags as a list, others as str."""
    if name == "VmFlags":
        return text.decode("ascii", "replace").split()
    text = text.strip()
    if text.endswith(b" kB") or text == b"kB":
        digits = text[:-3].strip()
        if not digits.isdigit():  # a size is never negative
            raise ParseError(f"{name} is not a number of kB", line_number,
                             line.decode("utf-8", "replace"))
        return int(digits)
    if text.isdigit():
        return int(text)
    return text.decode("utf-8", "replace")


def _parse_lines(lines: list[bytes]) -> list[Region]:
    regions: list[Region] = []
    fields: dict[str, Any] | None = None
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        m = FIELD_RE.fullmatch(line)
        if m is None:
            region = parse_header(line, number)
            fields = {}
            region.fields = fields
            regions.append(region)
            continue
        if fields is None:
            raise ParseError("field before any mapping line", number,
                             line.decode("utf-8", "replace"))
        name = m.group(1).decode("ascii")
        fields[name] = _field_value(name, m.group(2), number, line)
    for region in regions:
        region.set_fields(region.fields)
    return regions


class _Columns:
    """Every region's field lines, split out of the file's text the first time a field other
    than the headline ones is read (memmap -X, --json), then converted one column at a time."""

    __slots__ = ("chunks", "index", "names", "raw", "stride", "values")

    def __init__(self, names: list[str], chunks: list[bytes], stride: int):
        self.names = names
        self.index = {name: j for j, name in enumerate(names)}
        self.chunks = chunks  # the whole file, as read
        self.raw: list[list[bytes]] | None = None
        self.values: list[list[Any] | None] = [None] * len(names)
        self.stride = stride

    def column(self, j: int) -> list[Any]:
        values = self.values[j]
        if values is None:
            if self.raw is None:
                lines = b"".join(self.chunks).split(b"\n")
                self.raw = [lines[k + 1::self.stride] for k in range(len(self.names))]
                self.chunks = []
            values = self.values[j] = self._convert(j)
            self.raw[j] = []  # the numbers replace the text; keep memory flat
        return values

    def view(self, row: int) -> FieldView:
        """Region `row`'s fields, as a read-only mapping."""
        return FieldView(self, row)

    def columns_of(self, rows: Sequence[int], names: Sequence[str]) -> list[list[Any]]:
        """model.field_columns for regions that are `rows` of these columns: each named
        column is read once, with no lookup per region (summing six fields over 1,000 regions
        one lookup at a time cost ~9 ms)."""
        out = []
        for name in names:
            j = self.index.get(name)
            if j is None:
                out.append([None] * len(rows))
                continue
            column = self.column(j)
            out.append([column[row] for row in rows])
        return out

    def _convert(self, j: int) -> list[Any]:
        assert self.raw is not None
        name, raw = self.names[j], self.raw[j]
        skip = len(name) + 1
        prefix = name.encode("ascii") + b":"
        kb = name != "VmFlags" and raw[0].endswith(b" kB")
        if _column_is_regular(raw, prefix, kb):
            if kb:
                try:
                    values = [int(line[skip:-3]) for line in raw]
                    if min(values, default=0) >= 0:
                        return values
                except ValueError:
                    pass  # a bad or negative number: the walk below names its line
            elif name == "VmFlags":
                return [line[skip:].decode("ascii", "replace").split() for line in raw]
        # Slow, and only for a malformed column: name its first bad line.
        values = []
        for row, line in enumerate(raw):
            number = row * self.stride + j + 2  # the maps line is first in each block
            if not line.startswith(prefix):
                raise ParseError(f"expected the field {name} here", number,
                                 line.decode("utf-8", "replace"))
            values.append(_field_value(name, line[skip:], number, line))
        return values


class FieldView(Mapping):
    """One region's smaps fields, read from the shared columns (a read-only dict)."""

    __slots__ = ("_columns", "_row")

    def __init__(self, columns: _Columns, row: int):
        self._columns = columns
        self._row = row

    def __getitem__(self, name: str) -> Any:
        columns = self._columns
        return columns.column(columns.index[name])[self._row]

    def get(self, name: str, default: Any = None) -> Any:
        j = self._columns.index.get(name)
        return default if j is None else self._columns.column(j)[self._row]

    def __contains__(self, name: object) -> bool:
        return name in self._columns.index

    def __iter__(self) -> Iterator[str]:
        return iter(self._columns.names)

    def __len__(self) -> int:
        return len(self._columns.names)


def _column_is_regular(raw: list[bytes], prefix: bytes, kb: bool) -> bool:
    joined = b"\n".join(raw)
    # A '\n' only ever stands between two lines, so these counts look at line starts and ends.
    if not joined.startswith(prefix) or joined.count(b"\n" + prefix) != len(raw) - 1:
        return False
    return not kb or (joined.endswith(b" kB") and joined.count(b" kB\n") == len(raw) - 1)


# HEADER_RE anchored at both ends of each line: findall over many maps lines joined by '\n'.
_HEADERS_RE = re.compile(b"^" + HEADER_RE.pattern + b"$", re.MULTILINE)
_HEADLINE = ("Rss", "Pss", "Swap", "Shared_Dirty", "Private_Dirty")
# What the process summary sums besides the headline when there is no smaps_rollup (over
# gdbserver): converted with the headline as the chunks come, so summing needs no second pass.
_SUMMED = ("Private_Clean", "SwapPss")


class _ColumnParser:
    """The fast path, fed the lines of one chunk at a time as the file is read.

    Each `feed` turns the complete blocks it has into Regions (with their headline figures)
    and keeps the rest for the next chunk, so parsing overlaps the kernel writing the file.
    `feed` returns False, and `finish` None, as soon as the layout is not regular.
    """

    def __init__(self, kept: list[bytes], summed: bool) -> None:
        self.kept = kept  # the chunks read so far, shared with parse_smaps_chunks
        self.eager_names = (*_HEADLINE, *_SUMMED) if summed else _HEADLINE
        self.stride = 0
        self.columns: _Columns | None = None
        self.eager: list[int | None] = []  # the columns of eager_names (None: not in the file)
        self.eager_values: dict[int, list[int]] = {}
        self.regions: list[Region] = []
        self.pending: list[bytes] = []
        self.decoded: dict[bytes, str] = {b"": ""}
        self.numbers: dict[int, dict[bytes, int]] = {16: {}, 10: {}}

    def _learn_layout(self, lines: list[bytes]) -> bool | None:
        """The stride and field names from the first block; None until it is complete."""
        stride = next((i for i in range(1, len(lines)) if not FIELD_RE.fullmatch(lines[i])), 0)
        if not stride:
            return None
        names: list[str] = []
        for line in lines[1:stride]:
            m = FIELD_RE.fullmatch(line)
            name = m.group(1).decode("ascii")  # type: ignore[union-attr]
            if name in names:
                return False
            names.append(name)
        if stride < 2:
            return False
        self.stride = stride
        self.columns = _Columns(names, self.kept, stride)
        self.eager = [self.columns.index.get(name) for name in self.eager_names]
        self.eager_values = {j: [] for j in self.eager if j is not None}
        return True

    def _decoded(self, column: tuple[bytes, ...]) -> Iterator[str]:
        """The column as text, each distinct value decoded once (perms, devs and paths repeat)."""
        decoded = self.decoded
        for raw in set(column).difference(decoded):
            decoded[raw] = raw.decode("utf-8", "surrogateescape")
        return map(decoded.__getitem__, column)

    def _numbers(self, column: tuple[bytes, ...], base: int) -> Iterator[int]:
        """The column as ints, each distinct value converted once (offsets and inodes are
        mostly 0: anonymous memory)."""
        known = self.numbers[base]
        for raw in set(column).difference(known):
            known[raw] = int(raw, base)
        return map(known.__getitem__, column)

    def _figures(self, lines: list[bytes], j: int | None, count: int) -> list | None:
        """One headline column of this chunk as ints ([None]*count if the kernel lacks it)."""
        if j is None:
            return [None] * count
        assert self.columns is not None
        name = self.columns.names[j]
        column = lines[j + 1::self.stride]
        prefix = name.encode("ascii") + b":"
        skip = len(prefix)
        # Check and convert each distinct line once: small regions repeat the same figures.
        number = {}
        for line in set(column):
            if not (line.startswith(prefix) and line.endswith(b" kB")):
                return None
            try:
                number[line] = value = int(line[skip:-3])
            except ValueError:
                return None
            if value < 0:
                return None  # the line walk names it
        return list(map(number.__getitem__, column))

    def feed(self, lines: list[bytes]) -> bool:
        if self.pending:
            lines = self.pending + lines
        if not self.stride:
            learnt = self._learn_layout(lines)
            if learnt is None:
                self.pending = lines
                return True
            if not learnt:
                return False
        columns, stride = self.columns, self.stride
        assert columns is not None
        complete = len(lines) // stride * stride
        self.pending = lines[complete:]
        if not complete:
            return True
        blocks = lines[:complete] if complete < len(lines) else lines
        headers = blocks[0::stride]
        rows = _HEADERS_RE.findall(b"\n".join(headers))
        if len(rows) != len(headers):
            return False
        figures = [self._figures(blocks, j, len(headers)) for j in self.eager]
        if None in figures:
            return False
        for j, values in zip(self.eager, figures):
            if j is not None:
                self.eager_values[j] += values  # type: ignore[operator]
        rss, pss, swap, shared_dirty, private_dirty = figures[:len(_HEADLINE)]
        dirty = [None if a is None or b is None else a + b  # type: ignore[operator]
                 for a, b in zip(shared_dirty, private_dirty)]  # type: ignore[arg-type]
        start, end, perms, offset, dev, inode, name = zip(*rows)
        ends = list(map(int, end, repeat(16)))
        starts = list(map(int, start, repeat(16)))
        if any(map(gt, starts, ends)):
            return False
        decoded = self._decoded
        first = len(self.regions)
        self.regions.extend(map(
            Region.measured, starts, ends, decoded(perms), self._numbers(offset, 16),
            decoded(dev), self._numbers(inode, 10), decoded(name),
            repeat(columns), range(first, first + len(headers)),
            rss, pss, dirty, swap))
        return True

    def finish(self) -> list[Region] | None:
        if self.pending or not self.stride:
            return None
        assert self.columns is not None
        for j, values in self.eager_values.items():
            self.columns.values[j] = values
        return self.regions


def parse_smaps_chunks(chunks: Iterable[bytes], summed: bool = False) -> list[Region]:
    """parse_smaps over the file's bytes as they arrive (see target.Process.read_proc_chunks).
    summed: the columns a process summary sums (when there is no smaps_rollup) are converted
    as they come, like the headline figures."""
    # Tens of thousands of new objects would set off the cyclic collector again and again
    # (it doubles the time at 20,000 regions); none of them forms a cycle.
    collecting = gc.isenabled()
    gc.disable()
    try:
        kept: list[bytes] = []
        parser: _ColumnParser | None = _ColumnParser(kept, summed)
        carry = b""
        for chunk in chunks:
            kept.append(chunk)
            if parser is None:
                continue
            lines = (carry + chunk if carry else chunk).split(b"\n")
            carry = lines.pop()  # the unfinished last line, or b"" after a final newline
            if not parser.feed(lines):
                parser = None
        if parser is not None and (not carry or parser.feed([carry])):
            regions = parser.finish()
            if regions is not None:
                return regions
        lines = b"".join(kept).split(b"\n")
        return _parse_lines(lines)
    finally:
        if collecting:
            gc.enable()


def parse_smaps(data: bytes | str) -> list[Region]:
    """Every region of an smaps file with all its fields; ParseError names a malformed line."""
    return parse_smaps_chunks([as_bytes(data)])


def parse_smaps_rollup(data: bytes | str) -> dict[str, Any]:
    """The process totals of smaps_rollup (one `[rollup]` block) as a plain dict."""
    regions = _parse_lines(as_bytes(data).split(b"\n"))
    if len(regions) != 1:
        raise ParseError(f"smaps_rollup holds {len(regions)} blocks, expected 1")
    return dict(regions[0].fields)
