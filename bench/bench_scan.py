"""Run inside gdb attached to `testprogs/build/heaplike 512`: memdump vs gdb's `dump binary
memory`, and memstrings vs that dump followed by `strings -a -n 10`, on the same 512 MiB.

Alternating runs in one gdb session; files are deleted between runs so every write starts
alike. Also gdb's peak RSS during each (VmHWM after resetting it through clear_refs).
Prints one JSON line and a summary for people to stderr, each prefixed with "bench: ".
"""

import hashlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

import gdb

REPEAT = int(os.environ.get("BENCH_REPEAT", "5"))
START, END = 0x300000000000, 0x300020000000
work = tempfile.mkdtemp(prefix="gdbmem-bench-", dir=os.environ.get("BENCH_DIR"))
gdb_file, ours = os.path.join(work, "gdb.bin"), os.path.join(work, "memdump.bin")


def status_kb(field):
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return 0


def timed(command, shell=False):
    """Seconds, and gdb's peak RSS growth in kB, of one command."""
    with open("/proc/self/clear_refs", "w") as fh:
        fh.write("5")  # reset VmHWM to the current RSS
    before = status_kb("VmRSS")
    start = time.perf_counter()
    if shell:
        subprocess.run(command, shell=True, check=True)
    else:
        gdb.execute(command, to_string=True)
    return time.perf_counter() - start, status_kb("VmHWM") - before


def clean():
    for path in (gdb_file, ours, ours + ".json"):
        if os.path.exists(path):
            os.unlink(path)


runs = {"gdb dump": [], "memdump": [], "strings": [], "memstrings": []}
peaks = {"gdb dump": [], "memdump": [], "memstrings": []}
identical = same_strings = True
for _ in range(REPEAT):
    clean()
    for name, command in (("gdb dump", f"dump binary memory {gdb_file} {START:#x} {END:#x}"),
                          ("memdump", f"memdump {START:#x} {END:#x} {ours}")):
        seconds, peak = timed(command)
        runs[name].append(seconds)
        peaks[name].append(peak)
    with open(gdb_file, "rb") as a, open(ours, "rb") as b:
        identical &= hashlib.sha256(a.read()).digest() == hashlib.sha256(b.read()).digest()
    listing = os.path.join(work, "strings.txt")
    seconds, _ = timed(f"strings -a -n 10 -t x {gdb_file} > {listing}", shell=True)
    runs["strings"].append(seconds)
    seconds, peak = timed(f"memstrings {START:#x} -o {work}/memstrings.txt --force")
    runs["memstrings"].append(seconds)
    peaks["memstrings"].append(peak)
    with open(listing) as fh:
        theirs = [f"{START + int(off, 16):#x} {text}" for off, text in
                  (line.rstrip("\n").lstrip(" ").split(" ", 1) for line in fh)]
    with open(f"{work}/memstrings.txt") as fh:
        same_strings &= fh.read().splitlines() == theirs
clean()
median = {k: statistics.median(v) for k, v in runs.items()}
result = {
    "bytes": END - START, "runs": REPEAT, "median_s": {k: round(v, 3) for k, v in median.items()},
    "memdump / gdb dump": round(median["memdump"] / median["gdb dump"], 3),
    "memstrings / (gdb dump + strings)": round(
        median["memstrings"] / (median["gdb dump"] + median["strings"]), 3),
    "peak_rss_growth_kb": {k: max(v) for k, v in peaks.items()},
    "dump byte-identical": identical, "strings identical": same_strings,
}
out = sys.stderr
out.write(f"bench: {json.dumps(result)}\n")
for name, seconds in median.items():
    out.write(f"bench:   {name:12s} {seconds * 1000:8.1f} ms\n")
out.write(f"bench:   memdump / gdb dump                  = {result['memdump / gdb dump']:.2f}"
          "  (goal <= 0.25)\n")
out.write("bench:   memstrings / (gdb dump + strings)   = "
          f"{result['memstrings / (gdb dump + strings)']:.2f}  (goal <= 0.5)\n")
out.write(f"bench:   gdb's peak RSS growth (kB)          = {result['peak_rss_growth_kb']}"
          "  (goal <= 65536 for ours)\n")
out.write(f"bench:   byte-identical dump: {identical}; identical strings: {same_strings}\n")
os.rmdir(work)
