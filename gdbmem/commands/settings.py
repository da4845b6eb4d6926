"""`set gdbmem ...` / `show gdbmem ...`: gdbmem's settings, declared as data.

One table (SETTINGS) says each setting's name, type, default, allowed range and help; one
Parameter class makes every `gdb.Parameter` of it. Each default is named once, in the pure
layer that uses it (analysis.growth, analysis.checks, store.journal, render). A value out of
range gets one line and the setting keeps its value. `show gdbmem` lists them all.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

import gdb  # type: ignore[import-not-found]

from gdbmem.analysis.checks import DEFAULTS, Thresholds
from gdbmem.analysis.growth import LEAK_MIN_GROWTH_KB
from gdbmem.errors import UsageError
from gdbmem.render.color import DEFAULT_STYLE, Palette, styles
from gdbmem.render.table import DEFAULT_FORMAT, FORMATS, TextStyle
from gdbmem.store.carry import FULL_EVERY, FULL_SECONDS
from gdbmem.store.journal import JOURNAL_MAX_SIZE, default_directory
from gdbmem.units import format_bytes, parse_size

# gdb's kinds of parameter, by what the table calls them.
_KINDS = {"auto-boolean": gdb.PARAM_AUTO_BOOLEAN, "boolean": gdb.PARAM_BOOLEAN,
          "enum": gdb.PARAM_ENUM, "string": gdb.PARAM_STRING, "size": gdb.PARAM_STRING,
          "number": gdb.PARAM_ZUINTEGER}


class Setting(NamedTuple):
    name: str  # set gdbmem NAME
    kind: str  # a key of _KINDS
    default: Any
    summary: str  # what it is, for `help set gdbmem NAME` and its set/show lines
    help: str  # the rest of its help
    show: str  # `show gdbmem NAME`'s sentence, {} the value
    choices: Callable[[], Sequence[str]] | None = None  # an enum's values
    low: int | None = None  # the range of a number or a size (bytes)
    high: int | None = None
    maintenance: bool = False


def _directory_shown(value: str) -> str:
    return os.path.expanduser(value) if value else default_directory()


SETTINGS = (
    Setting("colour", "auto-boolean", None, "whether gdbmem colours its output",
            "auto (the default) colours only output written to a terminal while gdb's `set "
            "style enabled` is on;\noutput captured by scripts, `pipe`, logs or "
            "`gdb.execute(..., to_string=True)` stays plain.\non colours whenever `set style "
            "enabled` is on; off never colours.\nUsage: set gdbmem colour on|off|auto",
            "gdbmem colours its output: {}."),
    Setting("style", "enum", DEFAULT_STYLE, "the pygments style of gdbmem's colours",
            "Any installed pygments style (tab completes them); the default reads well on dark "
            "and on light\nterminals. With COLORTERM=truecolor colours are exact, with a "
            "256-colour TERM close, else the\nterminal's own 16 colours.\n"
            "Usage: set gdbmem style NAME",
            "gdbmem's colours come from the pygments style {}.", styles),
    Setting("table-format", "enum", DEFAULT_FORMAT,
            "the format of gdbmem's tables, when a command's --format does not say",
            "Any of tabulate's formats (tab completes them): simple (the default), github or "
            "pipe to paste\ninto an issue tracker, html, latex, tsv, grid, rst, ...\n"
            "Usage: set gdbmem table-format FORMAT",
            "gdbmem's tables are written in tabulate's {} format.", lambda: list(FORMATS)),
    Setting("debug", "boolean", False,
            "whether an internal error of gdbmem prints its Python traceback",
            "Off by default: a failing command, breakpoint or function prints one line. Turn it "
            "on to report a bug.\nUsage: set gdbmem debug on|off", "gdbmem tracebacks: {}.",
            maintenance=True),
    Setting("snapshot-dir", "string", "",
            "where memsnap appends each session's snapshots as they are taken (a journal)",
            "Empty (the default) means $XDG_STATE_HOME/gdbmem, or ~/.local/state/gdbmem.\n"
            "Usage: set gdbmem snapshot-dir DIR", "memsnap journals go to {}."),
    Setting("journal-max-size", "size", JOURNAL_MAX_SIZE,
            "how much disk memsnap's journals may take together in the snapshot directory",
            "When they take more, the oldest journals are removed first (never the one being "
            "written),\nand memsnap says so once. Sizes like 500M or 2G, from 1M to 1P.\n"
            "Usage: set gdbmem journal-max-size SIZE",
            "memsnap's journals take at most {} together.", low=1 << 20, high=1 << 50),
    Setting("memsnap-full-every", "number", FULL_EVERY,
            "how many hits at most a memsnap breakpoint carries the last full read",
            "A hit where the kernel's counters (/proc/PID/statm) and the map did not change "
            "carries the\nlast full read of smaps instead of walking the page tables again; "
            "smaps is read in full\nat least every N hits (1: at every hit, as memsnap on "
            "--exact).\nUsage: set gdbmem memsnap-full-every N",
            "memsnap reads smaps in full at least every {} hits.", low=1, high=1 << 30),
    Setting("memsnap-full-seconds", "number", FULL_SECONDS,
            "how many seconds at most a memsnap breakpoint carries the last full read",
            "smaps is read in full again at the first hit this many seconds after the last "
            "full read.\nUsage: set gdbmem memsnap-full-seconds S",
            "memsnap reads smaps in full at least every {} seconds.", low=0, high=1 << 30),
    Setting("leak-min-growth", "number", LEAK_MIN_GROWTH_KB,
            "the smallest growth, in kB, that memsnap trend counts (smaller is noise)",
            "A region's rise over the second half of the snapshots must exceed this (or 2% of "
            "its peak,\nif larger) to be a leak or growing.\nUsage: set gdbmem leak-min-growth "
            "KB", "memsnap trend counts growth from {} kB.", low=0, high=1 << 40),
    Setting("check-anon-rss", "number", DEFAULTS.anon_rss_kb,
            "memcheck: kB resident in one anonymous region that is large",
            "See `help memcheck`.\nUsage: set gdbmem check-anon-rss KB",
            "kB resident in one anonymous region that is large: {}.", low=0, high=1 << 40),
    Setting("check-anon-regions", "number", DEFAULTS.anon_regions,
            "memcheck: anonymous regions that make memory fragmented",
            "See `help memcheck`.\nUsage: set gdbmem check-anon-regions N",
            "anonymous regions that make memory fragmented: {}.", low=1, high=1 << 30),
    Setting("check-large-region", "number", DEFAULTS.large_region_kb,
            "memcheck: kB resident that make a region large",
            "See `help memcheck`.\nUsage: set gdbmem check-large-region KB",
            "kB resident that make a region large: {}.", low=0, high=1 << 40),
    Setting("check-dirty-share", "number", round(DEFAULTS.dirty_share * 100),
            "memcheck: percent of a large region Private_Dirty that is suspicious",
            "A percentage, 0 to 100. See `help memcheck`.\n"
            "Usage: set gdbmem check-dirty-share PERCENT",
            "percent of a large region Private_Dirty that is suspicious: {}.", low=0, high=100),
    Setting("check-swap-share", "number", round(DEFAULTS.swap_share * 100),
            "memcheck: percent in swap that is suspicious",
            "A percentage, 0 to 100. See `help memcheck`.\n"
            "Usage: set gdbmem check-swap-share PERCENT",
            "percent in swap that is suspicious: {}.", low=0, high=100),
)


class Parameter(gdb.Parameter):
    """One row of SETTINGS as a gdb parameter. A size keeps its bytes beside its text; a
    value out of range is refused in one line, the setting keeping its value."""

    def __init__(self, setting: Setting):
        self.setting = setting
        self.__doc__ = f"{setting.summary[0].upper()}{setting.summary[1:]}.\n\n{setting.help}"
        self.set_doc = f"Set {setting.summary}."
        self.show_doc = f"Show {setting.summary}."
        command = gdb.COMMAND_MAINTENANCE if setting.maintenance else gdb.COMMAND_DATA
        if setting.kind == "enum":
            super().__init__(f"gdbmem {setting.name}", command, _KINDS["enum"],
                             list(setting.choices()))  # type: ignore[misc]
        else:
            super().__init__(f"gdbmem {setting.name}", command, _KINDS[setting.kind])
        self.value = setting.default
        self.kept = setting.default  # the last good value
        self.bytes = parse_size(setting.default) if setting.kind == "size" else 0

    def get_set_string(self) -> str:
        setting = self.setting
        try:
            if setting.kind == "size":
                size = parse_size(str(self.value))
                self._check_range(size, format_bytes)
                self.bytes = size
            elif setting.kind == "number":
                self._check_range(int(self.value), str)
        except UsageError as exc:
            self.value = self.kept
            raise gdb.GdbError(f"{setting.name}: {exc}") from None
        self.kept = self.value
        return ""

    def _check_range(self, value: int, shown: Callable[[int], str]) -> None:
        low, high = self.setting.low, self.setting.high
        if (low is not None and value < low) or (high is not None and value > high):
            raise UsageError(f"{shown(value)} is out of range: from {shown(low or 0)} to "
                             f"{shown(high or 0)}")

    def get_show_string(self, svalue: str) -> str:
        if self.setting.kind == "size":
            svalue = format_bytes(self.bytes)
        elif self.setting.name == "snapshot-dir":
            svalue = _directory_shown(str(self.value or ""))
        return self.setting.show.format(svalue)


class _Prefix(gdb.Command):
    def __init__(self, name: str, doc: str):
        self.__doc__ = doc
        super().__init__(name, gdb.COMMAND_DATA, gdb.COMPLETE_NONE, True)


class _ShowAll(_Prefix):
    """`show gdbmem`: every setting, one line each."""

    def invoke(self, argument: str, from_tty: bool) -> None:
        if argument.strip():
            raise gdb.GdbError(f"show gdbmem: no setting {argument.strip()!r}: "
                               f"choose from {', '.join(s.name for s in SETTINGS)}")
        for setting in SETTINGS:
            text = gdb.execute(f"show gdbmem {setting.name}", to_string=True)
            gdb.write(f"{setting.name}: {text}")


_params: dict[str, Parameter] = {}
_palettes: dict[tuple[str, str], Palette] = {}  # by style and colour depth: never stale


def register() -> None:
    _Prefix("set gdbmem", "Set gdbmem's settings (`show gdbmem` lists them).")
    _ShowAll("show gdbmem", "Show gdbmem's settings: `show gdbmem` lists them all.")
    for setting in SETTINGS:
        _params[setting.name] = Parameter(setting)


def value(name: str) -> Any:
    """A setting's value (its default before the commands are registered, as in tests)."""
    parameter = _params.get(name)
    if parameter is not None:
        return parameter.value
    return next(s.default for s in SETTINGS if s.name == name)


