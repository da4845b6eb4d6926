"""gdb commands: one module per command, each thin; `register()` creates them once."""

from __future__ import annotations

_registered = False


def register() -> bool:
    """Create gdbmem's commands, settings and functions; False if they already exist."""
    global _registered
    if _registered:
        return False
    from gdbmem.commands import events, settings, state
    from gdbmem.commands.functions import VmaEnd, VmaStart
    from gdbmem.commands.memcheck import MemcheckCommand
    from gdbmem.commands.memdump import MemdumpCommand
    from gdbmem.commands.memheap import COMMANDS as MEMHEAP_COMMANDS
    from gdbmem.commands.memleak import MemleakCommand
    from gdbmem.commands.memmap import MemmapCommand
    from gdbmem.commands.memsnap import COMMANDS as MEMSNAP_COMMANDS
    from gdbmem.commands.memstrings import MemstringsCommand
    from gdbmem.commands.memtrace import COMMANDS as MEMTRACE_COMMANDS
    from gdbmem.commands.memtrace import RecordCall
    from gdbmem.commands.vmainfo import VmainfoCommand

    settings.register()
    events.connect(state.create())
    MemmapCommand()
    VmainfoCommand()
    MemdumpCommand()
    MemstringsCommand()
    for command in (*MEMSNAP_COMMANDS, *MEMTRACE_COMMANDS, *MEMHEAP_COMMANDS):
        command()
    MemleakCommand()
    MemcheckCommand()
    RecordCall()
    VmaStart()
    VmaEnd()
    _registered = True
    return True
