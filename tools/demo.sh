#!/usr/bin/env bash
# `make demo`: a gdb session on testprogs/build/layout, a process with a known layout,
# showing memmap, vmainfo of the stack pointer, of a heap pointer and of an unmapped address;
# then a short leak hunt on testprogs/build/leaks (memtrace, memsnap at each tick, the trend)
# that writes its HTML report; then who holds malloc's heap in testprogs/build/traced pool
# (memtrace's pool, and heaptrack's allocation sites); then what is in malloc's heap and what
# leaks in testprogs/build/census-cpp (memheap, memleak, vmainfo of a lost block); it ends by
# saying where the report is.
set -euo pipefail
cd "$(dirname "$0")/.."
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
gdb -nx -batch -q \
    -ex 'set pagination off' -ex 'set confirm off' \
    -ex 'source gdbinit.py' \
    -ex 'break ready' -ex 'run' \
    -x tools/demo.gdb \
    --args testprogs/build/layout "$work"

report="${TMPDIR:-/tmp}/gdbmem-demo-report.html"
echo
echo "== a leak hunt: testprogs/build/leaks mmap 24 (a 256 KiB block kept at each tick)"
gdb -nx -batch -q \
    -ex 'set pagination off' -ex 'set confirm off' \
    -ex 'source gdbinit.py' \
    -ex "set gdbmem snapshot-dir $work/journal" \
    -ex 'echo \n(gdb) memtrace on\n' -ex 'memtrace on' \
    -ex 'echo \n(gdb) memsnap on tick\n' -ex 'memsnap on tick' \
    -ex 'run' \
    -ex 'echo \n(gdb) memsnap trend\n' -ex 'memsnap trend' \
    -ex 'echo \n(gdb) memtrace --top 3\n' -ex 'memtrace --top 3' \
    -ex "echo \\n(gdb) memsnap report $report --force\\n" -ex "memsnap report $report --force" \
    --args testprogs/build/leaks mmap 24 "$work"
echo
echo "== who holds malloc's heap: testprogs/build/traced pool (a batch freed, two leakers)"
gdb -nx -batch -q \
    -ex 'set pagination off' -ex 'set confirm off' \
    -ex 'source gdbinit.py' \
    -ex "set gdbmem snapshot-dir $work/journal" \
    -ex 'echo \n(gdb) memtrace on\n' -ex 'memtrace on' \
    -ex 'echo \n(gdb) memtrace on --malloc\n' -ex 'memtrace on --malloc' \
    -ex 'run' \
    -ex 'echo \n(gdb) memtrace --top 4\n' -ex 'memtrace --top 4' \
    --args testprogs/build/traced pool "$work"
echo
echo "== what is in the heap, and what leaks: testprogs/build/census-cpp (a heap known block by block)"
gdb -nx -batch -q \
    -ex 'set pagination off' -ex 'set confirm off' \
    -ex 'source gdbinit.py' \
    -ex "set gdbmem snapshot-dir $work/journal" \
    -ex 'break checkpoint' -ex 'run' \
    -ex 'echo \n(gdb) memheap --limit 5\n' -ex 'memheap --limit 5' \
    -ex 'echo \n(gdb) memleak --limit 5\n' -ex 'memleak --limit 5' \
    -ex 'echo \n(gdb) vmainfo g_interior[0] --bytes 16\n' -ex 'vmainfo g_interior[0] --bytes 16' \
    -ex 'echo \n(gdb) memheap show --limit 2 Alpha\n' -ex 'memheap show --limit 2 Alpha' \
    -ex 'kill' \
    --args testprogs/build/census-cpp
echo
echo "demo: the report of this leak hunt is $report (open it in any browser)"
