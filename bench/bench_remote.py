"""Run inside gdb attached to a process, natively or over gdbserver: memmap's median time.
Prints `bench-remote: KIND SECONDS` to stderr (bench/run.sh compares the two)."""

import os
import statistics
import sys
import time

import gdb

REPEAT = int(os.environ.get("BENCH_REPEAT", "9"))
kind = gdb.selected_inferior().connection.type
times = []
for _ in range(REPEAT):
    start = time.perf_counter()
    gdb.execute("memmap", to_string=True)
    times.append(time.perf_counter() - start)
sys.stderr.write(f"bench-remote: {kind} {statistics.median(times):.4f}\n")
