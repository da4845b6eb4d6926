"""The one JSON writer: compact, stable key order, paths with odd bytes kept as escapes, and
always valid JSON (a NaN or an infinity is a bug of ours to report, never output)."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from typing import Any


def dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), allow_nan=False) + "\n"


def dumps_items(items: Iterable[Any]) -> str:
    """dumps() of a list, made an item at a time: the items' objects need not all live at
    once (60,000 regions' dicts were 90 MB), and the text is the same."""
    return "[" + ",".join(json.dumps(item, separators=(",", ":"), allow_nan=False)
                          for item in items) + "]\n"


def report(value: Any, style: Any = None) -> str:
    """A report's JSON: plain, or highlighted by pygments' JSON lexer when `style` (a
    TextStyle) has colours (at a terminal only: captured or redirected, it is dumps()). An
    iterator is written as a list, an item at a time."""
    text = dumps_items(value) if isinstance(value, Iterator) else dumps(value)
    palette = getattr(style, "palette", None)
    return palette.highlight(text, "json") if palette is not None else text
