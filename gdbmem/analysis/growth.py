"""How memory changes between snapshots: region matching, diffs, trends and leak verdicts.

Regions change between snapshots: the heap grows at its end, an arena's used part grows into
its reserve, adjacent anonymous regions merge and split, libraries come and go. So regions
are matched by what they are, not by their bounds; `region_key` gives the key:

  [heap], [stack], [vdso], ...   by the kernel's name
  the file's path                every mapping of a file (all segments, however many times it
                                 is mapped); a deleted file keeps its path
  arena@BASE                     a malloc arena: its 64 MiB-aligned head and reserve together
  thread-stack@START             a thread's stack (and guard@START its guard page)
  [anon]                         all other anonymous memory: the blocks of large allocations
                                 come and go, merge and split; their sum is what leaks

Figures per key are the sums over its regions at each snapshot.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

from gdbmem.kinds import HEAP_MAX_SIZE
from gdbmem.model import Region, Snapshot

# The smallest growth, in kB, a trend counts (smaller is noise): `set gdbmem leak-min-growth`.
LEAK_MIN_GROWTH_KB = 64


def region_key(region: Region) -> str:
    kind = region.kind
    if kind == "arena":
        return f"arena@{region.start & ~(HEAP_MAX_SIZE - 1):#x}"
    if kind in ("thread-stack", "guard") and not region.path:
        return f"{kind}@{region.start:#x}"
    if region.file_path:
        return region.file_path
    if region.path:
        return region.path
    return "[anon]"


class Usage(NamedTuple):
    """One key's figures at one snapshot, in kB."""

    kind: str
    regions: int
    size_kb: int
    rss_kb: int
    pss_kb: int
    swap_kb: int


def usage_by_key(snapshot: Snapshot) -> dict[str, Usage]:
    sums: dict[str, list] = {}
    for region in snapshot.regions:
        key = region_key(region)
        entry = sums.get(key)
        if entry is None:
            entry = sums[key] = [region.kind or "anon", 0, 0, 0, 0, 0]
        entry[1] += 1
        entry[2] += region.size_kb
        entry[3] += region.rss_kb or 0
        entry[4] += region.pss_kb or 0
        entry[5] += region.swap_kb or 0
    return {key: Usage(*entry) for key, entry in sums.items()}


# Diffs -------------------------------------------------------------------------------------

class Change(NamedTuple):
    key: str
    kind: str
    change: str  # "added", "removed", "grown", "shrunk"
    before: Usage | None
    after: Usage | None

    def _delta(self, field: str) -> int:
        after = getattr(self.after, field) if self.after else 0
        return after - (getattr(self.before, field) if self.before else 0)

    @property
    def rss_delta_kb(self) -> int:
        return self._delta("rss_kb")

    @property
    def size_delta_kb(self) -> int:
        return self._delta("size_kb")


class Diff(NamedTuple):
    changes: list[Change]            # largest RSS change first
    rss_delta_kb: int | None         # the process totals' deltas (rollup, else summed)
    pss_delta_kb: int | None
    swap_delta_kb: int | None
    seconds: float


def _total(snapshot: Snapshot, name: str, attribute: str) -> int:
    if snapshot.rollup and isinstance(snapshot.rollup.get(name), int):
        return snapshot.rollup[name]
    return sum(getattr(r, attribute) or 0 for r in snapshot.regions)


def diff(a: Snapshot, b: Snapshot) -> Diff:
    """What changed from a to b: keys added, removed, grown or shrunk (in RSS, else size)."""
    before, after = usage_by_key(a), usage_by_key(b)
    changes = []
    for key in before.keys() | after.keys():
        old, new = before.get(key), after.get(key)
        if old is None:
            change = "added"
        elif new is None:
            change = "removed"
        elif (new.rss_kb, new.size_kb) == (old.rss_kb, old.size_kb):
            continue
        else:
            change = "grown" if (new.rss_kb, new.size_kb) > (old.rss_kb, old.size_kb) else "shrunk"
        changes.append(Change(key, (new or old).kind, change, old, new))  # type: ignore[union-attr]
    changes.sort(key=lambda c: (-abs(c.rss_delta_kb), -abs(c.size_delta_kb), c.key))
    return Diff(changes,
                _total(b, "Rss", "rss_kb") - _total(a, "Rss", "rss_kb"),
                _total(b, "Pss", "pss_kb") - _total(a, "Pss", "pss_kb"),
                _total(b, "Swap", "swap_kb") - _total(a, "Swap", "swap_kb"),
                b.taken_at - a.taken_at)


