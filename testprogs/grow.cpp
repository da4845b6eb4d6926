// A std::vector that grows: every reallocation is the STL's (std::__new_allocator,
// _M_realloc_insert, operator new, malloc), and memtrace must charge them to fill_vector().
//
// usage: grow
//   fill_vector() pushes 1,000,000 ints; blocks of 64 KiB and more are mmapped (the threshold
//   is fixed, so the kept buffer, 2^20 ints, is one mapping of 4 MiB and a page); done().
#include <malloc.h>
#include <vector>

static std::vector<int> kept;

extern "C" __attribute__((noinline)) void done(void) { __asm__ volatile("" ::: "memory"); }

__attribute__((noinline)) static void fill_vector() {
    for (int i = 0; i < 1000000; i++) kept.push_back(i);
}

int main() {
    mallopt(M_MMAP_THRESHOLD, 64 << 10);
    fill_vector();
    done();
    return 0;
}
