"""Run inside gdb attached to `testprogs/build/many N`: memmap vs `info proc mappings` vs `pmap -X`.

Each is run REPEAT times, alternating, in the one gdb session; gdb's stdout goes wherever the
caller sent it (bench/run sends it to /dev/null, so printing costs the same for all three).
Prints the medians and the ratios to stderr: one JSON line, then the same for people.
"""

import json
import os
import statistics
import sys
import time

import gdb

REPEAT = int(os.environ.get("BENCH_REPEAT", "9"))
pid = gdb.selected_inferior().pid
runs = {
    "info proc mappings": "info proc mappings",
    "memmap": "memmap",
    "pmap -X": f"shell pmap -X {pid}",
}
times = {name: [] for name in runs}
for _ in range(REPEAT):
    for name, command in runs.items():
        start = time.perf_counter()
        gdb.execute(command)
        times[name].append(time.perf_counter() - start)
median = {name: statistics.median(values) for name, values in times.items()}
with open(f"/proc/{pid}/maps") as fh:
    mappings = sum(1 for _ in fh)
result = {
    "mappings": mappings,
    "median_s": {k: round(v, 4) for k, v in median.items()},
    "memmap / info proc mappings": round(median["memmap"] / median["info proc mappings"], 3),
    "memmap / pmap -X": round(median["memmap"] / median["pmap -X"], 3),
}
sys.stderr.write(f"bench: {json.dumps(result)}\n")
for name, seconds in median.items():
    sys.stderr.write(f"bench:   {name:20s} {seconds * 1000:8.1f} ms\n")
sys.stderr.write(f"bench:   memmap / info proc mappings = "
                 f"{result['memmap / info proc mappings']:.2f}  (goal <= 2)\n")
sys.stderr.write(f"bench:   memmap / pmap -X            = {result['memmap / pmap -X']:.2f}"
                 "  (goal <= 0.33)\n")
