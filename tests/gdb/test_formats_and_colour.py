"""Tables in tabulate's formats, colour from pygments, and vmainfo's hexdump, in real gdb on
testprogs/layout.c: exact text for a known region in several formats, the colour rules (a
terminal, captured output, `set style enabled off`), styles, and bytes equal to gdb's x."""

from __future__ import annotations

import json
import os
import pty
import re
import select
import shutil
import subprocess
import sys
import time

import pytest

from tests.gdb.conftest import GDBINIT, ROOT, assert_error, assert_no_traceback, run_gdb

BIG = "--kind anon --sort rss --top 1"  # layout.c: 3 MiB at 0x200000000000, 1 MiB written
ESCAPE = re.compile(r"\x1b\[[0-9;]*m")


@pytest.fixture(scope="module")
def gdb(layout_program, tmp_path_factory):
    d = tmp_path_factory.mktemp("formats")
    commands = [
        f"memmap {BIG} --format github", f"memmap {BIG} --format tsv",
        f"memmap {BIG} --format html", f"memmap {BIG} -k",
        "set gdbmem table-format pipe", f"memmap {BIG}", "show gdbmem table-format",
        "set gdbmem table-format simple",
        f"memmap {BIG} --format nope", "set gdbmem table-format nope",
        "complete memmap --format gi", "complete memsnap trend --format rs",
        "memmap --json", "vmainfo &heap_block --json",
        "set style enabled on",  # gdb -batch with a pipe for stdout turns it off
        "set gdbmem colour on", f"memmap {BIG} ", "memmap --json ", "memcheck ",
        "vmainfo 0x200000000000 ",
        "set style enabled off", f"memmap {BIG}  ", "set style enabled on",
        "set gdbmem style monokai", "show gdbmem style", "set gdbmem style no-such-style",
        "complete set gdbmem style mon", "set gdbmem colour auto",
        "x/32xb 0x200000000000", "vmainfo 0x200000000000 --bytes 32",
        "vmainfo 0x2000002ffff0 --bytes 32", "vmainfo 0x2000002ffff0 --bytes 32 --json",
        "vmainfo $sp --bytes 0", "vmainfo $sp --bytes -1",
    ]
    return run_gdb(commands, layout_program, [str(d)])


def test_exact_text_in_several_formats(gdb):
    assert_no_traceback(gdb)
    row = ["0x200000000000", "0x200000300000", "3M", "0x0", "rw-p", "1M", "1M", "1M", "0",
           "anon", ""]
    github = gdb.output(f"memmap {BIG} --format github").splitlines()
    assert github[0].startswith("|          Start |            End |   Size |   Offset | Perms ")
    assert github[1].startswith("|----------------|----------------|--------|----------|------")
    assert [c.strip() for c in github[2].strip("|").split("|")] == row
    assert (github[3].startswith("|                |                |  70.8M |") and "total of 1" \
        not in github[3]) or "total of 1 region" in github[3]
    tsv = gdb.output(f"memmap {BIG} --format tsv").splitlines()
    assert [c.strip() for c in tsv[1].split("\t")] == row[:-1]  # tabulate strips the line
    html = gdb.output(f"memmap {BIG} --format html")
    assert html.startswith("<table>\n<thead>\n<tr><th style=\"text-align: right;\">")
    assert "<td style=\"text-align: right;\">0x200000000000</td>" in html
    assert gdb.output(f"memmap {BIG} -k").splitlines()[2].split()[5:9] == ["1024"] * 3 + ["0"]


def test_the_default_format_is_a_setting(gdb):
    assert gdb.nth(f"memmap {BIG}", 0)["output"].startswith("|")  # pipe, from the setting
    assert gdb.output("show gdbmem table-format") == (
        "gdbmem's tables are written in tabulate's pipe format.\n")
    assert_error(gdb, f"memmap {BIG} --format nope", "invalid choice: 'nope' (choose from")
    assert "github" in gdb.error(f"memmap {BIG} --format nope")
    assert gdb.error("set gdbmem table-format nope").startswith("Undefined item: \"nope\"")
    assert gdb.output("complete memmap --format gi") == "memmap --format github\n"
    assert gdb.output("complete memsnap trend --format rs") == "memsnap trend --format rst\n"


def test_colour_follows_the_rules_when_captured(gdb):
    # Captured (gdb.execute(..., to_string=True)), output is never coloured, whatever the
    # setting says (auto, or on): gdb's own styling goes to a terminal only. JSON is JSON.
    for command in (f"memmap {BIG} --format github", "memmap --json",
                    "vmainfo &heap_block --json", f"memmap {BIG} ", "memmap --json ",
                    "memcheck ", "vmainfo 0x200000000000 ", f"memmap {BIG}  "):
        assert "\x1b" not in gdb.output(command), command
    json.loads(gdb.output("memmap --json "))


def test_styles_are_pygments_styles(gdb):
    assert gdb.output("show gdbmem style") == (
        "gdbmem's colours come from the pygments style monokai.\n")
    assert gdb.error("set gdbmem style no-such-style").startswith("Undefined item")
    assert "set gdbmem style monokai" in gdb.output("complete set gdbmem style mon")


def x_bytes(text: str) -> list[int]:
    return [int(b, 16) for line in text.splitlines() for b in line.split(":")[1].split()]


def hexdump_bytes(lines: list[str]) -> list[int | None]:
    """The bytes of vmainfo's hexdump lines (after `  bytes    `)."""
    out: list[int | None] = []
    for line in lines:
        cells = line[11:].split("  |")[0].split()[1:]
        out += [None if c == "??" else int(c, 16) for c in cells]
    return out


