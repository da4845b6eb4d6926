"""Run inside gdb with testprogs/build/many loaded (`gdb --args many 500 500`): 500 snapshots
of a process of 1,000 mappings (one region changing between them), then `memsnap report`
timed from the snapshots as taken (parsing them included), and the file's size. Prints to
stderr: one JSON line, then the same for people."""

import json
import os
import sys
import tempfile
import time

import gdb

scratch = tempfile.mkdtemp(prefix="gdbmem-bench-report-")
gdb.execute(f"set gdbmem snapshot-dir {scratch}/journal")
gdb.execute("memsnap on tick", to_string=True)
gdb.execute("run", to_string=True)
path = os.path.join(scratch, "report.html")
start = time.perf_counter()
gdb.execute(f"memsnap report {path}", to_string=True)
seconds = time.perf_counter() - start
size = os.path.getsize(path)
from gdbmem.commands.state import state  # noqa: E402

result = {"snapshots": len(state().session.records),
          "mappings": len(state().session.records[-1].snapshot.regions),
          "seconds": round(seconds, 3), "bytes": size}
sys.stderr.write(f"bench: {json.dumps(result)}\n")
sys.stderr.write(f"bench:   memsnap report of {result['snapshots']} snapshots of "
                 f"{result['mappings']} mappings: {seconds:.2f} s (goal <= 2), "
                 f"{size / 1e6:.2f} MB (goal < 5)\n")
for name in os.listdir(f"{scratch}/journal"):
    os.unlink(f"{scratch}/journal/{name}")
os.rmdir(f"{scratch}/journal")
os.unlink(path)
os.rmdir(scratch)
