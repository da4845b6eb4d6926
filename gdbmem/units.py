"""Sizes and addresses: the one size formatter, the one size parser (`--min-size 100M`), and
the 64-bit address mask. Both the analysis and the reports use them, so they sit below both."""

from __future__ import annotations

import functools
import re

from gdbmem.errors import UsageError

MASK64 = (1 << 64) - 1  # gdb values of pointers and registers, as unsigned addresses

UNKNOWN = "?"  # a figure the target cannot know (never shown as 0)

_UNITS = "KMGTPE"


@functools.lru_cache(maxsize=65536)
def _human(kb: int | None) -> str:
    if kb is None:
        return UNKNOWN
    value, unit = float(kb), 0
    while value >= 1024 and unit < len(_UNITS) - 1:
        value /= 1024
        unit += 1
    if unit == 0 or value >= 100 or value == int(value):
        return f"{value:.0f}{_UNITS[unit]}" if kb else "0"
    return f"{value:.1f}{_UNITS[unit]}"


@functools.lru_cache(maxsize=65536)
def _plain(kb: int | None) -> str:
    return UNKNOWN if kb is None else str(kb)


def format_kb(kb: int | None, human: bool = True) -> str:
    """4 -> '4K', 1536 -> '1.5M', 0 -> '0', None -> '?'; plain kB digits when not human."""
    return _human(kb) if human else _plain(kb)


def kb_formatter(human: bool = True):
    """format_kb as one C-level cached callable, for formatting whole columns with map()."""
    return _human if human else _plain


def format_bytes(size: int) -> str:
    """A byte count, exact below 1 KiB (gaps, offsets), else like format_kb; 0 as format_kb
    writes it."""
    return "0" if size == 0 else f"{size}B" if size < 1024 else _human(size >> 10)


_SIZE_RE = re.compile(r"\s*([0-9]+(?:\.[0-9]+)?)\s*([kmgtpe]?)(i?b)?\s*", re.IGNORECASE)


def parse_size(text: str) -> int:
    """'100M', '64k', '1.5G', '4096' (bytes), '2MiB', '10kB' -> bytes (binary units)."""
    m = _SIZE_RE.fullmatch(text)
    if m is None:
        raise UsageError(f"bad size {text!r}: use a number with an optional unit, like 64k or 100M")
    number, unit = float(m.group(1)), m.group(2).upper()
    return int(number * 1024 ** (" KMGTPE".index(unit) if unit else 0))


def format_seconds(seconds: float) -> str:
    """A span of time as a reader says it: '22 ms', '1.5 s', '2.5 min', '1.2 h'."""
    if seconds < 1:
        return f"{seconds * 1000:.0f} ms" if seconds >= 0.001 else f"{seconds * 1e6:.0f} µs"
    if seconds < 60:
        return f"{seconds:.3g} s"
    if seconds < 3600:
        return f"{seconds / 60:.3g} min"
    return f"{seconds / 3600:.3g} h"