def test_the_bytes_are_gdb_s(gdb):
    text = gdb.output("vmainfo 0x200000000000 --bytes 32").splitlines()
    dump = [line for line in text if line.startswith(("  bytes", "         "))]
    assert dump[0].startswith("  bytes    0000200000000000  ")
    assert dump[1].startswith("           0000200000000010  ")
    assert hexdump_bytes(dump) == x_bytes(gdb.output("x/32xb 0x200000000000"))
    # The region ends 16 bytes on: the next 16 are not mapped, shown as such, not an error.
    edge = [line for line in gdb.output("vmainfo 0x2000002ffff0 --bytes 32").splitlines()
            if line.startswith(("  bytes", "         "))]
    data = hexdump_bytes(edge)
    assert len(data) == 32 and data[16:] == [None] * 16 and None not in data[:16]
    assert edge[1].endswith("|                |")
    assert gdb.json("vmainfo 0x2000002ffff0 --bytes 32 --json")["bytes"] == data
    assert "bytes" not in gdb.output("vmainfo $sp --bytes 0")
    assert_error(gdb, "vmainfo $sp --bytes -1", "--bytes takes a count from 0 to 65536")


def read_pty(fd: int, seconds: float) -> str:
    out = b""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        ready, _, _ = select.select([fd], [], [], 0.2)
        if ready:
            try:
                chunk = os.read(fd, 65536)
            except OSError:
                break
            if not chunk:
                break
            out += chunk
    return out.decode("utf-8", "replace")


def test_colour_at_a_real_terminal(layout_program, tmp_path):
    """gdb on a pseudo-terminal: what a user types gets colours, and JSON is highlighted."""
    argv = ["gdb", "-nx", "-q", "-ex", "set pagination off", "-ex", "set confirm off",
            "-ex", f"source {GDBINIT}", "-ex", "break ready", "-ex", "run",
            "-ex", f"memmap {BIG}", "-ex", "memmap --kind heap --json",
            "-ex", "pipe memmap --kind heap --json | sed 's/^/piped: /'",
            "-ex", "pipe vmainfo $sp --json | sed 's/^/piped: /'",
            "-ex", "echo MEMCHECK\\n", "-ex", "memcheck", "-ex", "echo VMAINFO\\n",
            "-ex", f"vmainfo {BIG}", "-ex", "set gdbmem colour on",
            "-ex", "pipe memmap --kind heap --json | sed 's/^/piped: /'",
            "-ex", f"set logging file {tmp_path}/log.txt", "-ex", "set logging redirect on",
            "-ex", "set logging enabled on", "-ex", f"memmap {BIG}",
            "-ex", "set logging enabled off", "-ex", "quit",
            "--args", str(layout_program), str(tmp_path)]
    pid, fd = pty.fork()
    if pid == 0:
        os.environ.update(TERM="xterm-256color", XDG_STATE_HOME=str(tmp_path))
        os.execvp(argv[0], argv)
    try:
        text = read_pty(fd, 60)
    finally:
        os.close(fd)
        os.waitpid(pid, 0)
    table = text[text.index("Start"):]
    assert "\x1b[38;5;" in table  # pygments' 256-colour escapes
    plain = ESCAPE.sub("", table).splitlines()
    row = next(line for line in plain if line.startswith("0x200000000000"))
    assert row.split()[:3] == ["0x200000000000", "0x200000300000", "3M"]  # widths stay
    assert re.search(r'\x1b\[[0-9;]*m"start"', text)  # the JSON, highlighted
    assert "Traceback" not in text
    # Into `pipe` the JSON is plain, as gdb's own `pipe bt` is: jq could read it.
    piped = [line[len("piped: "):] for line in text.splitlines() if line.startswith("piped: ")]
    assert piped and all("\x1b" not in line for line in piped), piped
    assert text.count("piped: [") == 2 and text.count("piped: {") == 1
    assert "\x1b[" in text[text.index("MEMCHECK"):text.index("VMAINFO")]
    vmainfo = text[text.index("VMAINFO"):]
    assert "\x1b[" in vmainfo[:vmainfo.index("piped")]
    log = (tmp_path / "log.txt").read_text()
    assert "0x200000000000" in log and "\x1b" not in log  # a log file is never coloured


def test_without_tabulate_and_pygments_one_line_says_what_to_run(tmp_path):
    """gdbinit.py and the gdbmem command in a Python that lacks the packages."""
    copy = tmp_path / "gdbmem-copy"
    shutil.copytree(ROOT / "gdbmem", copy / "gdbmem")
    shutil.copy(GDBINIT, copy / "gdbinit.py")  # no .venv beside it
    probe = subprocess.run(["gdb", "-nx", "-batch", "-ex",
                            "python import importlib.util as u; print(u.find_spec('tabulate'))"],
                           capture_output=True, text=True, timeout=60)
    if "None" not in probe.stdout:
        pytest.skip("gdb's own Python has tabulate: nothing is missing to test")
    done = subprocess.run(["gdb", "-nx", "-batch", "-ex", f"source {copy}/gdbinit.py",
                           "-ex", "memmap"], capture_output=True, text=True, timeout=60)
    lines = [line for line in done.stderr.splitlines() if line.startswith("gdbmem:")]
    assert len(lines) == 1 and "needs the Python packages tabulate, pygments and pygal" in lines[0]
    assert "make setup" in lines[0] and "Traceback" not in done.stderr
    bare = subprocess.run(["/usr/bin/python3", "-m", "gdbmem", "map", "x"], cwd=copy,
                          capture_output=True, text=True, timeout=60,
                          env={k: v for k, v in os.environ.items() if k != "PYTHONPATH"})
    assert bare.returncode == 2 and bare.stderr.count("\n") == 1
    assert bare.stderr.startswith("gdbmem: needs the Python packages tabulate, pygments and pygal")
    assert sys.executable  # the test's own Python has them: this ran
