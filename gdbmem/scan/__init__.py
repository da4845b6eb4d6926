"""What is in memory, over any byte reader, streaming: walking it in pieces (walk.py), a dump
with its digest (dump.py), the string scanner (strings.py). Plain Python over bytes; the
reading itself is the caller's (target/)."""
