"""glibc malloc read from a process's memory: arenas, chunks, a census, reachability.

  layout.py   where glibc keeps what, by version (malloc_state, heap_info, mp_, tcache)
  memory.py   the inferior's memory as the walk reads it: bulk windows, words
  walk.py     arenas, heaps and chunks; which chunks are free and where (Heap)
  census.py   mallinfo2, arenas, sizes and types of the chunks in use
  reach.py    memleak: blocks nothing points to, in valgrind's terms

No gdb here: the target gives memory, the map, the threads and the symbols it knows.
"""
