"""Plain data: a Region is one mapping of a process, a Snapshot is all of them at one moment.

No I/O here. Field values are the kernel's smaps fields under the kernel's own names, in kB
(except `VmFlags`, a list of two-letter flags, and the few unit-less ones like `THPeligible`).
A field the kernel did not give (maps only, an old kernel, a core file) is absent, and the
`*_kb` accessors return None for it: unknown is never shown as zero.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any, NamedTuple

DELETED_SUFFIX = " (deleted)"

# The kinds a region can have, in the order `help memmap` documents them.
KINDS = (
    "heap", "stack", "thread-stack", "guard", "arena", "exe", "lib", "file", "anon", "shm",
    "vdso", "vvar", "vsyscall",
)


class Region:
    """One line of /proc/PID/maps plus, when known, its smaps fields and what it is."""

    # rss_kb, pss_kb, dirty_kb and swap_kb repeat fields that every table shows; they are set
    # once with the fields (set_fields), as plain attributes, because reading them through the
    # fields mapping costs ~50 ms per 20,000 regions.
    __slots__ = (
        "_fields",
        "_row",
        "_source",
        "dev",
        "dirty_kb",
        "end",
        "inode",
        "kind",
        "lwp",
        "offset",
        "path",
        "perms",
        "pss_kb",
        "rss_kb",
        "start",
        "swap_kb",
        "thread",
    )

    def __init__(self, start: int, end: int, perms: str, offset: int | None = 0,
                 dev: str = "00:00",
                 inode: int = 0, path: str = "", fields: Mapping[str, Any] | None = None,
                 kind: str | None = None, thread: int | None = None, lwp: int | None = None):
        self.start = start
        self.end = end
        self.perms = perms
        self.offset = offset
        self.dev = dev
        self.inode = inode
        self.path = path
        self._source = None
        self._row = 0
        if fields is None:
            self._fields: Mapping[str, Any] | None = {}
            self.rss_kb = self.pss_kb = self.dirty_kb = self.swap_kb = None
        else:
            self.set_fields(fields)
        self.kind = kind
        self.thread = thread  # gdb's thread number of the thread whose stack this is
        self.lwp = lwp

    @property
    def size(self) -> int:
        return self.end - self.start

    @property
    def size_kb(self) -> int:
        return (self.end - self.start) >> 10

    @property
    def deleted(self) -> bool:
        return self.path.endswith(DELETED_SUFFIX)

    @property
    def file_path(self) -> str:
        """The path without the kernel's ' (deleted)' suffix; "" when not a file."""
        path = self.path[: -len(DELETED_SUFFIX)] if self.deleted else self.path
        return path if path.startswith("/") else ""

    @property
    def anonymous(self) -> bool:
        return not self.path.startswith("/")

    def contains(self, address: int) -> bool:
        return self.start <= address < self.end

    @classmethod
    def measured(cls, start: int, end: int, perms: str, offset: int, dev: str, inode: int,
                 path: str, source: Any, row: int, rss_kb: int | None, pss_kb: int | None,
                 dirty_kb: int | None, swap_kb: int | None) -> Region:
        """A region whose headline figures the caller already has (the smaps fast path); its
        fields are row `row` of `source`, viewed when first asked for (source.view(row)):
        a mapping object per region up front costs ~7 ms per 20,000 regions."""
        region = cls.__new__(cls)
        region.start, region.end, region.perms, region.offset = start, end, perms, offset
        region.dev, region.inode, region.path = dev, inode, path
        region._fields, region._source, region._row = None, source, row
        region.rss_kb, region.pss_kb, region.dirty_kb, region.swap_kb = (
            rss_kb, pss_kb, dirty_kb, swap_kb)
        region.kind = region.thread = region.lwp = None
        return region

    def copy(self) -> Region:
        """The same region, to be classified apart (its fields are shared: read-only)."""
        region = Region.__new__(Region)
        region.start, region.end, region.perms, region.offset = (
            self.start, self.end, self.perms, self.offset)
        region.dev, region.inode, region.path = self.dev, self.inode, self.path
        region._fields, region._source, region._row = self._fields, self._source, self._row
        region.rss_kb, region.pss_kb, region.dirty_kb, region.swap_kb = (
            self.rss_kb, self.pss_kb, self.dirty_kb, self.swap_kb)
        region.kind, region.thread, region.lwp = self.kind, self.thread, self.lwp
        return region

    @property
    def fields(self) -> Mapping[str, Any]:
        """Every smaps field by the kernel's name ({} when none is known)."""
        fields = self._fields
        if fields is None:
            fields = self._fields = self._source.view(self._row)
        return fields

    @fields.setter
    def fields(self, fields: Mapping[str, Any]) -> None:
        self._fields = fields

    def set_fields(self, fields: Mapping[str, Any]) -> None:
        self._fields = fields
        self.rss_kb = self.field_kb("Rss")
        self.pss_kb = self.field_kb("Pss")
        self.swap_kb = self.field_kb("Swap")
        shared, private = self.field_kb("Shared_Dirty"), self.field_kb("Private_Dirty")
        self.dirty_kb = None if shared is None or private is None else shared + private

    def field_kb(self, name: str) -> int | None:
        value = self.fields.get(name)
        return value if isinstance(value, int) else None

    @property
    def uss_kb(self) -> int | None:
        clean, dirty = self.field_kb("Private_Clean"), self.field_kb("Private_Dirty")
        if clean is None or dirty is None:
            return None
        return clean + dirty

    def to_dict(self) -> dict[str, Any]:
        """The JSON shape of a region: identity, kind, then every smaps field by kernel name."""
        out: dict[str, Any] = {
            "start": self.start, "end": self.end, "offset": self.offset, "inode": self.inode,
            "perms": self.perms, "dev": self.dev, "path": self.path,
            "kind": self.kind, "deleted": self.deleted, "thread": self.thread, "lwp": self.lwp,
        }
        for name, value in self.fields.items():
            out[name] = value
        return out

    def __repr__(self) -> str:
        return (f"Region({self.start:#x}-{self.end:#x} {self.perms} {self.path!r} "
                f"kind={self.kind})")


