"""Run inside gdb attached to `testprogs/build/many N`: memmap vs `info proc mappings` vs `pmap -X`.

Each is run REPEAT times, alternating, in the one gdb session, two ways: printed (gdb's stdout
goes wherever the caller sent it: bench/run sends it to /dev/null, so printing costs the same
for all) and captured (gdb.execute(..., to_string=True), as scripts and tests take output).
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
    # The floor of any memmap built on smaps: the kernel writing the file, read whole by
    # gdb's Python, nothing parsed or printed; read two ways, and the cheaper is the floor.
    "reading smaps": f"python open('/proc/{pid}/smaps', 'rb').read()",
    # 3/4 of a page a read: the kernel never writes a record twice (procread._KEPT_READ).
    "preading smaps": "python import gdbmem.procread as p, os; "
                      f"fd = os.open('/proc/{pid}/smaps', os.O_RDONLY); p._pread_all(fd); "
                      "os.close(fd)",
}
times = {(name, how): [] for name in runs for how in ("printed", "captured")}
for _ in range(REPEAT):
    for name, command in runs.items():
        for how in ("printed", "captured"):
            start = time.perf_counter()
            gdb.execute(command, to_string=how == "captured")
            times[name, how].append(time.perf_counter() - start)
median = {key: statistics.median(values) for key, values in times.items()}
floor = min(("reading smaps", "preading smaps"), key=lambda name: median[name, "captured"])
with open(f"/proc/{pid}/maps") as fh:
    mappings = sum(1 for _ in fh)


def ratio(a: str, b: str, how: str) -> float:
    return round(median[a, how] / median[b, how], 3)


result = {
    "mappings": mappings,
    "median_s": {f"{name}, {how}": round(v, 4) for (name, how), v in median.items()},
    "memmap / info proc mappings, printed": ratio("memmap", "info proc mappings", "printed"),
    "memmap / info proc mappings, captured": ratio("memmap", "info proc mappings", "captured"),
    "memmap / pmap -X, printed": ratio("memmap", "pmap -X", "printed"),
    "the floor": floor,
    "floor / info proc mappings, captured": ratio(floor, "info proc mappings", "captured"),
    "memmap / floor, captured": ratio("memmap", floor, "captured"),
}
sys.stderr.write(f"bench: {json.dumps(result)}\n")
for (name, how), seconds in median.items():
    sys.stderr.write(f"bench:   {name:20s} {how:9s} {seconds * 1000:8.1f} ms\n")
for how in ("printed", "captured"):
    sys.stderr.write(f"bench:   memmap / info proc mappings, {how:8s} = "
                     f"{result[f'memmap / info proc mappings, {how}']:.2f}  (goal <= 2)\n")
sys.stderr.write(f"bench:   the floor ({floor} alone) / info proc mappings, captured = "
                 f"{result['floor / info proc mappings, captured']:.2f}\n")
sys.stderr.write(f"bench:   memmap / the floor, captured = "
                 f"{result['memmap / floor, captured']:.2f}  (goal <= 1.5)\n")
sys.stderr.write(f"bench:   memmap / pmap -X, printed           = "
                 f"{result['memmap / pmap -X, printed']:.2f}  (goal <= 0.33)\n")
