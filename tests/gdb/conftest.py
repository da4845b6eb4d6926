"""Running real gdb on real testprogs: one gdb per session, many commands per gdb."""

from __future__ import annotations

import contextlib
import json
import os
import re
import subprocess
import tempfile
import threading
import time
import warnings
from collections.abc import Iterable, Sequence
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
GDBINIT = ROOT / "gdbinit.py"
DRIVER = Path(__file__).with_name("driver.py")
BUILD = ROOT / "testprogs" / "build"


def build(name: str) -> Path:
    """The testprog, built by the Makefile's rule (the one way to build them)."""
    subprocess.run(["make", "-s", "-C", str(ROOT), f"testprogs/build/{name}"], check=True)
    return BUILD / name


class Session:
    """What one gdb run printed: each command's result, and gdb's own stdout and stderr."""

    def __init__(self, results: list[dict], stdout: str, stderr: str):
        self.results = results
        self.stdout = stdout
        self.stderr = stderr

    def __getitem__(self, command: str) -> dict:
        found = [r for r in self.results if r["command"] == command]
        assert found, f"{command!r} was not run"
        return found[0]

    def output(self, command: str) -> str:
        result = self[command]
        assert result["ok"], f"{command!r} failed: {result['error']}"
        return result["output"]

    def json(self, command: str):
        return json.loads(self.output(command))

    def error(self, command: str) -> str:
        result = self[command]
        assert not result["ok"], f"{command!r} should have failed, printed {result['output']!r}"
        return result["error"]

    def nth(self, command: str, n: int) -> dict:
        return [r for r in self.results if r["command"] == command][n]


def run_gdb(commands: Sequence[str], program: Path | None = None, args: Iterable[str] = (),
            before: Sequence[str] = ("break ready", "run"), gdb_args: Sequence[str] = (),
            source: bool = True, cwd: Path | None = None, timeout: int = 50) -> Session:
    """gdb in batch mode: `before`, then the commands through driver.py, then `kill`.
    A gdb that does not end within `timeout` seconds (the slowest session here takes ~3 s)
    fails the test naming the command it hangs in. A hang outside the commands, in gdb's own
    `run`, `attach` or `kill`, is tried once more, with a warning: it is not what the test
    is about (test_non_stop_mode's gdb once did not end in 120 s in a clean clone's
    .ci/run, where 190 runs of it alone all ended in 2 s; test_several_inferiors' hung once
    in 405 sessions of test_targets.py, outside its commands)."""
    argv = ["gdb", "-nx", "-batch", "-q", "-ex", "set pagination off",
            "-ex", "set confirm off", *gdb_args]
    if source:
        argv += ["-ex", f"source {GDBINIT}"]
    for command in before:
        argv += ["-ex", command]
    argv += ["-x", str(DRIVER)]
    if program is not None:
        argv += ["-ex", "kill"]
        argv += ["--args", str(program), *args]
    for attempt in range(2):
        with tempfile.TemporaryDirectory() as scratch:
            env = _driver_env(commands, scratch)
            progress = env["GDBMEM_PROGRESS"] = os.path.join(scratch, "progress")
            gdb = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                   text=True, cwd=cwd, env=env, stdin=subprocess.DEVNULL)
            try:
                stdout, stderr = gdb.communicate(timeout=timeout)
                return _session(scratch, stdout, stderr)
            except subprocess.TimeoutExpired:
                gdb.kill()  # its inferior goes with it (PTRACE_O_EXITKILL)
                try:  # unless something it started holds the pipes: then they are let go
                    gdb.communicate(timeout=10)
                except subprocess.TimeoutExpired:
                    pass
                lines = Path(progress).read_text().splitlines() if os.path.exists(progress) else []
            finally:
                for pipe in (gdb.stdout, gdb.stderr):
                    pipe.close()  # type: ignore[union-attr]
                gdb.wait()
        if lines and lines[-1] != "done":
            raise AssertionError(f"gdb hung in {json.loads(lines[-1])!r}: no end in {timeout} s")
        where = "after its last command" if lines else "before its first command"
        if attempt == 0:
            warnings.warn(f"gdb hung {where} (not in a command tested): run again", stacklevel=2)
    raise AssertionError(f"gdb hung {where} twice: no end in {timeout} s")


