"""Every command, with bad input too, on every kind of target: a running process, none, one
that exited, a core, gdbserver, a /proc we may not read, non-stop mode, several inferiors, and
after an exec. Each command succeeds or says one clear line; nowhere a Python traceback."""

from __future__ import annotations

import os
import pathlib
import shutil
import subprocess
import tempfile

import pytest

from tests.gdb.conftest import (
    GDBINIT,
    ROOT,
    assert_no_traceback,
    assert_one_clean_line,
    build,
    gdbserver,
    run_gdb,
)

EVERY_COMMAND = [
    "memmap", "memmap --json", "memmap -x", "memmap -X", "memmap --group", "memmap --kind nope",
    "vmainfo $sp", "vmainfo 0x10 --json", "vmainfo nosuchsymbol", "memdump 0x10",
    "memdump [heap] {dir}/heap.bin", "memstrings [heap] --limit 1", "memstrings 0x10",
    "memsnap", "memsnap list", "memsnap trend", "memcheck", "print $vma_start($sp)",
    "memheap", "memheap --json", "memheap show 32", "memleak", "memleak --json",
]


def commands(directory):
    return [c.format(dir=directory) for c in EVERY_COMMAND]


def check(session, expect_error=None):
    assert_no_traceback(session)
    for result in session.results:
        if not result["ok"]:
            assert_one_clean_line(result["error"])
            if expect_error and result["command"] not in (
                    "memmap --kind nope", "vmainfo nosuchsymbol",  # bad input: its own words
                    "memsnap list", "memsnap trend",  # stored snapshots need no process
                    "print $vma_start($sp)"):  # gdb itself evaluates $sp: "No registers."
                assert expect_error in result["error"], (result["command"], result["error"])


def test_no_process(layout_program, tmp_path):
    check(run_gdb(commands(tmp_path), layout_program, before=()), "no process")


def test_no_program_at_all(tmp_path):
    check(run_gdb(commands(tmp_path), None, before=()))


def test_a_process_that_exited(tmp_path):
    check(run_gdb(commands(tmp_path), shutil.which("true"), before=("run",)), "no process")


def test_a_core(layout_program, tmp_path):
    run_gdb([f"gcore {tmp_path}/core"], layout_program, [str(tmp_path)])
    session = run_gdb(commands(tmp_path), None, before=(),
                      gdb_args=[str(layout_program), f"{tmp_path}/core"])
    check(session)
    assert session["memmap --json"]["ok"]
    assert session[f"memdump [heap] {tmp_path}/heap.bin"]["ok"]  # [heap] by kind in a core


def test_gdbserver(layout_program, tmp_path):
    server, port = gdbserver(layout_program, tmp_path)
    try:
        session = run_gdb(commands(tmp_path), layout_program,
                          before=(f"target remote 127.0.0.1:{port}", "break ready", "continue"))
    finally:
        server.kill()
        server.wait()
    check(session)
    assert session["memmap -X"]["ok"] and session["memsnap trend"]["error"]


@pytest.fixture
def readable_by_nobody(tmp_path):
    """What gdb as nobody needs, copied where nobody can read it: gdbinit.py, the package,
    its packages from the venv, and the testprog (a clone may sit in a 0700 home, and
    pytest's own tmp_path under a 0700 directory). Removed afterwards."""
    place = pathlib.Path(tempfile.mkdtemp(prefix="gdbmem-nobody-"))
    try:
        os.chmod(place, 0o755)
        shutil.copytree(ROOT / "gdbmem", place / "gdbmem",
                        ignore=shutil.ignore_patterns("__pycache__"))
        shutil.copy(GDBINIT, place / "gdbinit.py")
        for site in ROOT.glob(".venv/lib/python3*/site-packages"):  # gdbmem's packages
            shutil.copytree(site, place / site.relative_to(ROOT), symlinks=True,
                            ignore=shutil.ignore_patterns("__pycache__"))
        shutil.copy(build("nondump"), place / "nondump")
        for path in [place, *place.rglob("*")]:
            os.chmod(path, 0o755 if path.is_dir() or os.access(path, os.X_OK) else 0o644)
        os.chmod(tmp_path, 0o777)
        yield place
    finally:
        shutil.rmtree(place, ignore_errors=True)


@pytest.mark.skipif(os.geteuid() != 0 or shutil.which("setpriv") is None,
                    reason="needs root to run gdb as another user")
def test_a_proc_we_may_not_read(readable_by_nobody, tmp_path):
    """gdb as nobody debugs a process that made itself not dumpable: ptrace works, /proc not."""
    place = readable_by_nobody
    argv = ["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups", "gdb", "-nx",
            "-batch", "-ex", f"source {place}/gdbinit.py", "-ex", "break ready", "-ex", "run",
            "-ex", "memmap", "-ex", "vmainfo $sp", "-ex", "memsnap", "-ex", "memcheck",
            "-ex", "x/s &secret", str(place / "nondump")]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=60, cwd=place,
                          env=dict(os.environ, XDG_STATE_HOME=str(tmp_path)))
    errors = [line for line in done.stderr.splitlines() if line.startswith("mem")
              or line.startswith("vmainfo")]
    assert len(errors) == 4, done.stderr
    assert all("permission denied" in line and "run gdb as root" in line for line in errors)
    assert "a string in the data segment" in done.stdout  # gdb's own x still works
    assert "Traceback" not in done.stdout + done.stderr


def test_non_stop_mode(layout_program, tmp_path):
    session = run_gdb(commands(tmp_path), layout_program, [str(tmp_path)],
                      before=("set non-stop on", "break ready", "run"))
    check(session)
    assert session["memmap --json"]["ok"] and session["vmainfo $sp"]["ok"]


def test_several_inferiors(layout_program, tmp_path):
    session = run_gdb(["add-inferior", "inferior 2", "memmap", "inferior 1", "memmap"],
                      layout_program, [str(tmp_path)])
    assert "no process" in session.error("memmap")
    text = session.nth("memmap", 1)["output"]
    assert text.startswith("memmap: inferior 1, process ")


def test_after_an_exec(layout_program, tmp_path):
    """sh execs the layout testprog: at its breakpoint the map is the new program's."""
    session = run_gdb(["memmap --json"], shutil.which("sh"),
                      ["-c", f"exec {layout_program} {tmp_path}"],
                      before=("set breakpoint pending on", "break ready", "run"))
    regions = session.json("memmap --json")
    assert any(r["kind"] == "exe" and r["path"] == str(layout_program) for r in regions)
    assert not any(r["path"].endswith("/sh") for r in regions)
