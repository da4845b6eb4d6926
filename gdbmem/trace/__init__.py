"""memtrace: which code grows memory. Pure: the ledger of who holds which ranges (ledger.py)
and the folding of call stacks into call sites (fold.py); gdb's side is commands/memtrace.py."""

from gdbmem.trace.ledger import Ledger

# What this gdb session traced (memtrace on): memtrace reports it, vmainfo asks it who mapped
# an address.
LEDGER = Ledger()
