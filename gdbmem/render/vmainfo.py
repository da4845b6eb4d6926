"""vmainfo's report on one address, as text and as the JSON object."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from gdbmem.analysis.lookup import AddressInfo
from gdbmem.model import Region, Symbol
from gdbmem.proc import PageState
from gdbmem.render import jsonout
from gdbmem.render.color import KIND_TOKENS
from gdbmem.render.table import PLAIN, TextStyle
from gdbmem.render.trace import frame_text
from gdbmem.trace.fold import Frame
from gdbmem.units import format_bytes, format_kb

_KIND_WORDS = {
    "heap": "the heap", "stack": "the main stack", "thread-stack": "a thread's stack",
    "guard": "a guard region", "arena": "a malloc arena", "exe": "the executable",
    "lib": "a library", "file": "a mapped file", "anon": "anonymous memory",
    "shm": "shared memory", "vdso": "the vDSO", "vvar": "the vvar page", "vsyscall": "vsyscall",
}


def _region_line(region: Region) -> str:
    name = f" {region.path}" if region.path else ""
    return (f"{region.start:#x}-{region.end:#x} {region.perms} "
            f"{format_kb(region.size_kb)}{name} ({region.kind})")


def _owner(region: Region) -> str:
    return f", thread {region.thread} (LWP {region.lwp})" if region.thread is not None else ""


def _page_words(page: PageState) -> str:
    words = [page.state]
    if page.present and page.exclusive:
        words.append("exclusively mapped")
    if page.file_or_shared:
        words.append("file page or shared anonymous")
    if page.soft_dirty:
        words.append("soft-dirty")
    if page.swapped:
        words.append(f"swap type {page.swap_type} offset {page.swap_offset:#x}")
    return ", ".join(words)


def hexdump(address: int, data: Sequence[int | None]) -> list[str]:
    """`hexdump -C`'s lines for bytes at `address` (16 a line, the address in full); a byte
    that could not be read is ?? (and a space in the text column)."""
    lines = []
    for row in range(0, len(data), 16):
        chunk = data[row:row + 16]
        cells = ["??" if b is None else f"{b:02x}" for b in chunk]
        cells += ["  "] * (16 - len(chunk))
        text = "".join(" " if b is None else chr(b) if 32 <= b < 127 else "." for b in chunk)
        lines.append(f"{address + row:016x}  {' '.join(cells[:8])}  {' '.join(cells[8:])}  "
                     f"|{text}|")
    return lines


def address_text(info: AddressInfo, symbol: Symbol | None, page: PageState | None,
                 style: TextStyle = PLAIN, data: Sequence[int | None] = (),
                 mapped_by: Frame | None = None, page_unknown: str = "pagemap unreadable",
                 chunk: dict | None = None) -> str:
    region = info.region
    if region is None:
        lines = [f"{info.address:#x} is not mapped."]
        if info.below is not None:
            lines.append(f"  below  {_region_line(info.below)}, ends "
                         f"{format_bytes(gap_below(info))} below the address")
        else:
            lines.append("  below  nothing is mapped below it")
        if info.above is not None:
            lines.append(f"  above  {_region_line(info.above)}, starts "
                         f"{format_bytes(gap_above(info))} above the address")
        else:
            lines.append("  above  nothing is mapped above it")
        return "\n".join(lines) + "\n"
    kind = region.kind or "anon"
    what = _KIND_WORDS.get(kind, kind)
    if style.palette is not None:
        what = style.palette.paint(what, KIND_TOKENS.get(kind))
    named = f" {region.path}" if region.path else ""
    lines = [f"{info.address:#x} is in {what}{named}{_owner(region)}",
             f"  region   {region.start:#x}-{region.end:#x}  {format_kb(region.size_kb)}  "
             f"{region.perms}  kind {kind}{'  (deleted file)' if region.deleted else ''}",
             f"  offset   {info.offset:#x} into the region"]
    if info.file_offset is not None:
        lines.append(f"  file     {region.file_path} at file offset {info.file_offset:#x}"
                     f" (dev {region.dev}, inode {region.inode})")
    if symbol is not None:
        where = f" of {symbol.objfile}" if symbol.objfile else ""
        lines.append(f"  symbol   {symbol.name} in section {symbol.section}{where}")
    if mapped_by is not None:
        lines.append(f"  traced   mapped by {frame_text(mapped_by)} (memtrace)")
    if chunk is not None:
        lines.append("  chunk    " + chunk_text(chunk))
    page_text = _page_words(page) if page is not None else f"unknown ({page_unknown})"
    lines.append(f"  page     {page_text}")
    if region.fields:
        figures = "  ".join(f"{name} {_field_text(name, value)}"
                            for name, value in region.fields.items())
        lines.append(f"  smaps    {figures}")
    if data:
        dump = "\n".join(hexdump(info.address, data)) + "\n"
        if style.palette is not None:
            dump = style.palette.highlight(dump, "hexdump")
        lines += [f"  {'bytes' if n == 0 else '':9}{line}"
                  for n, line in enumerate(dump.rstrip("\n").split("\n"))]
    return "\n".join(lines) + "\n"


def chunk_text(chunk: dict) -> str:
    """A malloc chunk as vmainfo says it."""
    offset = chunk["offset"]
    where = (f"{offset} bytes into its {chunk['usable']} usable" if offset >= 0
             else f"in its header, {-offset} bytes before its {chunk['usable']} usable")
    kind = f", {chunk['type']}" if chunk["type"] else ""
    leak = (f", {chunk['leak'].replace('_', ' ')} (memleak at this stop)" if chunk["leak"]
            else "")
    arena = ("mmapped on its own" if chunk["arena"] == "mmapped"
             else f"{chunk['state']} in the {chunk['arena']}")
    if chunk["arena"] == "mmapped":
        arena = f"{chunk['state']}, {arena}"
    text = f"{chunk['address']:#x}, a chunk of {chunk['size']} bytes {arena}: {where}{kind}{leak}"
    if "allocated_by" in chunk:  # heaptrack ran (memtrace on --malloc)
        site = chunk["allocated_by"]
        if site is None:
            text += ("; heaptrack has no record of it (allocated before it started, or not "
                     "written yet)")
        else:
            place = f" at {site['file']}:{site['line']}" if site["file"] else ""
            text += (f"; allocated by {site['function'] or hex(site['pc'])}{place}, "
                     f"{site['requested']} bytes asked for (heaptrack)")
    return text


_UNITLESS = {"THPeligible", "ProtectionKey"}


def _field_text(name: str, value: Any) -> str:
    if isinstance(value, list):
        return " ".join(value)
    if isinstance(value, int) and name not in _UNITLESS:
        return format_kb(value)
    return str(value)


def gap_below(info: AddressInfo) -> int | None:
    """Bytes from the end of the region below to the address (0: right after it)."""
    return info.address - info.below.end if info.below is not None else None


def gap_above(info: AddressInfo) -> int | None:
    return info.above.start - info.address if info.above is not None else None


def address_json(info: AddressInfo, symbol: Symbol | None, page: PageState | None,
                 data: Sequence[int | None] = (),
                 mapped_by: Frame | None = None, chunk: dict | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {
        "address": info.address,
        "mapped": info.mapped,
        "region": info.region.to_dict() if info.region is not None else None,
        "offset": info.offset,
        "file_offset": info.file_offset,
        "symbol": symbol.name if symbol else None,
        "section": symbol.section if symbol else None,
        "page": page.to_dict() if page is not None else None,
        "bytes": list(data),  # from the address on; null where unreadable
        "mapped_by": mapped_by.to_dict() if mapped_by is not None else None,  # memtrace
        "chunk": chunk,  # the malloc chunk that holds it (memheap), None when in none
    }
    if not info.mapped:
        out["below"] = (dict(info.below.to_dict(), gap=gap_below(info))
                        if info.below is not None else None)
        out["above"] = (dict(info.above.to_dict(), gap=gap_above(info))
                        if info.above is not None else None)
    return out


def address_report(info: AddressInfo, symbol: Symbol | None, page: PageState | None,
                   as_json: bool, style: TextStyle = PLAIN,
                   data: Sequence[int | None] = (), mapped_by: Frame | None = None,
                   page_unknown: str = "pagemap unreadable", chunk: dict | None = None) -> str:
    """vmainfo ADDR: with `data`, the bytes at the address; with `mapped_by`, the traced call
    site that mapped it; with `chunk`, the malloc chunk that holds it."""
    if as_json:
        return jsonout.report(address_json(info, symbol, page, data, mapped_by, chunk), style)
    return address_text(info, symbol, page, style, data, mapped_by, page_unknown, chunk)
