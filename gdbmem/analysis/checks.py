"""memcheck: suspicious patterns in one snapshot (and in the trends, when there are some).

Each finding names what it is, the regions behind it and why, with the threshold it crossed:

  growing          a region the trends call a leak (needs snapshots: memsnap)
  large-anonymous  an anonymous region with more resident than `anon_rss_kb`
  fragmentation    more anonymous regions than `anon_regions` (many small mmaps or arenas)
  loaded-twice     one library's code mapped twice (same inode, two executable mappings),
                   or one library name loaded from two paths; a library mapped as data
                   (python's mmap of libc: no executable mapping) is no load
  private-dirty    a large file-backed private mapping (`large_region_kb`) mostly
                   Private_Dirty (`dirty_share`): a file's pages copied and written by this
                   process alone (anonymous memory is always private and dirty: no news)
  swap             a large share of the process, or of a region, in swap (`swap_share`)
  writable-exec    a file, stack or heap mapping both writable and executable
  jit-code         (a note) anonymous memory both writable and executable: the code a JIT
                   compiles (a JVM, node, ...), said once for all such regions
  deleted-file     a mapped file, library or executable deleted or replaced on disk (an
                   upgrade under a running process)
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import NamedTuple

from gdbmem.analysis.growth import Trend
from gdbmem.model import Region, Snapshot
from gdbmem.units import format_kb


class Thresholds(NamedTuple):
    anon_rss_kb: int = 256 * 1024
    anon_regions: int = 1000
    large_region_kb: int = 64 * 1024
    dirty_share: float = 0.9
    swap_share: float = 0.2


class Finding(NamedTuple):
    name: str
    why: str
    regions: list[str]  # "0xSTART-0xEND path" or a trend key
    severity: str = "warning"  # or "note": worth knowing, nothing to act on

    def to_dict(self) -> dict:
        return {"finding": self.name, "why": self.why, "regions": self.regions,
                "severity": self.severity}


def _where(region: Region) -> str:
    return f"{region.start:#x}-{region.end:#x} {region.path or region.kind or ''}".rstrip()


def _anonymous(region: Region) -> bool:
    return region.kind == "anon" and not region.path.startswith("/")


DEFAULTS = Thresholds()


def check(snapshot: Snapshot, thresholds: Thresholds = DEFAULTS,
          trends: Sequence[Trend] = ()) -> list[Finding]:
    regions = snapshot.regions
    t = thresholds
    found: list[Finding] = []
    leaking = [tr for tr in trends if tr.verdict == "leak"]
    if leaking:
        found.append(Finding("growing", "RSS keeps growing over the snapshots, with no plateau: "
                             + ", ".join(f"{tr.key} +{format_kb(round(tr.growth_kb_per_snapshot))}"
                                         "/snapshot" for tr in leaking),
                             [tr.key for tr in leaking]))
    for region in regions:
        if _anonymous(region) and (region.rss_kb or 0) > t.anon_rss_kb:
            found.append(Finding("large-anonymous",
                                 f"{format_kb(region.rss_kb)} resident in one anonymous region "
                                 f"(more than {format_kb(t.anon_rss_kb)})", [_where(region)]))
    anonymous = [r for r in regions if _anonymous(r)]
    if len(anonymous) > t.anon_regions:
        small = sum(1 for r in anonymous if r.size_kb <= 64)
        found.append(Finding("fragmentation",
                             f"{len(anonymous)} anonymous regions (more than {t.anon_regions}), "
                             f"{small} of them 64K or smaller", [_where(r) for r in anonymous[:5]]))
    found += _loaded_twice(regions)
    for region in regions:
        rss, dirty = region.rss_kb or 0, region.field_kb("Private_Dirty") or 0
        if (region.file_path and region.perms[3] == "p" and rss >= t.large_region_kb
                and dirty >= t.dirty_share * rss):
            found.append(Finding("private-dirty",
                                 f"{format_kb(dirty)} of {format_kb(rss)} resident is "
                                 f"Private_Dirty ({dirty * 100 // rss}%): the file's pages, "
                                 "copied and written by this process", [_where(region)]))
    found += _swap(snapshot, t)
    writable_exec = [r for r in regions if r.perms[1] == "w" and r.perms[2] == "x"]
    jit = [r for r in writable_exec if _anonymous(r)]
    if jit:
        size = format_kb(sum(r.size_kb for r in jit))
        found.append(Finding("jit-code", f"{len(jit)} anonymous region"
                             f"{'s' if len(jit) != 1 else ''} ({size}) writable and executable: "
                             "code a JIT compiles (a JVM, node, ...)",
                             [_where(r) for r in jit], "note"))
    for region in writable_exec:
        if not _anonymous(region):
            found.append(Finding("writable-exec", f"mapped {region.perms}: writable and "
                                 "executable at once", [_where(region)]))
    deleted = [r for r in regions if r.deleted and r.kind in ("exe", "lib", "file")]
    if deleted:
        found.append(Finding("deleted-file", "mapped files deleted or replaced on disk since "
                             "(an upgrade under a running process?)",
                             sorted({r.path for r in deleted})))
    return _once(found)


def _once(found: list[Finding]) -> list[Finding]:
    """One finding per cause and region: the first of any repeat."""
    seen: set[tuple[str, tuple[str, ...]]] = set()
    out = []
    for finding in found:
        key = (finding.name, tuple(finding.regions))
        if key not in seen:
            seen.add(key)
            out.append(finding)
    return out


def _loaded_twice(regions: Sequence[Region]) -> list[Finding]:
    """Each load of a library maps its code once: an executable mapping of the file (a file
    merely mapped, read-only, as data has none)."""
    heads = [r for r in regions if r.kind == "lib" and r.perms[2] == "x"]
    found = []
    by_inode: dict[tuple[str, int], list[Region]] = {}
    by_name: dict[str, set[str]] = {}
    for r in heads:
        by_inode.setdefault((r.dev, r.inode), []).append(r)
        by_name.setdefault(os.path.basename(r.file_path), set()).add(r.file_path)
    for (_, inode), same in by_inode.items():
        if len(same) > 1 and inode:
            found.append(Finding("loaded-twice", f"{same[0].file_path} is mapped at "
                                 f"{len(same)} bases", [_where(r) for r in same]))
    for name, paths in by_name.items():
        if len(paths) > 1:
            found.append(Finding("loaded-twice", f"{name} is loaded from {len(paths)} paths",
                                 sorted(paths)))
    return found


def _swap(snapshot: Snapshot, t: Thresholds) -> list[Finding]:
    found = []
    rss = sum(r.rss_kb or 0 for r in snapshot.regions)
    swap = sum(r.swap_kb or 0 for r in snapshot.regions)
    if swap and swap >= t.swap_share * (rss + swap):
        found.append(Finding("swap", f"{format_kb(swap)} of the process's "
                             f"{format_kb(rss + swap)} is in swap", []))
    for region in snapshot.regions:
        r_rss, r_swap = region.rss_kb or 0, region.swap_kb or 0
        if r_swap >= 1024 and r_swap >= t.swap_share * (r_rss + r_swap):
            found.append(Finding("swap", f"{format_kb(r_swap)} of this region is in swap",
                                 [_where(region)]))
    return found
