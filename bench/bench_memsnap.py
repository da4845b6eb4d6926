"""Run inside gdb with testprogs/build/leaks loaded (`gdb --args leaks small 2000 DIR`):
a breakpoint that takes a snapshot at each of 2,000 hits against the same breakpoint that
only continues, each run from start to exit. Prints medians and the ratio to stderr.

The goal is on `leaks small`, whose smaps changes at one hit in 16 (the journal writes an
unchanged smaps once). Where smaps changes at every hit, a hit is set against one that only
reads smaps the cheapest way: `leaks bigheap` (the heap grows to 128 MiB over 2,000 hits,
the issue's case: the goal) and `leaks heap` (to 32 MiB: smaps is cheap to read, so what a
snapshot adds weighs more)."""

import json
import os
import statistics
import sys
import time

import gdb

from gdbmem import procread
from gdbmem.commands import snaptake
from gdbmem.commands.state import state

REPEAT = int(os.environ.get("BENCH_REPEAT", "5"))
# `show args` says "... is \"small 2000 DIR\"." (gdb 13's gdb.parameter("args") is empty)
MODE, _, SCRATCH = gdb.execute("show args", to_string=True).split('"')[1].split()[:3]
gdb.execute(f"set gdbmem snapshot-dir {SCRATCH}/journals")  # run.sh removes SCRATCH


class Continues(gdb.Breakpoint):
    def stop(self):
        return False


class ReadsSmaps(gdb.Breakpoint):
    """The floor of a snapshot at each hit: smaps read the cheapest way known (its fd kept
    open, preads of 3/4 of a page, as procread does), nothing parsed or kept."""

    def stop(self):
        procread.read_whole(gdb.selected_inferior().pid, "smaps", keep_open=True)
        return False


def run_with(make):
    breakpoint = make()
    start = time.perf_counter()
    gdb.execute("run", to_string=True)
    seconds = time.perf_counter() - start
    breakpoint.delete()
    return seconds


plain, snapping, both, exact, floor = [], [], [], [], []
for _ in range(REPEAT):
    if MODE in ("heap", "bigheap"):  # smaps changes at every hit: against reading it alone
        floor.append(run_with(lambda: ReadsSmaps("tick")))
    if MODE == "idle":  # what every hit cost before carried snapshots
        state().session.clear()
        exact.append(run_with(lambda: snaptake.SnapshotBreakpoint("tick", 1, False, True)))
    plain.append(run_with(lambda: Continues("tick")))
    state().session.clear()
    snapping.append(run_with(lambda: snaptake.SnapshotBreakpoint("tick", 1, False)))
    hits = len(state().session.records)
    state().session.clear()
    gdb.execute("memtrace clear", to_string=True)
    gdb.execute("memtrace on", to_string=True)  # and memsnap's breakpoint beside it
    both.append(run_with(lambda: snaptake.SnapshotBreakpoint("tick", 1, False)))
    gdb.execute("memtrace off", to_string=True)
result = {"mode": MODE, "hits": hits,
          "median_s": {"continue only": round(statistics.median(plain), 3),
                       "memsnap on": round(statistics.median(snapping), 3),
                       "memsnap on + memtrace on": round(statistics.median(both), 3)}}
result["memsnap on / continue only"] = round(statistics.median(snapping)
                                             / statistics.median(plain), 3)
result["both / continue only"] = round(statistics.median(both) / statistics.median(plain), 3)
if exact:
    result["median_s"]["memsnap on --exact"] = round(statistics.median(exact), 3)
    result["--exact / continue only"] = round(statistics.median(exact)
                                              / statistics.median(plain), 3)
if floor:
    # What a hit costs beyond a plain stop, against what reading smaps alone costs beyond it.
    extra = (statistics.median(snapping) - statistics.median(plain)) / hits
    floor_extra = (statistics.median(floor) - statistics.median(plain)) / hits
    result["median_s"]["reading smaps at each hit"] = round(statistics.median(floor), 3)
    result["per hit, ms"] = {"memsnap on": round(extra * 1000, 3),
                             "reading smaps": round(floor_extra * 1000, 3)}
    # The measure: a whole hit (the stop with it) against a hit that only reads smaps.
    result["memsnap on / the floor, a whole hit"] = round(
        statistics.median(snapping) / statistics.median(floor), 3)
    result["memsnap on / the floor, beyond a plain stop"] = round(extra / floor_extra, 3)
sys.stderr.write(f"bench: {json.dumps(result)}\n")
median = result["median_s"]
sys.stderr.write(f"bench: leaks {MODE}, {hits} hits\n")
sys.stderr.write(f"bench:   a breakpoint that only continues: {median['continue only']} s\n")
sys.stderr.write(f"bench:   memsnap on (a snapshot per hit):  {median['memsnap on']} s\n")
sys.stderr.write(f"bench:   and memtrace on beside it:        "
                 f"{median['memsnap on + memtrace on']} s\n")
goal = {"small": "(goal <= 2)", "idle": "(goal <= 2: 1 GiB that does not change)"}.get(
    MODE, "(for information: the goal is on leaks small)")
sys.stderr.write(f"bench:   ratio = {result['memsnap on / continue only']:.2f}  {goal}\n")
goal = "(goal <= 2.5)" if MODE == "small" else "(for information)"
sys.stderr.write(f"bench:   with memtrace, ratio = {result['both / continue only']:.2f}  {goal}\n")
if floor:
    per_hit = result["per hit, ms"]
    goal = ("(goal <= 1.3: the heap grows to 128 MiB)" if MODE == "bigheap"
            else "(for information: the goal is on leaks bigheap)")
    sys.stderr.write(f"bench:   a whole hit against one that only reads smaps: ratio "
                     f"{result['memsnap on / the floor, a whole hit']:.2f}  {goal}\n")
    sys.stderr.write(f"bench:   per hit beyond a plain stop: memsnap on "
                     f"{per_hit['memsnap on']} ms, reading smaps alone "
                     f"{per_hit['reading smaps']} ms: ratio "
                     f"{result['memsnap on / the floor, beyond a plain stop']:.2f}  "
                     f"(for information)\n")
if exact:
    sys.stderr.write(f"bench:   memsnap on --exact (smaps read at every hit): "
                     f"{result['median_s']['memsnap on --exact']} s, ratio "
                     f"{result['--exact / continue only']:.2f}\n")
