"""memsnap at breakpoint hits in a process whose other threads run on while the breakpoint's
stop() runs (gdb 13 runs all-stop on a non-stop target): testprogs/threads.c has two threads
that spin, one that sleeps, and one that comes before tick 3 and goes before tick 6."""

from __future__ import annotations

import pytest

from tests.gdb.conftest import assert_no_traceback, build, run_gdb

TICKS = 8
# Threads at each hit, main included: 2 spinning, 1 sleeping, and the visitor at ticks 3-5.
THREADS = [4, 4, 4, 5, 5, 5, 4, 4]


@pytest.fixture(scope="module")
def session(tmp_path_factory):
    d = tmp_path_factory.mktemp("threads")
    commands = [f"set gdbmem snapshot-dir {d}", "memsnap on tick", "run",
                "memsnap list --json", *(f"memsnap show {n} --json" for n in range(1, 9)),
                "memsnap diff 1 3 --json", "memsnap diff 4 6 --json"]
    return run_gdb(commands, build("threads"), [str(TICKS)], before=())


def test_every_thread_is_known_at_every_hit(session):
    assert_no_traceback(session)
    assert [r["threads"] for r in session.json("memsnap list --json")] == THREADS


@pytest.mark.parametrize("number", range(1, TICKS + 1))
def test_each_thread_stack_is_named_with_its_guard(session, number):
    regions = session.json(f"memsnap show {number} --json")["regions"]
    stacks = [r for r in regions if r["kind"] == "thread-stack"]
    guards = [r for r in regions if r["kind"] == "guard" and r["thread"] is not None]
    others = THREADS[number - 1] - 1  # the main thread's is [stack]
    assert len(stacks) == others and len(guards) == others
    assert all(r["end"] - r["start"] == 256 << 10 for r in stacks)  # pthread_attr_setstacksize
    assert len({r["thread"] for r in stacks}) == others and None not in {r["lwp"] for r in stacks}
    assert {g["end"] for g in guards} == {s["start"] for s in stacks}  # each right below its stack
    (main,) = [r for r in regions if r["kind"] == "stack"]
    assert main["path"] == "[stack]" and main["thread"] == 1


@pytest.mark.parametrize("diff", ["memsnap diff 1 3 --json", "memsnap diff 4 6 --json"])
def test_no_stack_comes_or_goes_while_the_threads_stay(session, diff):
    kinds = {c["kind"] for c in session.json(diff)["changes"] if c["change"] in ("added",
                                                                                 "removed")}
    assert not kinds & {"thread-stack", "guard"}
