"""The one JSON writer: compact, stable key order, paths with odd bytes kept as escapes, and
always valid JSON (a NaN or an infinity is a bug of ours to report, never output)."""

from __future__ import annotations

import json
from typing import Any


def dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), allow_nan=False) + "\n"


def report(value: Any, style: Any = None) -> str:
    """A report's JSON: plain, or highlighted by pygments' JSON lexer when `style` (a
    TextStyle) has colours (at a terminal only: captured or redirected, it is dumps())."""
    text = dumps(value)
    palette = getattr(style, "palette", None)
    return palette.highlight(text, "json") if palette is not None else text
