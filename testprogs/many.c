/* Very many mappings: N read-write pages, each followed by a read-only one (2N regions).
 *
 * usage: many N [TICKS]
 *   without TICKS, prints "PID ready" and waits until killed (bench/run.sh memmap);
 *   with TICKS, calls tick(i) TICKS times, one more page of a separate 1 MiB region written
 *   before each: between two hits one region changes, and all the others stay as they were.
 */
#include <sys/mman.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

volatile unsigned long sink;

__attribute__((noinline)) void tick(int i) { sink += (unsigned long)i; __asm__ volatile("" ::: "memory"); }

int main(int argc, char **argv) {
    int n = argc > 1 ? atoi(argv[1]) : 20000;
    long pg = sysconf(_SC_PAGESIZE);
    char *base = mmap(NULL, (size_t)2 * n * pg, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (base == MAP_FAILED) { perror("mmap"); return 1; }
    for (int i = 0; i < 2 * n; i += 2) {
        base[i * pg] = 1;
        if (mprotect(base + (size_t)(i + 1) * pg, pg, PROT_READ) != 0) {
            perror("mprotect (more than vm.max_map_count mappings?)");
            return 1;
        }
    }
    printf("%d ready\n", getpid());
    fflush(stdout);
    if (argc < 3) {
        pause();
        return 0;
    }
    int ticks = atoi(argv[2]);
    char *growing = mmap(NULL, 1 << 20, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (growing == MAP_FAILED) { perror("mmap (more than vm.max_map_count mappings?)"); return 1; }
    for (int i = 0; i < ticks; i++) {
        growing[(size_t)(i % 256) * pg] = 1;
        tick(i);
    }
    return 0;
}
