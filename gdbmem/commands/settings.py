"""`set gdbmem ...` / `show gdbmem ...`: gdbmem's settings as gdb Parameters."""

from __future__ import annotations

import os

import gdb  # type: ignore[import-not-found]


class _Prefix(gdb.Command):
    def __init__(self, name: str, doc: str):
        self.__doc__ = doc
        super().__init__(name, gdb.COMMAND_DATA, gdb.COMPLETE_NONE, True)


class ColourParameter(gdb.Parameter):
    """Whether gdbmem colours its tables.

auto (the default) colours only output typed at a terminal while gdb's `set style enabled`
is on; output captured by scripts, pipes or `gdb.execute(..., to_string=True)` stays plain.
on colours whenever `set style enabled` is on; off never colours.
Usage: set gdbmem colour on|off|auto"""

    set_doc = "Set whether gdbmem colours its output."
    show_doc = "Show whether gdbmem colours its output."

    def __init__(self) -> None:
        super().__init__("gdbmem colour", gdb.COMMAND_DATA, gdb.PARAM_AUTO_BOOLEAN)
        self.value = None

    def get_show_string(self, svalue: str) -> str:
        return f"gdbmem colours its output: {svalue}."


class DebugParameter(gdb.Parameter):
    """Whether an internal error in a gdbmem command prints its Python traceback.

Off by default: a failing command prints one line. Turn it on to report a bug.
Usage: set gdbmem debug on|off"""

    set_doc = "Set whether gdbmem shows tracebacks of its internal errors."
    show_doc = "Show whether gdbmem shows tracebacks of its internal errors."

    def __init__(self) -> None:
        super().__init__("gdbmem debug", gdb.COMMAND_MAINTENANCE, gdb.PARAM_BOOLEAN)
        self.value = False

    def get_show_string(self, svalue: str) -> str:
        return f"gdbmem tracebacks: {svalue}."


_colour: ColourParameter | None = None
_debug: DebugParameter | None = None


def register() -> None:
    global _colour, _debug
    _Prefix("set gdbmem", "Set gdbmem's settings.")
    _Prefix("show gdbmem", "Show gdbmem's settings.")
    _colour = ColourParameter()
    _debug = DebugParameter()


def colour_wanted(from_tty: bool) -> bool:
    """Colour follows `set gdbmem colour` and gdb's `set style enabled`; auto needs a terminal."""
    setting = _colour.value if _colour is not None else None
    if setting is False:
        return False
    try:
        if not gdb.parameter("style enabled"):
            return False
    except (gdb.error, RuntimeError):
        return False
    if setting is True:
        return True
    return bool(from_tty) and os.isatty(1) and os.environ.get("TERM", "dumb") != "dumb"


def debug_enabled() -> bool:
    return bool(_debug is not None and _debug.value)