def _driver_env(commands: Sequence[str], scratch: str) -> dict:
    """The environment of a gdb that runs driver.py: the commands, where their results go,
    and journals of a test that sets no snapshot-dir in the scratch directory, never in the
    user's ~/.local/state."""
    return dict(os.environ, GDBMEM_COMMANDS=json.dumps(list(commands)),
                GDBMEM_RESULTS=os.path.join(scratch, "results.json"),
                XDG_STATE_HOME=os.path.join(scratch, "state"))


def _session(scratch: str, stdout: str, stderr: str) -> Session:
    results_path = os.path.join(scratch, "results.json")
    if not os.path.exists(results_path):
        raise AssertionError(f"gdb did not run the driver:\n{stdout}\n{stderr}")
    with open(results_path) as fh:
        return Session(json.load(fh), stdout, stderr)


_EXITED = re.compile(r"\[Inferior \d+ \(process \d+\) exited")


def run_gdb_until_exit(setup: Sequence[str], commands: Sequence[str], program: Path,
                       args: Iterable[str] = (), timeout: int = 60) -> Session:
    """gdb as a user drives it in non-stop mode, its commands read from a pipe while the
    program runs in the background and gdb's event loop goes on: `setup` ends by starting
    the program (`run &`, `continue &`); once gdb says it exited, `commands` run through the
    driver."""
    with tempfile.TemporaryDirectory() as scratch:
        env = _driver_env(commands, scratch)
        argv = ["gdb", "-nx", "-q", "-ex", "set pagination off", "-ex", "set confirm off",
                "-ex", f"source {GDBINIT}", "--args", str(program), *args]
        gdb = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, env=env, text=True)
        assert gdb.stdin is not None and gdb.stdout is not None
        watchdog = threading.Timer(timeout, gdb.kill)  # a hang ends, and the test fails
        watchdog.start()
        try:
            gdb.stdin.write("".join(f"{line}\n" for line in setup))
            gdb.stdin.flush()
            seen = []
            for line in gdb.stdout:
                seen.append(line)
                if _EXITED.search(line):
                    break
            gdb.stdin.write(f"source {DRIVER}\nquit\n")
            gdb.stdin.flush()
            rest, _ = gdb.communicate(timeout=timeout)
        finally:
            watchdog.cancel()
            if gdb.poll() is None:
                gdb.kill()
                gdb.wait()
        return _session(scratch, "".join(seen) + (rest or ""), "")


def assert_one_clean_line(message: str) -> None:
    """A user's error: one line, no Python traceback."""
    assert message.strip(), "empty error message"
    assert "\n" not in message.strip(), f"more than one line: {message!r}"
    assert "Traceback" not in message and "Python Exception" not in message, message


def assert_error(session: Session, command: str, expected: str) -> None:
    """The command failed with one clean line that says `expected`."""
    message = session.error(command)
    assert_one_clean_line(message)
    assert expected in message, message


def assert_no_traceback(session: Session) -> None:
    for text in (session.stdout, session.stderr):
        assert "Traceback" not in text and "Python Exception" not in text, text
    for result in session.results:
        for text in (result["output"], result["error"] or ""):
            assert "Traceback" not in text and "Python Exception" not in text, text


def gdbserver(program, *args):
    """A gdbserver for one program on a free loopback port; returns (process, port)."""
    server = subprocess.Popen(["gdbserver", "--once", "127.0.0.1:0", str(program), *map(str, args)],
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    deadline = time.monotonic() + 30
    for line in server.stdout:
        m = re.search(r"Listening on port (\d+)", line)
        if m:
            return server, int(m.group(1))
        if time.monotonic() > deadline:
            break
    server.kill()
    raise AssertionError("gdbserver did not start")


@contextlib.contextmanager
def waiting_to_be_attached(argv: Sequence[str], ready: Path, env: dict):
    """A testprog started for gdb to attach to at a known point (testprogs/attach.h): once it
    has created READY it waits for SIGUSR1, which the attached gdb sends (`signal SIGUSR1`),
    so what it does after the attach does not depend on how long gdb took to start.
    Yields the process; it is killed at the end."""
    ready.unlink(missing_ok=True)
    program = subprocess.Popen([str(a) for a in argv], env=dict(os.environ, **env))
    try:
        deadline = time.monotonic() + 60
        while not ready.exists():
            if program.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"{argv[0]} never got to {ready.name}")
            time.sleep(0.02)
        yield program
    finally:
        program.kill()
        program.wait()


@pytest.fixture(scope="session")
def layout_program() -> Path:
    return build("layout")
