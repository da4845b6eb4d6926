"""Every ANSI colour gdbmem uses (kinds, verdicts, headers); whether to use them is decided at
the command edge."""

from __future__ import annotations

RESET = "\x1b[0m"
BOLD = "\x1b[1m"

KIND_COLOURS = {
    "heap": "\x1b[32m", "arena": "\x1b[32m", "stack": "\x1b[35m", "thread-stack": "\x1b[35m",
    "guard": "\x1b[2m", "exe": "\x1b[31m", "lib": "\x1b[34m", "file": "\x1b[36m",
    "anon": "\x1b[33m", "shm": "\x1b[36;1m", "vdso": "\x1b[2m", "vvar": "\x1b[2m",
    "vsyscall": "\x1b[2m",
}


VERDICT_COLOURS = {"leak": "\x1b[31;1m", "growing": "\x1b[33m", "stable": "\x1b[32m",
                   "shrinking": "\x1b[36m"}


def paint(text: str, code: str | None) -> str:
    return f"{code}{text}{RESET}" if code else text
