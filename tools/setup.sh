#!/usr/bin/env bash
# Sets up what gdbmem's demo, tests and benchmarks need; idempotent, and quick the second time.
#
#  1. Debian packages, only those missing: gdb, C and C++ compilers and (without one on PATH)
#     rustc for the testprogs, make, procps (pmap), binutils (strings) and smem, the anchors
#     tests and benchmarks compare against; heaptrack (memtrace --malloc), valgrind (the leak
#     check memleak must equal), libc6-dbg (the heap tests run with and without libc's
#     symbols) and libjemalloc2 (a program on another allocator).
#  2. A virtualenv in .venv made from the Python that gdb embeds. gdb links the system
#     Python (/usr/bin/python3 on Debian), not the `python3` first on PATH (pyenv, conda, ...),
#     and packages installed for one are invisible to the other. So we ask gdb which Python it
#     runs, build the venv from that same interpreter, and gdbinit.py adds the venv's
#     site-packages to gdb's sys.path. pytest runs from the same venv, so the pure tests run on
#     the very Python that gdb embeds.
#  --browser also installs Debian's chromium, which the tests use to open the HTML report
#  in a real browser (never needed to use gdbmem, nor by `make demo`).
set -euo pipefail

browser=0
[ "${1:-}" = "--browser" ] && browser=1

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
say() { printf 'setup: %s\n' "$*"; }

apt_packages=(gdb gdbserver gcc g++ libc6-dev make procps binutils smem heaptrack valgrind libc6-dbg
              libjemalloc2)

as_root() {
    if [ "$(id -u)" -eq 0 ]; then "$@"
    elif command -v sudo >/dev/null 2>&1; then sudo "$@"
    else say "need root to run: $*"; return 1
    fi
}

apt_install() {
    command -v dpkg-query >/dev/null 2>&1 || { say "not Debian: install $* yourself"; return 0; }
    local missing=() p
    for p in "$@"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing+=("$p")
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    say "installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    as_root apt-get update -qq
    as_root apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

apt_install "${apt_packages[@]}"
# The Rust testprog needs a rustc: Debian's, unless one is on PATH already (rustup's).
command -v rustc >/dev/null 2>&1 || apt_install rustc
if [ "$browser" = 1 ] && ! command -v chromium >/dev/null 2>&1; then
    apt_install chromium || say "chromium could not be installed: the browser test is skipped"
fi

# Which Python does gdb embed? Ask gdb itself; its last line of output is the answer.
answer=$(gdb -nx -batch -ex 'python import sys; print("gdbmem-python %d.%d %s" % (sys.version_info[0], sys.version_info[1], sys.base_prefix))' 2>/dev/null | grep '^gdbmem-python ' | tail -n 1 || true)
if [ -z "$answer" ]; then
    say "this gdb has no Python support; gdbmem needs a gdb built with Python 3.9 or newer"
    exit 1
fi
read -r _ version prefix <<<"$answer"
python="$prefix/bin/python$version"
[ -x "$python" ] || python=$(command -v "python$version" || true)
if [ -z "$python" ] || ! "$python" -c 'import sys' >/dev/null 2>&1; then
    say "gdb embeds Python $version, but no python$version interpreter was found to make a venv"
    exit 1
fi
say "gdb embeds Python $version: $python"

# Debian splits venv/ensurepip out of the interpreter's package.
if ! "$python" -c 'import ensurepip, venv' >/dev/null 2>&1; then
    apt_install "python$version-venv"
fi

requirements="$root/requirements-dev.txt"
stamp="$root/.venv/.gdbmem-setup"
want="$version $(cat "$requirements" "$root/pyproject.toml" | sha256sum | cut -d' ' -f1)"
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ] && [ -x "$root/.venv/bin/python" ]; then
    say "venv up to date (.venv, Python $version)"
    exit 0
fi
say "making .venv from $python"
"$python" -m venv --clear "$root/.venv"
"$root/.venv/bin/python" -m pip install -q --disable-pip-version-check -r "$requirements"
# gdbmem itself, editable, with its packages (tabulate, pygments): the `gdbmem` command for
# captured files, in .venv/bin; gdbinit.py puts this venv's site-packages first on gdb's path.
"$root/.venv/bin/python" -m pip install -q --disable-pip-version-check -e "$root"
echo "$want" >"$stamp"
say "done"
