"""Storage, in one place: a snapshot's record (record.py) and how a session shares its blocks
with the record before (delta.py); the one codec of journals and saved files (codec.py); the
journals on disk (journal.py); a gdb session's snapshots (session.py); files captured where
gdb cannot run (captures.py)."""
