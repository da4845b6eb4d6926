"""`set gdbmem ...` / `show gdbmem ...`: gdbmem's settings as gdb Parameters."""

from __future__ import annotations

import os

import gdb  # type: ignore[import-not-found]

from gdbmem.analysis.checks import DEFAULTS, Thresholds
from gdbmem.errors import UsageError
from gdbmem.render.color import DEFAULT_STYLE, Palette, styles
from gdbmem.render.table import DEFAULT_FORMAT, FORMATS, TextStyle
from gdbmem.store.journal import default_directory
from gdbmem.units import format_bytes, parse_size


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


class StyleParameter(gdb.Parameter):
    """Which pygments style gdbmem's colours come from.

Any installed pygments style (tab completes them); the default reads well on dark and on
light terminals. Colours show only at a terminal while `set style enabled` is on; with
COLORTERM=truecolor they are exact, with a 256-colour TERM close, else the terminal's own
16 colours (which follow its theme, whatever the style).
Usage: set gdbmem style NAME"""

    set_doc = "Set the pygments style of gdbmem's colours."
    show_doc = "Show the pygments style of gdbmem's colours."

    def __init__(self) -> None:
        super().__init__("gdbmem style", gdb.COMMAND_DATA, gdb.PARAM_ENUM, styles())
        self.value = DEFAULT_STYLE

    def get_show_string(self, svalue: str) -> str:
        return f"gdbmem's colours come from the pygments style {svalue}."


class TableFormatParameter(gdb.Parameter):
    """The format of gdbmem's tables, when a command's --format does not say.

Any of tabulate's formats (tab completes them): simple (the default), github or pipe to
paste into an issue tracker, html, latex, tsv, grid, rst, ...
Usage: set gdbmem table-format FORMAT"""

    set_doc = "Set the format of gdbmem's tables."
    show_doc = "Show the format of gdbmem's tables."

    def __init__(self) -> None:
        super().__init__("gdbmem table-format", gdb.COMMAND_DATA, gdb.PARAM_ENUM, list(FORMATS))
        self.value = DEFAULT_FORMAT

    def get_show_string(self, svalue: str) -> str:
        return f"gdbmem's tables are written in tabulate's {svalue} format."


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


class SnapshotDirParameter(gdb.Parameter):
    """Where memsnap appends each session's snapshots as they are taken (a journal).

Empty (the default) means $XDG_STATE_HOME/gdbmem, or ~/.local/state/gdbmem.
Usage: set gdbmem snapshot-dir DIR"""

    set_doc = "Set where memsnap keeps its journal of snapshots."
    show_doc = "Show where memsnap keeps its journal of snapshots."

    def __init__(self) -> None:
        super().__init__("gdbmem snapshot-dir", gdb.COMMAND_DATA, gdb.PARAM_STRING)
        self.value = ""

    def get_show_string(self, svalue: str) -> str:
        return f"memsnap journals go to {snapshot_directory()}."


class JournalMaxSizeParameter(gdb.Parameter):
    """How much disk memsnap's journals may take together in the snapshot directory.

When they take more, the oldest journals are removed first (never the one being written),
and memsnap says so once. Sizes like 500M or 2G; the default is 1G.
Usage: set gdbmem journal-max-size SIZE"""

    set_doc = "Set how much disk memsnap's journals may take together."
    show_doc = "Show how much disk memsnap's journals may take together."

    def __init__(self) -> None:
        super().__init__("gdbmem journal-max-size", gdb.COMMAND_DATA, gdb.PARAM_STRING)
        self.value = JOURNAL_MAX_SIZE
        self.bytes = parse_size(JOURNAL_MAX_SIZE)

    def get_set_string(self) -> str:
        try:
            self.bytes = parse_size(str(self.value))
        except UsageError as exc:
            self.value = format_bytes(self.bytes)
            raise gdb.GdbError(f"journal-max-size: {exc}") from None
        return ""

    def get_show_string(self, svalue: str) -> str:
        return f"memsnap's journals take at most {format_bytes(self.bytes)} together."


class LeakMinGrowthParameter(gdb.Parameter):
    """The smallest growth, in kB, that memsnap trend counts (smaller is noise).

A region's rise over the second half of the snapshots must exceed this (or 2% of its
peak, if larger) to be a leak or growing. Default 64.
Usage: set gdbmem leak-min-growth KB"""

    set_doc = "Set the smallest growth (kB) that memsnap trend counts."
    show_doc = "Show the smallest growth (kB) that memsnap trend counts."

    def __init__(self) -> None:
        super().__init__("gdbmem leak-min-growth", gdb.COMMAND_DATA, gdb.PARAM_ZUINTEGER)
        self.value = 64

    def get_show_string(self, svalue: str) -> str:
        return f"memsnap trend counts growth from {svalue} kB."


