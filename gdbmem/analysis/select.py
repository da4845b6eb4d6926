"""Choosing, ordering and grouping regions for a report (memmap's filters, --sort, --group)."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from typing import Callable, NamedTuple

from gdbmem.analysis.totals import totals
from gdbmem.errors import UsageError
from gdbmem.model import KINDS, Region

SORT_KEYS = ("addr", "size", "rss", "pss", "dirty", "swap")
_SORT_ATTRIBUTE = {"size": "size_kb", "rss": "rss_kb", "pss": "pss_kb",
                   "dirty": "dirty_kb", "swap": "swap_kb"}


def name_matcher(pattern: str) -> Callable[[str], bool]:
    """`/regex/` searches the mapping name; anything else is a plain substring."""
    if len(pattern) >= 2 and pattern.startswith("/") and pattern.endswith("/"):
        try:
            regex = re.compile(pattern[1:-1])
        except re.error as exc:
            raise UsageError(f"bad regular expression {pattern}: {exc}") from None
        return lambda name: regex.search(name) is not None
    return lambda name: pattern in name


def perms_matcher(pattern: str) -> Callable[[str], bool]:
    """Positional when the pattern holds '-' or '?' ('rw?', 'r-x', '???s': '?' is any,
    '-' is absent); otherwise every letter must be there ('x', 'rw', 's')."""
    if not pattern or len(pattern) > 4 or any(c not in "rwxsp-?" for c in pattern):
        raise UsageError(f"bad perms pattern {pattern!r}: use letters of rwxsp with ? and -,"
                         " like 'rw?', 'r-x' or 'x'")
    if "-" in pattern or "?" in pattern:
        return lambda perms: all(p == "?" or p == perms[i] for i, p in enumerate(pattern))
    return lambda perms: all(c in perms for c in pattern)


def parse_kinds(text: str) -> frozenset[str]:
    kinds = frozenset(k.strip() for k in text.split(",") if k.strip())
    unknown = sorted(kinds - set(KINDS))
    if unknown or not kinds:
        raise UsageError(f"unknown kind {', '.join(unknown) or repr(text)}: "
                         f"choose from {', '.join(KINDS)}")
    return kinds


class Selection(NamedTuple):
    """What a user asked to see; every part is optional."""

    name: str | None = None
    kinds: frozenset[str] | None = None
    perms: str | None = None
    min_size_kb: int | None = None
    min_rss_kb: int | None = None
    address_range: tuple[int, int] | None = None  # [lo, hi): regions overlapping it


def select(regions: Iterable[Region], selection: Selection) -> list[Region]:
    tests: list[Callable[[Region], bool]] = []
    if selection.name is not None:
        matches_name = name_matcher(selection.name)
        tests.append(lambda r: matches_name(r.path))
    if selection.kinds is not None:
        kinds = selection.kinds
        tests.append(lambda r: r.kind in kinds)
    if selection.perms is not None:
        matches_perms = perms_matcher(selection.perms)
        tests.append(lambda r: matches_perms(r.perms))
    if selection.min_size_kb is not None:
        min_size = selection.min_size_kb
        tests.append(lambda r: r.size_kb >= min_size)
    if selection.min_rss_kb is not None:
        min_rss = selection.min_rss_kb
        tests.append(lambda r: (r.rss_kb or 0) >= min_rss)
    if selection.address_range is not None:
        lo, hi = selection.address_range
        if hi <= lo:
            raise UsageError(f"empty range {lo:#x},{hi:#x}: the end must be above the start")
        tests.append(lambda r: r.start < hi and r.end > lo)
    if not tests:
        return list(regions)
    return [r for r in regions if all(test(r) for test in tests)]


def sort_regions(regions: Sequence[Region], key: str) -> list[Region]:
    """`addr` ascending; the sizes descending, largest first, unknown last."""
    if key not in SORT_KEYS:
        raise UsageError(f"unknown sort key {key!r}: choose from {', '.join(SORT_KEYS)}")
    if key == "addr":
        return sorted(regions, key=lambda r: r.start)
    attribute = _SORT_ATTRIBUTE[key]
    return sorted(regions, key=lambda r: -1 if getattr(r, attribute) is None
                  else getattr(r, attribute), reverse=True)


def group_name(region: Region) -> str:
    """What --group sums over: a file's path (all its segments; a deleted file keeps its
    ' (deleted)', being another file), the kernel's name ([heap], [stack], [vdso], ...), and
    for unnamed memory its kind: [anon], [thread-stack], [guard], [arena], one row each."""
    return region.path or f"[{region.kind or 'anon'}]"


class Group(NamedTuple):
    name: str
    kind: str
    regions: list[Region]


def group_regions(regions: Iterable[Region]) -> list[Group]:
    groups: dict[str, Group] = {}
    for region in regions:
        name = group_name(region)
        group = groups.get(name)
        if group is None:
            group = groups[name] = Group(name, region.kind or "", [])
        elif region.kind not in (group.kind, "guard"):
            # A library's image is lib plus guard gaps: name the group by its non-guard kind.
            if group.kind == "guard":
                group = groups[name] = Group(name, region.kind or "", group.regions)
        group.regions.append(region)
    return list(groups.values())


def sort_groups(groups: Sequence[Group], key: str) -> list[Group]:
    """As sort_regions, by each group's sums: `addr` by its lowest address."""
    if key not in SORT_KEYS:
        raise UsageError(f"unknown sort key {key!r}: choose from {', '.join(SORT_KEYS)}")
    if key == "addr":
        return sorted(groups, key=lambda g: min(r.start for r in g.regions))
    attribute = _SORT_ATTRIBUTE[key]

    def figure(group: Group) -> int:
        value = getattr(totals(group.regions), attribute)
        return -1 if value is None else value

    return sorted(groups, key=figure, reverse=True)
