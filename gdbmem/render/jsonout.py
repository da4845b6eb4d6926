"""The one JSON writer: compact, stable key order, paths with odd bytes kept as escapes."""

from __future__ import annotations

import json
from typing import Any


def dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":")) + "\n"
