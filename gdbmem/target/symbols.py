"""What gdb's expressions and symbols say of addresses, for every kind of target alike."""

from __future__ import annotations

import re

import gdb  # type: ignore[import-not-found]

from gdbmem.errors import TargetError
from gdbmem.model import Symbol
from gdbmem.units import MASK64


def evaluate_address(expression: str) -> int:
    """A gdb expression (`$rsp`, `&var`, `ptr+8`, `main`, `0x7ff…`) as an address."""
    if not expression.strip():
        raise TargetError("an address expression is needed, like $sp or &var")
    try:
        value = gdb.parse_and_eval(expression)
        code = value.type.strip_typedefs().code
        if code in (gdb.TYPE_CODE_FUNC, gdb.TYPE_CODE_ARRAY) and value.address is not None:
            value = value.address
        elif code in (gdb.TYPE_CODE_STRUCT, gdb.TYPE_CODE_UNION):
            raise TargetError(f"{expression!r} is a {value.type}, not an address; "
                              f"try &{expression}")
        return int(value) & MASK64
    except gdb.error as exc:
        raise TargetError(f"cannot evaluate {expression!r}: {exc}") from None


def location_of(pc: int) -> str:
    """`function at file:line` for a code address, as far as gdb's symbols tell."""
    try:
        block = gdb.block_for_pc(pc)
        while block is not None and block.function is None:
            block = block.superblock
        name = block.function.name if block is not None else None
        sal = gdb.find_pc_line(pc)
    except (gdb.error, RuntimeError):
        return f"{pc:#x}"
    name = name or f"{pc:#x}"
    if sal.symtab is None:
        return name
    return f"{name} at {sal.symtab.filename}:{sal.line}"


_INFO_SYMBOL_RE = re.compile(r"(.*?) in section (\S+)(?: of (.*))?")


def symbol_at(address: int) -> Symbol | None:
    """What `info symbol ADDRESS` says: a symbol and section for code and static data."""
    try:
        text = gdb.execute(f"info symbol {address:#x}", to_string=True).strip()
    except gdb.error:
        return None
    m = _INFO_SYMBOL_RE.fullmatch(text.splitlines()[0] if text else "")
    if m is None:
        return None
    return Symbol(m.group(1), m.group(2), m.group(3) or "")
