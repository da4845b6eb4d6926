"""memtrace's reports: the call sites by bytes held, one site's stacks, the accounts."""

from __future__ import annotations

from collections.abc import Sequence

from gdbmem.render import jsonout
from gdbmem.render.color import FIGURE
from gdbmem.render.table import PLAIN, Column, TextStyle, render_table
from gdbmem.trace.account import Account
from gdbmem.trace.fold import Frame, Site
from gdbmem.units import format_bytes


def frame_text(frame: Frame) -> str:
    name = frame.function or f"{frame.pc:#x}"
    return f"{name} at {frame.file}:{frame.line}" if frame.file else name


_COLUMNS = (Column("Site"), Column("Held", token=lambda t: FIGURE), Column("Mapped"),
            Column("Unmapped"), Column("Calls"), Column("Kinds", "<"),
            Column("Where", "<", clean=False))


def sites_report(sites: Sequence[Site], as_json: bool, style: TextStyle = PLAIN,
                 region: str | None = None) -> str:
    """memtrace: one row per site; with `region`, what is held inside it only."""
    if as_json:
        return jsonout.report([s.to_dict(n) for n, s in enumerate(sites, 1)], style)
    if not sites:
        return f"memtrace: nothing is held{f' in {region}' if region else ''}\n"
    rows = [(str(n), format_bytes(s.held), format_bytes(s.mapped), format_bytes(s.unmapped),
             str(s.calls), ",".join(s.kinds),
             f"{frame_text(s.frame)}: malloc's pool" if s.pool else frame_text(s.frame))
            for n, s in enumerate(sites, 1)]
    head = f"held in {region}:\n" if region else ""
    return head + render_table(_COLUMNS, list(zip(*rows)), style) + pool_lines(sites)


def traced_report(sites: Sequence[Site] | None, allocated: Sequence[Site], as_json: bool,
                  style: TextStyle = PLAIN) -> str:
    """memtrace with --malloc: the system calls' sites (None: not traced), then heaptrack's
    allocation sites; in JSON one array, malloc's with `"kinds": ["malloc"]`."""
    if as_json:
        return sites_report([*(sites or ()), *allocated], True, style)
    head = sites_report(sites, False, style) + "\n" if sites is not None else ""
    return (head + "allocation sites (heaptrack): bytes still allocated, as the program "
            "asked for them\n" + sites_report(allocated, False, style))


def pool_lines(sites: Sequence[Site]) -> str:
    """Under the table: who grew malloc's pool, and that this is not who holds it."""
    lines = []
    for s in sites:
        if s.pool and s.grown_by:
            grown = ", ".join(f"{frame_text(f)} ({format_bytes(size)})"
                              for f, size in s.grown_by[:4])
            more = f" and {len(s.grown_by) - 4} more" if len(s.grown_by) > 4 else ""
            lines.append(f"[{s.pool}] is malloc's pool, grown by {grown}{more}: they found it "
                         "empty, which does not say they hold it (the blocks malloc handed "
                         "out do; no system call shows them)")
    return "".join(line + "\n" for line in lines)


def site_stacks(site: Site, number: int) -> str:
    """memtrace stack N: every call stack through the site, frame by frame."""
    what = f"{frame_text(site.frame)}: malloc's pool" if site.pool else frame_text(site.frame)
    lines = [f"site {number}: {what}, {site.calls} call"
             f"{'s' if site.calls != 1 else ''}, {format_bytes(site.held)} held"]
    for k, frames in enumerate(site.stacks, 1):
        lines.append(f"stack {k}:")
        lines += [f"  #{i:<2} {f.pc:#018x} in {frame_text(f)}" for i, f in enumerate(frames)]
    return "\n".join(lines) + "\n"


_ACCOUNT_COLUMNS = (Column("Account"), Column("Pid"), Column("Calls"),
                    Column("Held", token=lambda t: FIGURE), Column("State", "<"),
                    Column("Program", "<", clean=False))


def accounts_report(accounts: Sequence[Account], as_json: bool, style: TextStyle = PLAIN) -> str:
    """memtrace list: one row per account (address space traced)."""
    if as_json:
        return jsonout.report([{"account": a.number, "pid": a.pid, "exe": a.exe,
                                "started": a.started, "ended": a.ended or None,
                                "calls": len(a.events), "held": sum(a.ledger.held().values())}
                               for a in accounts], style)
    if not accounts:
        return "memtrace: no accounts yet (nothing traced)\n"
    rows = [(str(a.number), str(a.pid or "?"), str(len(a.events)),
             format_bytes(sum(a.ledger.held().values())), a.ended or "live", a.exe)
            for a in accounts]
    return render_table(_ACCOUNT_COLUMNS, list(zip(*rows)), style)
