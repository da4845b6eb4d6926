#!/usr/bin/env bash
# `make bench`: gdbmem against its anchors, side by side in one gdb session, as ratios.
#   1. memmap vs gdb's `info proc mappings` and `pmap -X`, on a process with 20,000 mappings;
#   2. memdump vs gdb's `dump binary memory`, memstrings vs that dump + `strings -a -n 10`,
#      on 512 MiB of heap-like data;
#   3. memsnap on a breakpoint hit 2,000 times vs the same breakpoint that only continues;
#   4. memmap over gdbserver on loopback vs native, on 1,000 mappings.
# Output of every contender goes to /dev/null or a file, so printing costs the same for all.
set -euo pipefail
cd "$(dirname "$0")/.."
pids=()
trap 'kill "${pids[@]}" 2>/dev/null || true' EXIT

mappings=${MAPPINGS:-20000}
testprogs/build/many $((mappings / 2)) >/dev/null &
pids+=($!)
pid=$!
for _ in $(seq 50); do
    [ "$(wc -l </proc/$pid/maps)" -ge "$mappings" ] && break
    sleep 0.1
done
echo "memmap on $(wc -l </proc/$pid/maps) mappings (pid $pid):"
gdb -nx -batch -q -p "$pid" -ex 'source gdbinit.py' -x bench/bench_memmap.py 2>&1 >/dev/null |
    sed -n 's/^bench: //p'
kill $pid

testprogs/build/heaplike 512 >"${TMPDIR:-/tmp}/gdbmem-heaplike.out" &
pids+=($!)
pid=$!
for _ in $(seq 100); do
    grep -q ready "${TMPDIR:-/tmp}/gdbmem-heaplike.out" && break
    sleep 0.1
done
echo "memdump and memstrings on 512 MiB of heap-like data (pid $pid):"
gdb -nx -batch -q -p "$pid" -ex 'source gdbinit.py' -x bench/bench_scan.py 2>&1 >/dev/null |
    sed -n 's/^bench: //p'

echo "memsnap on a breakpoint hit 2,000 times (testprogs/leaks):"
scratch=$(mktemp -d)
for mode in small heap; do
    gdb -nx -batch -q -ex 'source gdbinit.py' -x bench/bench_memsnap.py \
        --args testprogs/build/leaks $mode 2000 "$scratch" 2>&1 >/dev/null | sed -n 's/^bench: //p'
done
rm -rf "$scratch"

echo "memmap over gdbserver on loopback vs native, 1,000 mappings:"
testprogs/build/many 500 >/dev/null &
pids+=($!)
native=$(gdb -nx -batch -q -p $! -ex 'source gdbinit.py' -x bench/bench_remote.py 2>&1 >/dev/null |
         sed -n 's/^bench-remote: native //p')
kill $!
log=$(mktemp)
gdbserver --once 127.0.0.1:0 testprogs/build/many 500 >"$log" 2>&1 &
pids+=($!)
for _ in $(seq 50); do grep -q "Listening on port" "$log" && break; sleep 0.1; done
port=$(sed -n 's/.*Listening on port \([0-9]*\).*/\1/p' "$log")
# many calls getpid() once its mappings are made: stop there.
remote=$(gdb -nx -batch -q -ex "target remote 127.0.0.1:$port" -ex 'source gdbinit.py' \
             -ex 'break getpid' -ex continue -x bench/bench_remote.py -ex kill \
             testprogs/build/many 2>&1 >/dev/null | sed -n 's/^bench-remote: remote //p')
rm -f "$log"
python3 -c "n, r = $native, $remote; print(f'  native {n*1000:.1f} ms, remote {r*1000:.1f} ms: ratio {r/n:.2f}  (goal <= 3)')"
