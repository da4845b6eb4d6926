#!/usr/bin/env bash
# `make demo`: a gdb session on testprogs/build/layout, a process with a known layout,
# showing memmap, vmainfo of the stack pointer, of a heap pointer and of an unmapped address.
set -euo pipefail
cd "$(dirname "$0")/.."
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
exec gdb -nx -batch -q \
    -ex 'set pagination off' -ex 'set confirm off' \
    -ex 'source gdbinit.py' \
    -ex 'break ready' -ex 'run' \
    -x tools/demo.gdb \
    --args testprogs/build/layout "$work"
