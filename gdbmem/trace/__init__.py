"""memtrace: which code grows memory. Pure: the ledger of who holds which ranges (ledger.py),
the folding of call stacks into call sites (fold.py), the records kept on disk (events.py), and
the accounts that own them, one per address space traced (account.py); gdb's side is
commands/memtrace.py, whose Tracer owns this session's accounts."""
