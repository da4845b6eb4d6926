"""Run inside gdb stopped at census's checkpoint() (`census big N`): memheap, then memleak,
at one stop: first as a user's first commands in this gdb (cold: numpy's pages and gdb's
symbol tables are fresh), then REPEAT times each printed (to wherever run.sh sent gdb's
output: /dev/null) and captured (to_string=True), with the walk made anew each time; and
gdb's memory: its peak (VmHWM) against its resident size before, beside the heap's size.
With VALGRIND_S (valgrind's own leak check of the same heap, timed inside the program),
the ratios. Prints to stderr."""

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
cold = {"memheap": timed("memheap", False), "memleak": timed("memleak", False)}
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
valgrind = float(os.environ["VALGRIND_S"]) if os.environ.get("VALGRIND_S") else None
out = {"chunks_in_use": chunks, "heap_bytes": heap_bytes, "cold_s": cold, "median_s": median,
       "gdb_growth_bytes": peak - before, "growth_per_heap_byte": (peak - before) / heap_bytes,
       "valgrind_leak_check_s": valgrind}
sys.stderr.write(f"bench: {json.dumps(out)}\n")
sys.stderr.write(f"bench:   first memheap, then memleak (cold)  {cold['memheap']:.3f} s + "
                 f"{cold['memleak']:.3f} s\n")
for name, seconds in median.items():
    sys.stderr.write(f"bench:   {name:18s} {seconds:.3f} s\n")
if valgrind:
    for how in ("printed", "captured"):
        both = median[f"memheap {how}"] + median[f"memleak {how}"]
        sys.stderr.write(f"bench:   memheap + memleak {how} / valgrind's leak check "
                         f"({valgrind:.3f} s) = {both / valgrind:.2f}  (goal <= 1.0)\n")
    sys.stderr.write(f"bench:   the same, cold / valgrind's = "
                     f"{(cold['memheap'] + cold['memleak']) / valgrind:.2f}\n")
sys.stderr.write(f"bench:   gdb grew by {(peak - before) / 2**20:.0f} MiB for a heap of "
                 f"{heap_bytes / 2**20:.0f} MiB ({(peak - before) / heap_bytes:.2f}x)\n")
