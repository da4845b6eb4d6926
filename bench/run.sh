#!/usr/bin/env bash
# `make bench`: gdbmem against its anchors, side by side in one gdb session, as ratios.
#   memmap  vs gdb's `info proc mappings` and `pmap -X`, on a process with 20,000 mappings.
# Output of every contender goes to /dev/null, so printing costs the same for all.
set -euo pipefail
cd "$(dirname "$0")/.."
mappings=${MAPPINGS:-20000}
testprogs/build/many $((mappings / 2)) >/dev/null &
pid=$!
trap 'kill $pid 2>/dev/null || true' EXIT
for _ in $(seq 50); do
    [ "$(wc -l </proc/$pid/maps)" -ge "$mappings" ] && break
    sleep 0.1
done
echo "memmap on $(wc -l </proc/$pid/maps) mappings (pid $pid), ${BENCH_REPEAT:-9} runs each:"
gdb -nx -batch -q -p "$pid" -ex 'source gdbinit.py' -x bench/bench_memmap.py 2>&1 >/dev/null |
    sed -n 's/^bench: //p'
