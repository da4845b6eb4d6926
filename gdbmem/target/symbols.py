"""What gdb's expressions and symbols say of addresses, for every kind of target alike."""

from __future__ import annotations

import re

import gdb  # type: ignore[import-not-found]

from gdbmem.errors import TargetError
from gdbmem.model import Symbol
from gdbmem.trace.fold import Frame
from gdbmem.units import MASK64


def evaluate_address(expression: str) -> int:
    """A gdb expression (`$rsp`, `&var`, `ptr+8`, `main`, `0x7ff…`) as an address."""
    if not expression.strip():
        raise TargetError("an address expression is needed, like $sp or &var")
    try:
        value = gdb.parse_and_eval(expression)
    except gdb.error as exc:
        raise TargetError(f"cannot evaluate {expression!r}: {exc}") from None
    return value_address(value, expression)


def value_address(value: gdb.Value, expression: str = "the value") -> int:
    """A gdb value as an address: a pointer or number as it is, a function or an array by
    where it is (as `x` takes them)."""
    try:
        code = value.type.strip_typedefs().code
        if code in (gdb.TYPE_CODE_FUNC, gdb.TYPE_CODE_ARRAY) and value.address is not None:
            value = value.address
        elif code in (gdb.TYPE_CODE_STRUCT, gdb.TYPE_CODE_UNION):
            raise TargetError(f"{expression!r} is a {value.type}, not an address; "
                              f"try &{expression}")
        elif code in (gdb.TYPE_CODE_FLT, getattr(gdb, "TYPE_CODE_DECFLOAT", -1)):
            raise TargetError(f"{expression!r} is a {value.type} ({value}), not an address: "
                              "an address is a whole number")
        return int(value) & MASK64
    except gdb.error as exc:
        raise TargetError(f"cannot take {expression!r} as an address: {exc}") from None


def _outer_function(pc: int) -> str | None:
    """The function whose code holds `pc`, not one inlined into it (the outermost block with
    a function: a Rust program's core::intrinsics::unlikely inlined into main is main's)."""
    block = gdb.block_for_pc(pc)
    name = None
    while block is not None:
        if block.function is not None:
            name = block.function.print_name
        block = block.superblock
    return name


def location_of(pc: int) -> str:
    """`function at file:line` for a code address, as far as gdb's symbols tell."""
    try:
        name = _outer_function(pc)
        sal = gdb.find_pc_line(pc)
    except (gdb.error, RuntimeError):
        return f"{pc:#x}"
    name = name or f"{pc:#x}"
    if sal.symtab is None:
        return name
    return f"{name} at {sal.symtab.filename}:{sal.line}"


def stop_location() -> str:
    """Where the selected thread stopped, named as gdb names it: the function of the newest
    frame that is not inlined code (a Rust program stopped in main.rs:8 is in main, not in
    the core::intrinsics function inlined there), at the line it is at."""
    try:
        frame = gdb.newest_frame()
        while frame.type() == gdb.INLINE_FRAME and frame.older() is not None:
            frame = frame.older()
        function = frame.function()
        name = function.print_name if function is not None else (frame.name() or
                                                                  f"{frame.pc():#x}")
        sal = frame.find_sal()
    except (gdb.error, RuntimeError):
        return ""
    if sal.symtab is None:
        return name
    return f"{name} at {sal.symtab.filename}:{sal.line}"


def breakpoint_location(location: object) -> str | None:
    """A gdb.BreakpointLocation (gdb 13) as `function at file:line`, as `info breakpoints`
    names it: the line it gives, in the function whose code holds it (demangled; gdb 13's
    own `function` is the linkage name for Rust); None where gdb does not tell."""
    address = getattr(location, "address", None)
    source = getattr(location, "source", None)
    if address is None:
        return None
    try:
        name = _outer_function(int(address)) or getattr(location, "function", None)
    except (gdb.error, RuntimeError):
        return None
    if not name:
        return None
    return f"{name} at {source[0]}:{source[1]}" if source else name


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


def name_pc(pc: int) -> Frame:
    """A pc's function, file and line as gdb's symbols tell now (minimal symbols where there
    is no debug information, as for a libc without its -dbg package). A pc means this only in
    the address space it ran in: memtrace names each once, as it first sees it, and keeps
    the name with that space's account."""
    function = file = line = None
    try:
        block = gdb.block_for_pc(pc)
        while block is not None and block.function is None:
            block = block.superblock
        if block is not None:
            function = block.function.print_name
        sal = gdb.find_pc_line(pc)
        if sal.symtab is not None:
            file, line = sal.symtab.filename, sal.line
    except (gdb.error, RuntimeError, OverflowError):
        pass
    if function is None:
        symbol = symbol_at(pc)
        if symbol is not None:
            function = symbol.name.split(" + ")[0]
    return Frame(pc, function, file, line)
