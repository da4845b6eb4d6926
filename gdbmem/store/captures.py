"""Files captured where gdb cannot run, read into Snapshots: what the `gdbmem` command takes.

  cat /proc/PID/smaps > f      every field of every region
  cat /proc/PID/maps > f       bounds, perms and names: no figures (shown as unknown)
  pmap -x PID > f              Kbytes, RSS and Dirty per region; PSS and Swap unknown
  memsnap save f               any number of snapshots (also a memsnap journal, and what
  gdbmem capture writes)       `gdbmem capture` writes)

The kind of file is told from its contents. A capture without a time of its own (smaps, maps,
pmap) takes the file's modification time.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable

from gdbmem.errors import ParseError
from gdbmem.kinds import SHARED_OBJECT_RE, classify
from gdbmem.model import Region, Snapshot
from gdbmem.proc import parse_maps, parse_smaps
from gdbmem.store.codec import read_records
from gdbmem.store.record import Record

_PMAP_LINE = re.compile(r"([0-9a-f]{8,16}) +(\d+) +(\d+|-) +(\d+|-) ([r-][w-][x-][s-]-) (.*)")


def _pmap_regions(text: str) -> list[Region]:
    """`pmap -x` rows. pmap shows a file by its base name and anonymous memory as [ anon ]."""
    regions = []
    for number, line in enumerate(text.splitlines(), 1):
        m = _PMAP_LINE.fullmatch(line)
        if m is None:
            if re.match(r"\d+: |Address |-{8}|total ", line) or not line.strip():
                continue
            raise ParseError("not a pmap -x line", number, line)
        start, kbytes, rss, dirty, mode, name = m.groups()
        name = name.strip()
        path = {"[ anon ]": "", "[ stack ]": "[stack]"}.get(name, name)
        perms = mode[:3] + ("s" if mode[3] == "s" else "p")
        fields = {"Size": int(kbytes)}
        if rss != "-":
            fields["Rss"] = int(rss)
        region = Region(int(start, 16), int(start, 16) + int(kbytes) * 1024, perms, path=path,
                        fields=fields)
        region.dirty_kb = int(dirty) if dirty != "-" else None  # pmap's Dirty: both kinds summed
        region.offset = None  # type: ignore[assignment]  # pmap -x does not say
        regions.append(region)
    return regions


def load(path: str, warn: Callable[[str], None] | None = None) -> list[Record | Snapshot]:
    """The snapshots a file holds: records (parsed when used) or one parsed snapshot.
    warn(line) hears of a journal's torn last record, which is dropped."""
    try:
        with open(path, "rb") as fh:
            data = fh.read()
        taken_at = os.path.getmtime(path)
    except OSError as exc:
        raise ParseError(f"cannot read {path}: {exc.strerror}") from None
    start = data.lstrip()[:1]
    if start == b"{":
        records = read_records(data, path, warn)
        if not records:
            raise ParseError(f"{path} holds no snapshots")
        return list(records)
    text = data.decode("utf-8", "surrogateescape")
    first = text.lstrip().split("\n", 1)[0]
    try:
        if re.match(r"\d+:\s", first):
            regions = _pmap_regions(text)
        elif "\nRss:" in text or "\nSize:" in text:
            regions = parse_smaps(data)
        else:
            regions = parse_maps(data)
    except ParseError as exc:
        raise ParseError(f"{path}: {exc}") from None
    if not regions:
        raise ParseError(f"{path} holds no memory map")
    classify(regions)
    for region in regions:  # pmap shows files by base name: kinds need their path's '/'
        if region.path and region.path[0] not in "/[" and region.kind == "anon":
            region.kind = "lib" if SHARED_OBJECT_RE.search(region.path) else "file"
    return [Snapshot(0, regions, None, taken_at=taken_at)]


def snapshots(paths: list[str], warn: Callable[[str], None] | None = None,
              censuses: list[dict] | None = None) -> list[Snapshot]:
    """Every snapshot of every file, in order; the censuses of malloc's heap that records
    carry (memsnap --heap) are appended to `censuses`, when given."""
    out = []
    for path in paths:
        for item in load(path, warn):
            out.append(item.snapshot if isinstance(item, Record) else item)
            if censuses is not None and isinstance(item, Record) and item.heap:
                censuses.append(item.heap)
    return out
