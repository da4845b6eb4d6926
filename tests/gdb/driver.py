"""Runs inside gdb (`gdb -x driver.py`): executes the commands in $GDBMEM_COMMANDS one by one
and writes each one's output, or its error, as JSON to $GDBMEM_RESULTS. Into
$GDBMEM_PROGRESS, when set, it writes a line as each command starts and `done` at the end:
a gdb that hangs is then known to hang in one of the commands, or outside them.

A command starting with '!' runs in the shell instead, with {pid} replaced by the inferior's
pid: `!pmap -x {pid}` is pmap at the very same stop as the gdb commands around it.
"""

import json
import os
import subprocess

import gdb

progress = open(os.environ["GDBMEM_PROGRESS"], "a") if "GDBMEM_PROGRESS" in os.environ else None


def said(line: str) -> None:
    if progress is not None:
        progress.write(line + "\n")
        progress.flush()


results = []
for command in json.loads(os.environ["GDBMEM_COMMANDS"]):
    said(json.dumps(command))
    if command.startswith("!"):
        shell = command[1:].format(pid=gdb.selected_inferior().pid)
        done = subprocess.run(shell, shell=True, capture_output=True, text=True)
        results.append({"command": command, "ok": done.returncode == 0,
                        "output": done.stdout, "error": done.stderr})
        continue
    try:
        output = gdb.execute(command, to_string=True)
        results.append({"command": command, "ok": True, "output": output, "error": None})
    except gdb.error as exc:
        results.append({"command": command, "ok": False, "output": "", "error": str(exc)})
with open(os.environ["GDBMEM_RESULTS"], "w") as fh:
    json.dump(results, fh)
said("done")
