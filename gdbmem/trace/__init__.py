"""memtrace: which code grows memory. Pure: the ledger of who holds which ranges (ledger.py),
the folding of call stacks into call sites (fold.py), and the records kept on disk
(events.py); gdb's side is commands/memtrace.py."""

from gdbmem.trace.events import TraceLog
from gdbmem.trace.ledger import Ledger

# What this gdb session traced (memtrace on), or loaded: memtrace reports it, vmainfo asks it
# who mapped an address. TRACE_LOG keeps the events themselves (memsnap save writes them) and
# the names of their pcs as gdb resolved them (UNSAVED: not yet in the journal).
LEDGER = Ledger()
TRACE_LOG = TraceLog()
UNSAVED: dict = {}


def clear() -> None:
    LEDGER.__init__()  # type: ignore[misc]
    TRACE_LOG.__init__()  # type: ignore[misc]
    UNSAVED.clear()