# Trends ------------------------------------------------------------------------------------

VERDICTS = ("leak", "growing", "stable", "shrinking")


class Trend(NamedTuple):
    key: str
    kind: str
    series_kb: list[int]           # RSS at each snapshot (0 where the key is absent)
    growth_kb_per_snapshot: float  # least-squares slope over all snapshots
    growth_kb_per_second: float
    verdict: str

    def to_dict(self) -> dict:
        return {"key": self.key, "kind": self.kind,
                "path": self.key if self.key.startswith(("/", "[")) else "",
                "verdict": self.verdict, "series_kb": self.series_kb,
                "growth_kb_per_snapshot": round(self.growth_kb_per_snapshot, 3),
                "growth_kb_per_second": round(self.growth_kb_per_second, 3)}


def _slope(xs: Sequence[float], ys: Sequence[float]) -> float:
    n = len(xs)
    if n < 2:
        return 0.0
    mx, my = sum(xs) / n, sum(ys) / n
    var = sum((x - mx) ** 2 for x in xs)
    return sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / var if var else 0.0


def _fit(ys: Sequence[float]) -> tuple[float, float]:
    """Least-squares rise over the whole of ys, and R² (how much of ys the line explains)."""
    xs = range(len(ys))
    slope = _slope(xs, ys)
    mean = sum(ys) / len(ys)
    total = sum((y - mean) ** 2 for y in ys)
    explained = slope * slope * sum((x - (len(ys) - 1) / 2) ** 2 for x in xs)
    return slope * (len(ys) - 1), (explained / total if total else 0.0)


def verdict(series: Sequence[int], min_growth_kb: int = LEAK_MIN_GROWTH_KB) -> str:
    """The verdict on one series of RSS figures, over its second half:

    leak       it rises steadily (a line explains most of it, R² >= 0.6) and the last third
               is not flat: no plateau;
    growing    it rises, less steadily (R² >= 0.3), with no plateau;
    shrinking  it falls, likewise;
    stable     anything else: flat, a warm-up that rose and then stayed flat, or churn up
               and down that a line does not explain.

    A rise smaller than `min_growth_kb` (or 2% of the peak) is noise; the last third is flat
    when it rises by less than half that. Fewer than four snapshots show no trend: stable.
    """
    n = len(series)
    if n < 4:
        return "stable"
    noise = max(min_growth_kb, 0.02 * max(series))
    rise, r2 = _fit(series[n // 2:])
    plateau = abs(_fit(series[-max(3, n // 3):])[0]) <= noise / 2  # the last third: flat
    if plateau or abs(rise) <= noise or r2 < 0.3:
        return "stable"
    if rise < 0:
        return "shrinking"
    return "leak" if r2 >= 0.6 else "growing"


def trends(snapshots: Sequence[Snapshot],
           min_growth_kb: int = LEAK_MIN_GROWTH_KB) -> list[Trend]:
    """Each key's RSS series and verdict, largest growth first."""
    usages = [usage_by_key(s) for s in snapshots]
    keys: dict[str, str] = {}
    for usage in usages:
        for key, u in usage.items():
            keys.setdefault(key, u.kind)
    times = [s.taken_at for s in snapshots]
    indexes = list(range(len(snapshots)))
    out = []
    for key, kind in keys.items():
        series = [u[key].rss_kb if key in u else 0 for u in usages]
        out.append(Trend(key, kind, series, _slope(indexes, series), _slope(times, series),
                         verdict(series, min_growth_kb)))
    out.sort(key=lambda t: (-(t.series_kb[-1] - t.series_kb[0]), -t.growth_kb_per_snapshot,
                            t.key))
    return out


def process_series(snapshots: Sequence[Snapshot]) -> list[int]:
    return [_total(s, "Rss", "rss_kb") for s in snapshots]


def process_verdict(snapshots: Sequence[Snapshot], region_trends: Sequence[Trend],
                    min_growth_kb: int = LEAK_MIN_GROWTH_KB) -> str:
    """leak when any region leaks; otherwise the verdict of the process's total RSS."""
    if any(t.verdict == "leak" for t in region_trends):
        return "leak"
    return verdict(process_series(snapshots), min_growth_kb)
