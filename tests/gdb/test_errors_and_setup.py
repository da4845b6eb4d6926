"""Bad input gets one clear line, never a traceback; sourcing, attaching and process life."""

from __future__ import annotations

import shutil
import subprocess
import time

import pytest

from tests.gdb.conftest import GDBINIT, ROOT, assert_no_traceback, assert_one_clean_line, run_gdb

BAD_INPUT = {
    "memmap --bogus": "unrecognized arguments: --bogus",
    "memmap --kind nope": "unknown kind nope",
    "memmap --kind": "expected one argument",
    "memmap --min-size 12Q": "bad size '12Q'",
    "memmap --range 0x2000,0x1000": "empty range",
    "memmap --range 0x2000": "--range takes LO,HI",
    "memmap --range nosuch,0x10": "cannot evaluate 'nosuch'",
    "memmap --sort colour": "invalid choice: 'colour'",
    "memmap --top 0": "--top takes a number of regions",
    "memmap --top many": "invalid int value",
    "memmap /[unclosed/": "bad regular expression",
    "memmap --perms rwz": "bad perms pattern",
    "memmap zzz-no-such-mapping": "no region matches",
    "memmap -x --group": "--group goes with the default table or --json",
    "vmainfo": "the following arguments are required: ADDR",
    "vmainfo nosuchsymbol": 'No symbol "nosuchsymbol" in current context',
    "vmainfo $sp +": "cannot evaluate",
    "vmainfo *(int *)0": "Cannot access memory at address 0x0",
    "print $vma_start(0x10)": "$vma_start: 0x10 is not mapped",
    "print $vma_end(0x10)": "$vma_end: 0x10 is not mapped",
}


@pytest.fixture(scope="module")
def running(layout_program, tmp_path_factory):
    commands = [*BAD_INPUT, "memmap -h", "kill", "memmap", "vmainfo 0x1000", "print $vma_start(0)"]
    return run_gdb(commands, layout_program, [str(tmp_path_factory.mktemp("layout"))])


@pytest.mark.parametrize("command", list(BAD_INPUT))
def test_bad_input_gets_one_line(running, command):
    message = running.error(command)
    assert_one_clean_line(message)
    assert BAD_INPUT[command] in message, message
    name = command.split()[1] if command.startswith("print") else command.split()[0]
    assert message.startswith(name.split("(")[0] + ":") or "No symbol" in message, message


def test_help_option_prints_usage(running):
    assert running.output("memmap -h").startswith("usage: memmap")


def test_after_kill_there_is_no_process(running):
    for command in ("memmap", "vmainfo 0x1000", "print $vma_start(0)"):
        message = running.error(command)
        assert_one_clean_line(message)
        assert "no process" in message, message
    assert_no_traceback(running)


def test_before_run_and_without_a_program(layout_program):
    commands = ["memmap", "memmap --json", "vmainfo main", "vmainfo $sp", "print $vma_end(main)"]
    for session in (run_gdb(commands, layout_program, before=()),
                    run_gdb(commands, None, before=())):
        for command in commands:
            message = session.error(command)
            assert_one_clean_line(message)
        assert "no process: start one with `run` or `start`, or `attach PID`" in \
            session.error("memmap")
        assert_no_traceback(session)


def test_a_process_that_exited():
    true = shutil.which("true")
    session = run_gdb(["memmap", "vmainfo 0x400000"], true, before=("run",))
    assert "no process" in session.error("memmap")
    assert_one_clean_line(session.error("vmainfo 0x400000"))
    assert_no_traceback(session)


def test_sourcing_twice_from_another_directory(layout_program, tmp_path):
    session = run_gdb(["source " + str(GDBINIT), "memmap --json", "help memmap"],
                      layout_program, [str(tmp_path)], cwd=tmp_path)
    assert session["source " + str(GDBINIT)]["ok"]
    assert len(session.json("memmap --json")) > 30
    assert session.stderr.strip() == "" or "warning" not in session.stderr.lower()
    assert_no_traceback(session)


def test_sourced_from_inside_another_python_script(tmp_path):
    """outer.py does gdb.execute("source .../gdbinit.py"): __file__ is outer.py's there, and
    gdbinit.py still finds its package beside itself."""
    outer = tmp_path / "outer.py"
    outer.write_text(f"import gdb\ngdb.execute('source {GDBINIT}')\n"
                     "print(gdb.execute('help memmap', to_string=True).splitlines()[0])\n")
    done = subprocess.run(["gdb", "-nx", "-batch", "-x", str(outer)], capture_output=True,
                          text=True, timeout=60, cwd=tmp_path)
    assert done.stdout.splitlines()[-1].startswith("Show every mapping of the process"), \
        done.stdout + done.stderr
    assert "Traceback" not in done.stderr and "gdbmem:" not in done.stderr


def test_gdbinit_without_its_package_says_what_to_run(tmp_path):
    alone = tmp_path / "gdbinit.py"
    shutil.copy(GDBINIT, alone)
    done = subprocess.run(["gdb", "-nx", "-batch", "-ex", f"source {alone}", "-ex", "memmap"],
                          capture_output=True, text=True, timeout=60, cwd=tmp_path)
    lines = [line for line in done.stderr.splitlines() if line.startswith("gdbmem:")]
    assert lines and "cannot import the package" in lines[0] and "make setup" in lines[0]
    assert "Traceback" not in done.stderr


@pytest.fixture
def background_layout(layout_program, tmp_path):
    process = subprocess.Popen([str(layout_program), str(tmp_path)], stdout=subprocess.PIPE,
                               text=True)
    assert process.stdout.readline().startswith("layout ready")
    time.sleep(0.2)  # the child of the fork has read its pages by now (it reports first)
    yield process
    process.kill()
    process.wait()


def test_attach_with_gdb_p(background_layout):
    session = run_gdb(["memmap --json", "vmainfo $sp --json"], None, before=(),
                      gdb_args=["-p", str(background_layout.pid)])
    regions = {r["start"]: r for r in session.json("memmap --json")}
    assert (regions[0x200000000000]["Rss"], regions[0x220000000000]["Pss"]) == (1024, 64)
    stacks = sorted(r["Size"] for r in regions.values() if r["kind"] == "thread-stack")
    assert stacks == [256, 512]
    assert session.json("vmainfo $sp --json")["region"]["kind"] == "stack"
    assert_no_traceback(session)


def test_attach_command(background_layout):
    session = run_gdb(["memmap --kind arena --json"], None,
                      before=(f"attach {background_layout.pid}",))
    assert len(session.json("memmap --kind arena --json")) == 2


def test_setup_is_idempotent_and_quick():
    """The second run of tools/setup.sh finds everything in place and says so."""
    done = subprocess.run(["bash", str(ROOT / "tools" / "setup.sh")], capture_output=True,
                          text=True, timeout=300, cwd=ROOT)
    assert done.returncode == 0, done.stderr
    assert "venv up to date" in done.stdout
