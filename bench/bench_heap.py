"""Run inside gdb stopped at census's checkpoint() (`census big N`): memheap, then memleak,
at one stop, each timed as printed (to wherever run.sh sent gdb's output: /dev/null) and as
captured (to_string=True), with the walk made anew for each; and gdb's memory: its peak
(VmHWM) against its resident size before, beside the heap's size. Prints to stderr."""

import json
import os
import statistics
import sys
import time

import gdb

from gdbmem.caches import RESUMED, stale

REPEAT = int(os.environ.get("BENCH_REPEAT", "3"))


def status(field: str) -> int:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
    return 0


def timed(command: str, captured: bool) -> float:
    start = time.perf_counter()
    gdb.execute(command, to_string=captured)
    return time.perf_counter() - start


before = status("VmRSS")
times: dict[str, list[float]] = {}
for _ in range(REPEAT):
    for captured in (False, True):
        how = "captured" if captured else "printed"
        stale(RESUMED)  # a new walk: as at a new stop
        times.setdefault(f"memheap {how}", []).append(timed("memheap", captured))
        times.setdefault(f"memleak {how}", []).append(timed("memleak", captured))
peak = status("VmHWM")
heap = json.loads(gdb.execute("memheap --json", to_string=True))
heap_bytes = heap["mallinfo2"]["arena"] + heap["mallinfo2"]["hblkhd"]
chunks = sum(a["in_use"]["chunks"] for a in heap["arenas"])
median = {k: statistics.median(v) for k, v in times.items()}
out = {"chunks_in_use": chunks, "heap_bytes": heap_bytes, "median_s": median,
       "gdb_growth_bytes": peak - before, "growth_per_heap_byte": (peak - before) / heap_bytes}
sys.stderr.write(f"bench: {json.dumps(out)}\n")
for name, seconds in median.items():
    sys.stderr.write(f"bench:   {name:18s} {seconds:.3f} s\n")
sys.stderr.write(f"bench:   gdb grew by {(peak - before) / 2**20:.0f} MiB for a heap of "
                 f"{heap_bytes / 2**20:.0f} MiB ({(peak - before) / heap_bytes:.2f}x)\n")