def field_columns(regions: Sequence[Region], names: Sequence[str]) -> list[list[Any]]:
    """Each region's value of each named field (None where it has none), a list per name.
    A parser whose regions share their fields' storage (proc.smaps) gives it a
    `columns_of(rows, names)` that reads whole columns at once."""
    if regions:
        # Regions a parser made together read whole columns of its shared storage.
        source = regions[0]._source
        if source is not None and all(r._source is source for r in regions):
            return source.columns_of([r._row for r in regions], names)
    views = [r.fields for r in regions]
    return [[v.get(name) for v in views] for name in names]


class Snapshot:
    """Every region of one process at one moment, with the process totals when known."""

    __slots__ = ("exe", "pid", "regions", "rollup", "taken_at")

    def __init__(self, pid: int, regions: Sequence[Region], rollup: Mapping[str, Any] | None = None,
                 exe: str = "", taken_at: float = 0.0):
        self.pid = pid
        self.regions = list(regions)
        self.rollup = rollup
        self.exe = exe
        self.taken_at = taken_at

    def __iter__(self) -> Iterator[Region]:
        return iter(self.regions)

    def __len__(self) -> int:
        return len(self.regions)


class Symbol(NamedTuple):
    """What gdb's `info symbol` says of an address."""

    name: str     # "main + 4"
    section: str  # ".text"
    objfile: str  # "" for the main executable


class Hole(NamedTuple):
    """A range not read: 'unreadable', 'not mapped' or 'not resident'."""

    start: int
    end: int
    reason: str

    def to_dict(self) -> dict:
        return {"start": self.start, "end": self.end, "reason": self.reason}
