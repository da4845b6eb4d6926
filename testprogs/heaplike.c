/* A large region of heap-like data, for memdump/memstrings tests and benchmarks.
 *
 * usage: heaplike MIB [ADDR]
 * Maps MIB MiB (at ADDR if given, default 0x300000000000), all pages written: pointer-like
 * words, small integers, and every 8 KiB a text record "record NNNNNNNN: the quick brown fox
 * jumps over the lazy dog" (ASCII, 8-byte aligned), and every 64 KiB the same text in UTF-16LE.
 * A second mapping at ADDR+MIB MiB+1 GiB is a 64 GiB reservation (MAP_NORESERVE) with only its
 * first 1 MiB written. Stops in ready(), then waits to be killed.
 */
#define _GNU_SOURCE
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define RESERVE (64ULL << 30)

volatile unsigned long sink;
char *region, *reservation;

__attribute__((noinline)) void ready(void) { __asm__ volatile("" ::: "memory"); }

int main(int argc, char **argv) {
    size_t mib = argc > 1 ? strtoul(argv[1], NULL, 0) : 64;
    uintptr_t addr = argc > 2 ? strtoul(argv[2], NULL, 0) : 0x300000000000UL;
    size_t size = mib << 20;
    region = mmap((void *)addr, size, PROT_READ | PROT_WRITE,
                  MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
    if (region == MAP_FAILED) { perror("mmap"); return 2; }
    madvise(region, size, MADV_NOHUGEPAGE);
    uint64_t *words = (uint64_t *)region;
    for (size_t i = 0; i < size / 8; i++)
        words[i] = (i % 3 == 0) ? 0x00005555deadb000ULL + i * 16 : (i % 3 == 1) ? i % 1000 : 0;
    for (size_t off = 0, n = 0; off + 128 <= size; off += 8192, n++) {
        int len = snprintf(region + off, 96,
                           "record %08zu: the quick brown fox jumps over the lazy dog", n);
        region[off + len] = 0;
    }
    const char *wide = "wide record: utf-16 text here";
    for (size_t off = 4096; off + 128 <= size; off += 65536) {
        for (size_t k = 0; wide[k]; k++) { region[off + 2 * k] = wide[k]; region[off + 2 * k + 1] = 0; }
        region[off + 2 * strlen(wide)] = 0; region[off + 2 * strlen(wide) + 1] = 0;
    }
    reservation = mmap(region + size + (1UL << 30), RESERVE, PROT_READ | PROT_WRITE,
                       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_FIXED_NOREPLACE, -1, 0);
    if (reservation == MAP_FAILED) { perror("mmap reservation"); return 2; }
    madvise(reservation, RESERVE, MADV_NOHUGEPAGE);
    for (size_t i = 0; i < (1 << 20); i += 4096)
        snprintf(reservation + i, 64, "reserved page %04zu: touched and resident", i / 4096);
    printf("heaplike ready pid %d region %p size %zu reservation %p\n", getpid(), (void *)region,
           size, (void *)reservation);
    fflush(stdout);
    ready();
    for (;;) pause();
}
