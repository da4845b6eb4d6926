"""Run inside gdb with testprogs/build/leaks loaded (`gdb --args leaks remap 500 DIR`): a
program that maps and unmaps 500 times, traced by `memtrace on` against gdb's own `catch
syscall` of the same calls whose commands print `bt 12` and continue (printed to wherever
the caller sent gdb's output: bench/run.sh sends it to /dev/null). Alternated, REPEAT times
each, from start to exit; prints the medians and the ratio to stderr."""

import json
import os
import statistics
import sys
import time

import gdb

from gdbmem.commands.memtrace import CALLS
from gdbmem.commands.state import state

REPEAT = int(os.environ.get("BENCH_REPEAT", "5"))
# `show args` says "... is \"remap 500 DIR\"."; memtrace's journal goes to run.sh's scratch DIR
SCRATCH = gdb.execute("show args", to_string=True).split('"')[1].split()[2]
gdb.execute(f"set gdbmem snapshot-dir {SCRATCH}/journals")


def timed_run() -> float:
    start = time.perf_counter()
    gdb.execute("run")
    return time.perf_counter() - start


def gdb_own() -> float:
    gdb.execute("catch syscall " + " ".join(CALLS.values()), to_string=True)
    catchpoint = max(gdb.breakpoints(), key=lambda b: b.number)
    catchpoint.commands = "silent\nbt 12\ncontinue"
    seconds = timed_run()
    catchpoint.delete()
    return seconds


def memtrace() -> float:
    gdb.execute("memtrace clear", to_string=True)
    gdb.execute("memtrace on", to_string=True)
    seconds = timed_run()
    gdb.execute("memtrace off", to_string=True)
    return seconds


times: dict[str, list[float]] = {"catch syscall + bt 12": [], "memtrace on": []}
for _ in range(REPEAT):
    times["catch syscall + bt 12"].append(gdb_own())
    times["memtrace on"].append(memtrace())
median = {k: statistics.median(v) for k, v in times.items()}
ratio = median["memtrace on"] / median["catch syscall + bt 12"]
calls = sum(len(a.events) for a in state().tracer.accounts.items)
sys.stderr.write(f"bench: {json.dumps({'calls': calls, 'median_s': median, 'ratio': ratio})}\n")
sys.stderr.write(f"bench: leaks remap 500 ({calls} traced calls a run)\n")
for name, seconds in median.items():
    sys.stderr.write(f"bench:   {name:24s} {seconds:.3f} s\n")
sys.stderr.write(f"bench:   memtrace on / catch syscall + bt = {ratio:.2f}  (goal <= 1.0)\n")
assert state().tracer.catchpoint is None
