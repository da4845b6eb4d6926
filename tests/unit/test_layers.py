"""The layers the README's diagram promises, read from every module's imports (those inside
functions too): a lower layer never imports a higher one, and only target/ and commands/
import gdb."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "gdbmem"

# Each part of the package, by how high it stands: a module may import parts standing lower,
# and its own part. `proc` and `model` import nothing above them; `analysis` never imports
# render, commands or target.
RANK = {
    "errors": 0,
    "units": 1, "model": 1,
    "proc": 2,
    "caches": 1, "options": 1,
    "kinds": 3, "procread": 3, "safefile": 3,
    "analysis": 4, "trace": 4, "heap": 4,
    "store": 5, "scan": 5,
    "render": 7,
    "target": 8,
    "commands": 9, "cli": 9,
    "__init__": 10, "__main__": 10,
}
GDB_ALLOWED = {"target", "commands"}


def part_of(module: str) -> str:
    """gdbmem.analysis.spans -> analysis; gdbmem -> __init__."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def imports(source: str, module: str) -> set[str]:
    """Every module `source` imports, absolute, with gdbmem's own resolved."""
    found = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative: from the module's own package
                package = module.split(".")[: -node.level]
                base = ".".join([*package, base] if base else package)
            if base == "gdbmem":  # `from gdbmem import procread`
                found.update(f"{base}.{alias.name}" for alias in node.names)
            else:
                found.add(base)
    return found


def violations(module: str, source: str) -> list[str]:
    own = part_of(module)
    out = []
    for name in sorted(imports(source, module)):
        if name == "gdb" or name.startswith("gdb."):
            if own not in GDB_ALLOWED:
                out.append(f"{module} imports gdb")
        elif name.startswith("gdbmem.") or name == "gdbmem":
            other = part_of(name)
            if other not in RANK:
                continue  # `from gdbmem import __version__`-style names
            if other != own and RANK[other] >= RANK[own]:
                out.append(f"{module} ({own}) imports {name} ({other})")
    return out


def modules():
    for path in sorted(PACKAGE.rglob("*.py")):
        relative = path.relative_to(PACKAGE.parent).with_suffix("")
        name = ".".join(relative.parts)
        yield name.removesuffix(".__init__"), path.read_text()


def test_every_part_has_a_rank():
    parts = {part_of(name) for name, _ in modules()}
    assert parts <= set(RANK), parts - set(RANK)


def test_layers_hold():
    found = [v for name, source in modules() for v in violations(name, source)]
    assert found == []


@pytest.mark.parametrize("module, source, expected", [
    ("gdbmem.analysis.checks", "from gdbmem.render.color import paint",
     "gdbmem.analysis.checks (analysis) imports gdbmem.render.color (render)"),
    ("gdbmem.proc.maps", "def f():\n    from gdbmem.kinds import classify",
     "gdbmem.proc.maps (proc) imports gdbmem.kinds (kinds)"),
    ("gdbmem.model", "import gdbmem.store.record",
     "gdbmem.model (model) imports gdbmem.store.record"),
    ("gdbmem.trace.account", "from gdbmem.store.codec import framed",
     "gdbmem.trace.account (trace) imports gdbmem.store.codec (store)"),
    ("gdbmem.render.maps", "import gdb", "gdbmem.render.maps imports gdb"),
    ("gdbmem.scan", "from . import target", "gdbmem.scan (scan) imports gdbmem.target (target)"),
    ("gdbmem.analysis.spans", "from gdbmem.scan import Hole",
     "gdbmem.analysis.spans (analysis) imports gdbmem.scan (scan)"),
])
def test_the_check_catches_each_kind_of_breach(module, source, expected):
    assert any(v.startswith(expected) for v in violations(module, source)), \
        violations(module, source)
    assert violations("gdbmem.commands.memmap", "import gdb\nfrom gdbmem.target import x") == []
