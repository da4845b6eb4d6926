#!/usr/bin/env bash
# `make bench`: gdbmem against its anchors, side by side, as ratios. `bench/run.sh NAME...`
# runs some of them:
#   memmap   memmap vs gdb's `info proc mappings` and `pmap -X`, on 20,000 mappings;
#   scan     memdump vs gdb's `dump binary memory`, memstrings vs that dump + `strings -a -n 10`,
#            on 512 MiB of heap-like data;
#   memsnap  memsnap on a breakpoint hit 2,000 times vs the same breakpoint that only continues;
#   remote   memmap over gdbserver on loopback vs native, on 1,000 mappings;
#   memtrace memtrace on vs gdb's catch syscall + bt 12 + continue, on 500 maps and unmaps;
#   malloc   memtrace on --malloc vs heaptrack itself, on 1,000,000 mallocs and frees;
#   report   memsnap report of 500 snapshots of 1,000 mappings: its time and size;
#   heap     memheap + memleak vs valgrind's own leak check (timed inside the program) on a
#            heap of 1,000,000 chunks; on 10,000,000 chunks, their time and gdb's memory.
# Output of every contender goes to /dev/null or a file, so printing costs the same for all.
set -euo pipefail
cd "$(dirname "$0")/.."
pids=()
restore_max_map_count=
trap 'kill "${pids[@]}" 2>/dev/null || true
      [ -z "$restore_max_map_count" ] || echo "$restore_max_map_count" >/proc/sys/vm/max_map_count' EXIT

bench_memmap() {
    local mappings=${MAPPINGS:-20000} pid
    testprogs/build/many $((mappings / 2)) >/dev/null &
    pid=$!
    pids+=("$pid")
    for _ in $(seq 50); do
        [ "$(wc -l </proc/$pid/maps)" -ge "$mappings" ] && break
        sleep 0.1
    done
    echo "memmap on $(wc -l </proc/$pid/maps) mappings (pid $pid):"
    gdb -nx -batch -q -p "$pid" -ex 'source gdbinit.py' -x bench/bench_memmap.py 2>&1 >/dev/null |
        sed -n 's/^bench: //p'
    kill "$pid"
    # 100,000 mappings: vm.max_map_count (65,530 by default) is raised for the run where we
    # may (root), and put back after; else 60,000.
    local pairs=50000 max_map_count
    max_map_count=$(cat /proc/sys/vm/max_map_count)
    if [ "$max_map_count" -lt 110000 ]; then
        if echo 110000 2>/dev/null >/proc/sys/vm/max_map_count; then
            restore_max_map_count=$max_map_count  # by the EXIT trap, if the run is cut short
        else
            pairs=30000
        fi
    fi
    testprogs/build/many $pairs >/dev/null &
    pid=$!
    pids+=("$pid")
    for _ in $(seq 100); do
        [ "$(wc -l </proc/$pid/maps)" -ge $((2 * pairs)) ] && break
        sleep 0.1
    done
    echo "memmap --json and -X on $(wc -l </proc/$pid/maps) mappings (pid $pid):"
    gdb -nx -batch -q -p "$pid" -ex 'source gdbinit.py' -x bench/bench_memmap_large.py \
        2>&1 >/dev/null | sed -n 's/^bench: //p'
    kill "$pid"
    if [ -n "$restore_max_map_count" ]; then
        echo "$restore_max_map_count" >/proc/sys/vm/max_map_count
        restore_max_map_count=
    fi
}

bench_scan() {
    local out="${TMPDIR:-/tmp}/gdbmem-heaplike.out" pid
    testprogs/build/heaplike 512 >"$out" &
    pid=$!
    pids+=("$pid")
    for _ in $(seq 100); do
        grep -q ready "$out" && break
        sleep 0.1
    done
    echo "memdump and memstrings on 512 MiB of heap-like data (pid $pid):"
    gdb -nx -batch -q -p "$pid" -ex 'source gdbinit.py' -x bench/bench_scan.py 2>&1 >/dev/null |
        sed -n 's/^bench: //p'
    kill "$pid"
    rm -f "$out"
}

bench_memsnap() {
    local scratch
    echo "memsnap on a breakpoint hit 2,000 times (testprogs/leaks):"
    scratch=$(mktemp -d)
    for mode in bigheap heap small; do
        gdb -nx -batch -q -ex 'source gdbinit.py' -x bench/bench_memsnap.py \
            --args testprogs/build/leaks $mode 2000 "$scratch" 2>&1 >/dev/null |
            sed -n 's/^bench: //p'
    done
    echo "memsnap on a breakpoint hit 300 times in a process of 1 GiB that does not change:"
    gdb -nx -batch -q -ex 'source gdbinit.py' -x bench/bench_memsnap.py \
        --args testprogs/build/leaks idle 300 "$scratch" 2>&1 >/dev/null |
        sed -n 's/^bench: //p'
    rm -rf "$scratch"
}

bench_memtrace() {
    local scratch
    echo "memtrace on a program that maps and unmaps 500 times (testprogs/leaks remap):"
    scratch=$(mktemp -d)
    gdb -nx -batch -q -ex 'source gdbinit.py' -ex 'set pagination off' -x bench/bench_memtrace.py \
        --args testprogs/build/leaks remap 500 "$scratch" 2>&1 >/dev/null | sed -n 's/^bench: //p'
    rm -rf "$scratch"
}

