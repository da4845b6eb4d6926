"""memcheck's report, and gdbmem check's: the findings, as text and as JSON."""

from __future__ import annotations

from collections.abc import Sequence

from pygments.token import Comment, Generic

from gdbmem.analysis.checks import Thresholds, check
from gdbmem.analysis.growth import Trend, trends
from gdbmem.model import Snapshot
from gdbmem.render import jsonout
from gdbmem.render.table import PLAIN, Column, TextStyle, render_table

# Trends need this many snapshots before a region can be called growing.
TREND_MINIMUM = 4


def check_report(current: Snapshot, history: Sequence[Snapshot], thresholds: Thresholds,
                 min_growth_kb: int, as_json: bool, style: TextStyle = PLAIN,
                 region_trends: Sequence[Trend] | None = None) -> str:
    """The findings on `current`, with the trends of `history` (memsnap's snapshots, or a
    capture's samples) once there are TREND_MINIMUM of them: only those of the same process
    (snapshots loaded from another program, or of a fork's child, say nothing of this one).
    As text: a line that counts them, then a table, a row for each region of each finding."""
    history = [s for s in history if s.pid == current.pid]
    if region_trends is None:
        region_trends = (trends(history, min_growth_kb) if len(history) >= TREND_MINIMUM
                         else [])
    findings = check(current, thresholds, region_trends)
    if as_json:
        return jsonout.report([f.to_dict() for f in findings], style)
    if not findings:
        return "nothing suspicious\n"
    notes = sum(1 for f in findings if f.severity == "note")
    head = f"{len(findings)} finding{'s' if len(findings) != 1 else ''}"
    if notes == len(findings):
        head += f" ({'a note' if notes == 1 else 'all notes'}: nothing to act on)"
    elif notes:
        head += f" ({notes} of them note{'s' if notes != 1 else ''}, nothing to act on)"
    rows = []
    for finding in findings:
        name = finding.name + (" (note)" if finding.severity == "note" else "")
        for n, where in enumerate(finding.regions or [""]):
            rows.append((name, finding.why, where) if n == 0 else ("", "", where))
    return head + "\n" + render_table(_COLUMNS, list(zip(*rows)), style)


def _severity(name: str):
    return Comment if name.endswith("(note)") else Generic.Error


_COLUMNS = (Column("Finding", "<", _severity), Column("Why", "<"),
            Column("Where", "<", clean=False))
