"""Run inside gdb attached to `testprogs/build/many N` (100,000 mappings, or 60,000 where
vm.max_map_count cannot be raised from its default 65,530): the time of `memmap --json` and
`memmap -X`, captured, and how much gdb's peak RSS grows during each (the peak reset before
each through /proc/self/clear_refs). Prints to stderr."""

import json
import os
import statistics
import sys
import time

import gdb

REPEAT = int(os.environ.get("BENCH_REPEAT", "3"))


def status_kb(field: str) -> int:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return 0


result = {}
for command in ("memmap --json", "memmap -X"):
    seconds, growth = [], []
    for _ in range(REPEAT):
        with open("/proc/self/clear_refs", "w") as fh:
            fh.write("5")  # the peak RSS starts again from the RSS now
        before = status_kb("VmRSS")
        start = time.perf_counter()
        gdb.execute(command, to_string=True)
        seconds.append(time.perf_counter() - start)
        growth.append(status_kb("VmHWM") - before)
    result[command] = {"median_s": round(statistics.median(seconds), 3),
                       "peak_rss_growth_mb": round(max(growth) / 1024, 1)}
with open(f"/proc/{gdb.selected_inferior().pid}/maps") as fh:
    result["mappings"] = sum(1 for _ in fh)
sys.stderr.write(f"bench: {json.dumps(result)}\n")
for command in ("memmap --json", "memmap -X"):
    sys.stderr.write(f"bench:   {command:14s} {result[command]['median_s'] * 1000:7.0f} ms, gdb's "
                     f"peak RSS +{result[command]['peak_rss_growth_mb']} MB "
                     f"({result['mappings']} mappings)\n")
