"""glibc malloc read from a process's memory: arenas, chunks, a census, reachability.

  layout.py   where glibc keeps what, by version (malloc_state, heap_info, mp_, tcache)
  memory.py   the inferior's memory as the walk reads it: bulk windows, words
  chunks.py   the heap as found: arenas, tcaches, every chunk and its state (Heap), mallinfo2
  find.py     main_arena, mp_, the arenas' ring and top chunks, found and checked
  lists.py    the bins, fastbins and tcaches, each checked against the walk
  mmapped.py  the chunks mmapped on their own, reconciled with mp_
  walk.py     the walk that puts those together: every heap's chunks, span by span
  census.py   mallinfo2, arenas, sizes and types of the chunks in use
  reach.py    memleak: blocks nothing points to, in valgrind's terms

No gdb here: the target gives memory, the map, the threads and the symbols it knows.
"""
