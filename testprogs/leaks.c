/* Memory that grows in known places, or does not, for memsnap's verdicts.
 *
 * usage: leaks MODE TICKS DIR
 *   heap   leaks 16 small blocks (1 KiB) per tick in the main thread: [heap] grows
 *   bigheap  leaks 64 blocks of 1 KiB per tick: [heap] grows to 128 MiB over 2,000 ticks
 *   small  leaks one block of 256 bytes per tick: a small leak in a small process
 *   mmap   leaks one 256 KiB block per tick: anonymous mmap blocks of a large malloc
 *   arena  a worker thread leaks 8 blocks of 4 KiB per tick: its malloc arena grows
 *   file   maps DIR/leaks-file.bin (64 KiB) once more per tick and reads it
 *   cache  fills a cache of 16 slots of 64 KiB during the first ticks, then only reuses it
 *   churn  allocates 1 to 64 blocks of 1 to 96 KiB, ticks, frees them all: up and down
 *   remap  maps 128 KiB anonymous with mmap, ticks, unmaps it: a call site that holds 0
 *   idle   touches 1 GiB once, then only ticks: a large process whose memory does not change
 * Each iteration calls tick(i) with the memory in place (break there), then the program
 * exits when TICKS are done. LEAKS_WAIT_AT=K in the environment: after K ticks it creates
 * DIR/leaks.ready and waits for SIGUSR1 (attach.h), so that what a debugger attached then
 * sees is known exactly: the ticks from K on.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "attach.h"

volatile unsigned long sink;
static int ticks;
static const char *mode;

__attribute__((noinline)) void tick(int i) { sink += (unsigned long)i; __asm__ volatile("" ::: "memory"); }

static void *touched(size_t size) {
    char *p = malloc(size);
    if (!p) { perror("malloc"); exit(2); }
    memset(p, 0x5a, size);
    return p;
}

static void *worker(void *arg) {
    (void)arg;
    for (int i = 0; i < ticks; i++) {
        for (int k = 0; k < 8; k++) sink += (unsigned long)touched(4096);
        tick(i);
    }
    return NULL;
}

int main(int argc, char **argv) {
    if (argc < 4) { fprintf(stderr, "usage: leaks MODE TICKS DIR\n"); return 2; }
    mode = argv[1];
    ticks = atoi(argv[2]);
    char path[4096];
    snprintf(path, sizeof path, "%s/leaks-file.bin", argv[3]);
    char ready[4096];
    snprintf(ready, sizeof ready, "%s/leaks.ready", argv[3]);
    if (!strcmp(mode, "arena")) {
        pthread_t t;
        pthread_create(&t, NULL, worker, NULL);
        pthread_join(t, NULL);
        return 0;
    }
    int fd = -1;
    if (!strcmp(mode, "file")) {
        fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
        char page[4096];
        memset(page, 'f', sizeof page);
        for (int k = 0; k < 16; k++)
            if (write(fd, page, sizeof page) != (ssize_t)sizeof page) return 2;
        fsync(fd);
    }
    void *cache[16] = {0};
    srand(42);
    const char *wait_at = getenv("LEAKS_WAIT_AT");
    int wait_tick = wait_at ? atoi(wait_at) : -1;
    if (!strcmp(mode, "idle"))
        sink += (unsigned long)touched((size_t)1 << 30);
    for (int i = 0; i < ticks; i++) {
        if (i == wait_tick) wait_for_attach(ready);
        if (!strcmp(mode, "idle")) {
            tick(i);
        } else if (!strcmp(mode, "heap")) {
            for (int k = 0; k < 16; k++) sink += (unsigned long)touched(1024);
            tick(i);
        } else if (!strcmp(mode, "bigheap")) {
            for (int k = 0; k < 64; k++) sink += (unsigned long)touched(1024);
            tick(i);
        } else if (!strcmp(mode, "small")) {
            sink += (unsigned long)touched(256);
            tick(i);
        } else if (!strcmp(mode, "mmap")) {
            sink += (unsigned long)touched(256 * 1024);
            tick(i);
        } else if (!strcmp(mode, "file")) {
            volatile char *p = mmap(NULL, 16 * 4096, PROT_READ, MAP_PRIVATE, fd, 0);
            for (int k = 0; k < 16; k++) sink += p[k * 4096];
            tick(i);
        } else if (!strcmp(mode, "cache")) {
            int slot = i % 16;
            if (!cache[slot]) cache[slot] = touched(64 * 1024);
            memset(cache[slot], i, 64 * 1024);
            tick(i);
        } else if (!strcmp(mode, "remap")) {
            volatile char *p = mmap(NULL, 32 * 4096, PROT_READ | PROT_WRITE,
                                    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
            p[0] = 1;
            tick(i);
            munmap((void *)p, 32 * 4096);
        } else if (!strcmp(mode, "churn")) {
            void *blocks[64];
            int n = 1 + rand() % 64;
            for (int k = 0; k < n; k++) blocks[k] = touched(1024 * (1 + rand() % 96));
            tick(i);
            for (int k = 0; k < n; k++) free(blocks[k]);
        } else {
            fprintf(stderr, "unknown mode %s\n", mode);
            return 2;
        }
    }
    return 0;
}
