"""gdbmem promises Python 3.9 (users' gdbs embed older Pythons than ours): check it on a real
3.9 where one is installed (pyenv's, or python3.9 on PATH)."""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def python39() -> str | None:
    """A Python 3.9 that runs (pyenv's shim on PATH may refuse to)."""
    candidates = sorted(glob.glob(os.path.expanduser("~/.pyenv/versions/3.9*/bin/python3.9")))
    candidates.append(shutil.which("python3.9") or "")
    for candidate in filter(None, candidates):
        done = subprocess.run([candidate, "-c", "pass"], capture_output=True, timeout=30)
        if done.returncode == 0:
            return candidate
    return None


SMOKE = """
import sys, pathlib
assert sys.version_info[:2] == (3, 9), sys.version
for path in sorted(pathlib.Path("gdbmem").rglob("*.py")) + [pathlib.Path("gdbinit.py")]:
    compile(path.read_text(), str(path), "exec")  # the gdb modules too: syntax for 3.9
from gdbmem.proc import parse_smaps, parse_maps
from gdbmem.kinds import classify
from gdbmem.render.maps import region_table, pmap_extended, smaps_table
from gdbmem.analysis.select import group_regions
regions = classify(parse_smaps(pathlib.Path("tests/fixtures/layout.smaps").read_bytes()))
assert len(regions) == 35 and regions[0].rss_kb == 1024
region_table(regions); smaps_table(regions); group_regions(regions)
print(pmap_extended(regions, 1, "x").splitlines()[-1])
"""


def test_pure_layers_run_on_python_3_9():
    interpreter = python39()
    if interpreter is None:
        pytest.skip("no Python 3.9 on this machine to check against")
    # gdbmem's packages (tabulate, pygments: pure Python) from the project's venv.
    site = sorted(ROOT.glob(".venv/lib/python3*/site-packages"))
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(map(str, site)))
    done = subprocess.run([interpreter, "-c", SMOKE], cwd=ROOT, capture_output=True, text=True,
                          timeout=120, env=env)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "total kB           72472    2796    1364"