bench_malloc() {
    # heaptrack itself (its script: preload, interpret, compress) against memtrace on --malloc
    # in gdb, run to the exit, alternating; medians of 3.
    local scratch
    scratch=$(mktemp -d)
    echo "memtrace on --malloc vs heaptrack, 1,000,000 mallocs and frees (testprogs/traced churn):"
    python3 - "$scratch" <<'PY'
import statistics, subprocess, sys, time
scratch = sys.argv[1]
def timed(argv):
    start = time.perf_counter()
    subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True,
                   cwd=scratch, env={"PATH": "/usr/bin:/bin", "XDG_STATE_HOME": scratch})
    return time.perf_counter() - start
program = ["testprogs/build/traced", "churn", scratch]
import os
program[0] = os.path.abspath(program[0])
gdb = ["gdb", "-nx", "-batch", "-q", "-ex", f"source {os.path.abspath('gdbinit.py')}",
       "-ex", "memtrace on --malloc", "-ex", "run", "-ex", "memtrace --top 3", "--args", *program]
heaptrack = ["heaptrack", "-o", f"{scratch}/ht", *program]
runs = {"heaptrack PROGRAM": [], "memtrace on --malloc": []}
for _ in range(3):
    runs["heaptrack PROGRAM"].append(timed(heaptrack))
    runs["memtrace on --malloc"].append(timed(gdb))
median = {k: statistics.median(v) for k, v in runs.items()}
for name, seconds in median.items():
    print(f"  {name:24s} {seconds:.2f} s")
print(f"  memtrace on --malloc / heaptrack = {median['memtrace on --malloc'] / median['heaptrack PROGRAM']:.2f}  (goal <= 1.25)")
PY
    rm -rf "$scratch"
}

bench_report() {
    echo "memsnap report of 500 snapshots of a 1,000-mapping process (testprogs/many 500 500):"
    gdb -nx -batch -q -ex 'source gdbinit.py' -x bench/bench_report.py \
        --args testprogs/build/many 500 500 2>&1 >/dev/null | sed -n 's/^bench: //p'
}

bench_remote() {
    # Each round attaches to a fresh process natively, then runs one under a fresh gdbserver.
    # The rounds differ mostly in the transfer (loopback round trips): 3 rounds, their median.
    local ratios=() native remote log port
    echo "memmap over gdbserver on loopback vs native, 1,000 mappings:"
    for round in 1 2 3; do
        testprogs/build/many 500 >/dev/null &
        pids+=($!)
        native=$(gdb -nx -batch -q -p $! -ex 'source gdbinit.py' -x bench/bench_remote.py \
                     2>&1 >/dev/null | sed -n 's/^bench-remote: native //p')
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
        ratios+=("$native/$remote")
        python3 -c "n, r = $native, $remote
print(f'  round $round: native {n*1000:.1f} ms, remote {r*1000:.1f} ms: ratio {r/n:.2f}')"
    done
    python3 -c "import statistics, sys
ratios = [float(r) / float(n) for n, r in (pair.split('/') for pair in sys.argv[1:])]
print(f'  median ratio {statistics.median(ratios):.2f}  (goal <= 3)')" "${ratios[@]}"
}

bench_heap() {
    local census=testprogs/build/census-cpp valgrind_s round
    for round in 1 2; do  # valgrind, then gdbmem, twice: the contenders alternate
        valgrind_s=$(CENSUS_TIME_LEAK_CHECK=1 valgrind --leak-check=summary -q "$census" big \
                         1000000 2>&1 | sed -n 's/^census: valgrind leak check \(.*\) s$/\1/p')
        echo "memheap + memleak on 1,000,000 chunks, round $round (valgrind's own leak check" \
             "of the same heap: $valgrind_s s):"
        VALGRIND_S=$valgrind_s gdb -nx -batch -q -ex 'source gdbinit.py' \
            -ex "set gdbmem snapshot-dir ${TMPDIR:-/tmp}/gdbmem-bench-heap" -ex 'break checkpoint' \
            -ex run -x bench/bench_heap.py --args "$census" big 1000000 2>&1 >/dev/null |
            sed -n 's/^bench: //p'
    done
    echo "memheap + memleak on 10,000,000 chunks (goal: each <= 5 s, gdb's growth <= 1.5x the heap):"
    BENCH_REPEAT=1 gdb -nx -batch -q -ex 'source gdbinit.py' \
        -ex "set gdbmem snapshot-dir ${TMPDIR:-/tmp}/gdbmem-bench-heap" -ex 'break checkpoint' \
        -ex run -x bench/bench_heap.py --args "$census" big 10000000 2>&1 >/dev/null |
        sed -n 's/^bench: //p'
    rm -rf "${TMPDIR:-/tmp}/gdbmem-bench-heap"
}

names=("$@")
[ ${#names[@]} -gt 0 ] || names=(memmap scan memsnap remote memtrace malloc report heap)
for name in "${names[@]}"; do
    case $name in
        memmap | scan | memsnap | remote | memtrace | malloc | report | heap) "bench_$name" ;;
        *) echo "bench/run.sh: no bench named $name (memmap, scan, memsnap, remote, memtrace, malloc, report, heap)" >&2; exit 2 ;;
    esac
done