def snapshot_directory() -> str:
    return _directory_shown(str(value("snapshot-dir") or ""))


def journal_max_bytes() -> int:
    parameter = _params.get("journal-max-size")
    return parameter.bytes if parameter is not None else parse_size(JOURNAL_MAX_SIZE)


def check_thresholds() -> Thresholds:
    return Thresholds(int(value("check-anon-rss")), int(value("check-anon-regions")),
                      int(value("check-large-region")), int(value("check-dirty-share")) / 100,
                      int(value("check-swap-share")) / 100)


def leak_min_growth_kb() -> int:
    return int(value("leak-min-growth"))


# The page gdb had at its last prompt, (width, height): while it sends a command's output
# into `pipe` or a string (gdb.execute(..., to_string=True)) gdb makes both unlimited, and a
# prompt never stands inside those. Set by events.py at each prompt.
_page_at_prompt: tuple[object, object] | None = None


def _page() -> tuple[object, object]:
    return gdb.parameter("width"), gdb.parameter("height")


def note_prompt() -> None:
    global _page_at_prompt
    _page_at_prompt = _page()


def output_redirected() -> bool:
    """Whether the output goes into `pipe`, a string or a log file, not to the terminal, as
    gdb's own styling knows it (gdb styles a stream that is a terminal only)."""
    try:
        for name in ("logging enabled", "logging"):  # gdb 12 names it so; older gdbs, logging
            try:
                if gdb.parameter(name):
                    return True
                break
            except RuntimeError:
                continue
        # Unlimited inside pipe and to_string; a user whose own page is unlimited too
        # (both width and height 0) cannot be told apart, and keeps colour.
        return _page() == (None, None) and _page_at_prompt != (None, None)
    except (gdb.error, RuntimeError):
        return True


def colour_wanted(from_tty: bool) -> bool:
    """Colour follows `set gdbmem colour` and gdb's `set style enabled`, and goes only where
    gdb's own would: never into `pipe`, a string or a log file. auto also needs the command
    typed at a terminal; on colours a gdb whose output is not one (`gdb | less -R`)."""
    setting = value("colour")
    if setting is False:
        return False
    try:
        if not gdb.parameter("style enabled"):
            return False
    except (gdb.error, RuntimeError):
        return False
    if output_redirected():
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
    fmt = table_format or str(value("table-format"))
    if not colour_wanted(from_tty):
        return TextStyle(fmt, None)
    key = (str(value("style")), colour_depth())
    palette = _palettes.get(key)
    if palette is None:
        palette = _palettes[key] = Palette(*key)
    return TextStyle(fmt, palette)


def debug_enabled() -> bool:
    return bool(value("debug"))