class _Threshold(gdb.Parameter):
    """A memcheck threshold (see `help memcheck`)."""

    def __init__(self, name: str, default: int, what: str):
        self.name = name
        self.__doc__ = f"{what}.\nUsage: set gdbmem {name} N (default {default})"
        self.set_doc = f"Set memcheck's threshold: {what}."
        self.show_doc = f"Show memcheck's threshold: {what}."
        self.what = what
        super().__init__(f"gdbmem {name}", gdb.COMMAND_DATA, gdb.PARAM_ZUINTEGER)
        self.value = default

    def get_show_string(self, svalue: str) -> str:
        return f"{self.what}: {svalue}."


# memcheck's thresholds, as data: name, default (from analysis.checks), what it is.
THRESHOLDS = (
    ("check-anon-rss", DEFAULTS.anon_rss_kb, "kB resident in one anonymous region that is large"),
    ("check-anon-regions", DEFAULTS.anon_regions, "anonymous regions that make memory fragmented"),
    ("check-large-region", DEFAULTS.large_region_kb, "kB resident that make a region large"),
    ("check-dirty-share", round(DEFAULTS.dirty_share * 100),
     "percent of a large region Private_Dirty that is suspicious"),
    ("check-swap-share", round(DEFAULTS.swap_share * 100), "percent in swap that is suspicious"),
)
_thresholds: list[_Threshold] = []

_colour: ColourParameter | None = None
_debug: DebugParameter | None = None
_snapshot_dir: SnapshotDirParameter | None = None
_leak_min_growth: LeakMinGrowthParameter | None = None
_journal_max_size: JournalMaxSizeParameter | None = None
_style: StyleParameter | None = None
_table_format: TableFormatParameter | None = None
_palettes: dict[tuple[str, str], Palette] = {}
JOURNAL_MAX_SIZE = "1G"


def register() -> None:
    global _colour, _debug, _snapshot_dir, _leak_min_growth, _journal_max_size, _style
    global _table_format
    _Prefix("set gdbmem", "Set gdbmem's settings.")
    _Prefix("show gdbmem", "Show gdbmem's settings.")
    _colour = ColourParameter()
    _debug = DebugParameter()
    _snapshot_dir = SnapshotDirParameter()
    _leak_min_growth = LeakMinGrowthParameter()
    _journal_max_size = JournalMaxSizeParameter()
    _style = StyleParameter()
    _table_format = TableFormatParameter()
    _thresholds[:] = [_Threshold(*spec) for spec in THRESHOLDS]


def snapshot_directory() -> str:
    value = _snapshot_dir.value if _snapshot_dir is not None else ""
    return os.path.expanduser(value) if value else default_directory()


def journal_max_bytes() -> int:
    return (_journal_max_size.bytes if _journal_max_size is not None
            else parse_size(JOURNAL_MAX_SIZE))


def check_thresholds() -> Thresholds:
    values = {name: default for name, default, _ in THRESHOLDS}
    values.update((p.name, int(p.value)) for p in _thresholds)
    return Thresholds(values["check-anon-rss"], values["check-anon-regions"],
                      values["check-large-region"], values["check-dirty-share"] / 100,
                      values["check-swap-share"] / 100)


def leak_min_growth_kb() -> int:
    return int(_leak_min_growth.value) if _leak_min_growth is not None else 64


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


def colour_depth() -> str:
    """As the terminal allows: truecolor (COLORTERM says so), 256 (TERM says so), else 16."""
    if os.environ.get("COLORTERM", "").lower() in ("truecolor", "24bit"):
        return "truecolor"
    return "256" if "256" in os.environ.get("TERM", "") else "16"


def text_style(from_tty: bool, table_format: str | None = None) -> TextStyle:
    """How a command writes its report: the table format it asked for (or the setting's),
    and colours when colour_wanted()."""
    fmt = table_format or (_table_format.value if _table_format is not None
                           else DEFAULT_FORMAT)
    if not colour_wanted(from_tty):
        return TextStyle(fmt, None)
    key = (_style.value if _style is not None else DEFAULT_STYLE, colour_depth())
    palette = _palettes.get(key)
    if palette is None:
        palette = _palettes[key] = Palette(*key)
    return TextStyle(fmt, palette)


def debug_enabled() -> bool:
    return bool(_debug is not None and _debug.value)
