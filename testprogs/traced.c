/* Calls whose accounting memtrace must get exactly right: several threads mapping and
 * unmapping at once, a direct sbrk after tracing began late, mremap over another site's
 * mapping and of a file, and malloc's pool grown by one function for another's leak.
 *
 * usage: traced MODE DIR
 *   threads  4 threads at once, 200 rounds each: churn_map() maps 64 KiB that the round
 *            unmaps, keep_map() maps 4 KiB that is kept (800 pages held by keep_map)
 *   sbrk     stop() a first time, then grow() calls sbrk(4096) twice with a stop() between
 *   mremap   victim() maps 64 KiB at a fixed place; mover() maps 16 KiB and mremaps it with
 *            MREMAP_FIXED over the victim's; then file_map() maps DIR/traced.bin (64 KiB,
 *            its first 16 KiB) and file_grow() mremaps it to all 64 KiB
 *   pool     batch() mallocs and frees 2,000 blocks of 1 KiB, stop(); small_leak() leaks 3,000
 *            blocks of 100 bytes, medium_leak() 100 blocks of 20,000 bytes (with
 *            TRACED_WAIT=1, it first creates DIR/traced.ready and waits for SIGUSR1: attach.h)
 *   mthreads 4 threads at once: each mallocs and frees 200 blocks of 512 bytes (batch_of())
 *            and leaks 500 blocks of 64 bytes (thread_leak()): 128,000 bytes in all
 *   churn    1,000,000 mallocs of 16 to 1,023 bytes, each freed at once (bench/: --malloc)
 * Each mode ends in done(), every mapping still in place.
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

#define THREADS 4
#define ROUNDS 200

volatile unsigned long sink;
static pthread_barrier_t start_line;

__attribute__((noinline)) void stop(void) { __asm__ volatile("" ::: "memory"); }
__attribute__((noinline)) void done(void) { __asm__ volatile("" ::: "memory"); }

/* A macro, not a function: each caller is the call site. */
#define ANON(at, size, flags) checked(mmap((at), (size), PROT_READ | PROT_WRITE, \
                                           MAP_PRIVATE | MAP_ANONYMOUS | (flags), -1, 0))

static void *checked(void *p) {
    if (p == MAP_FAILED) { perror("mmap"); exit(2); }
    return p;
}

__attribute__((noinline)) static void *churn_map(void) { return ANON(NULL, 64 << 10, 0); }
__attribute__((noinline)) static void *keep_map(void) { return ANON(NULL, 4096, 0); }

static void *worker(void *arg) {
    (void)arg;
    pthread_barrier_wait(&start_line);
    for (int k = 0; k < ROUNDS; k++) {
        char *p = churn_map();
        p[0] = 1;
        sink += (unsigned long)keep_map();
        munmap(p, 64 << 10);
    }
    return NULL;
}

__attribute__((noinline)) static void grow(void) {
    if (sbrk(4096) == (void *)-1) { perror("sbrk"); exit(2); }
}

__attribute__((noinline)) static void *victim(void) {
    return ANON((void *)0x200000000000, 64 << 10, MAP_FIXED_NOREPLACE);
}

__attribute__((noinline)) static void *mover(void *onto) {
    void *p = ANON(NULL, 16 << 10, 0);
    void *q = mremap(p, 16 << 10, 64 << 10, MREMAP_MAYMOVE | MREMAP_FIXED, onto);
    if (q == MAP_FAILED) { perror("mremap"); exit(2); }
    return q;
}

__attribute__((noinline)) static char *file_map(int fd) {
    char *p = mmap(NULL, 16 << 10, PROT_READ, MAP_PRIVATE, fd, 0);
    if (p == MAP_FAILED) { perror("mmap"); exit(2); }
    return p;
}

__attribute__((noinline)) static char *file_grow(char *p) {
    char *q = mremap(p, 16 << 10, 64 << 10, MREMAP_MAYMOVE);
    if (q == MAP_FAILED) { perror("mremap"); exit(2); }
    return q;
}

__attribute__((noinline)) static void batch(void) {
    static void *blocks[2000];
    for (int k = 0; k < 2000; k++) blocks[k] = malloc(1024);
    for (int k = 0; k < 2000; k++) free(blocks[k]);
}

__attribute__((noinline)) static void batch_of(int count) {
    void *blocks[256];
    for (int k = 0; k < count && k < 256; k++) blocks[k] = malloc(512);
    for (int k = 0; k < count && k < 256; k++) free(blocks[k]);
}

__attribute__((noinline)) static void small_leak(void) {
    for (int k = 0; k < 3000; k++) sink += (unsigned long)malloc(100);
}

__attribute__((noinline)) static void medium_leak(void) {
    for (int k = 0; k < 100; k++) sink += (unsigned long)malloc(20000);
}

/* 4 threads at once: each leaks 500 blocks of 64 bytes and mallocs and frees a batch. */
__attribute__((noinline)) static void thread_leak(void) {
    for (int k = 0; k < 500; k++) sink += (unsigned long)malloc(64);
}

static void *malloc_worker(void *arg) {
    (void)arg;
    pthread_barrier_wait(&start_line);
    batch_of(200);
    thread_leak();
    return NULL;
}

int main(int argc, char **argv) {
    if (argc < 3) { fprintf(stderr, "usage: traced MODE DIR\n"); return 2; }
    const char *mode = argv[1];
    if (!strcmp(mode, "threads")) {
        pthread_t t[THREADS];
        pthread_barrier_init(&start_line, NULL, THREADS);
        for (int i = 0; i < THREADS; i++) pthread_create(&t[i], NULL, worker, NULL);
        for (int i = 0; i < THREADS; i++) pthread_join(t[i], NULL);
    } else if (!strcmp(mode, "mthreads")) {
        pthread_t t[THREADS];
        pthread_barrier_init(&start_line, NULL, THREADS);
        for (int i = 0; i < THREADS; i++) pthread_create(&t[i], NULL, malloc_worker, NULL);
        for (int i = 0; i < THREADS; i++) pthread_join(t[i], NULL);
    } else if (!strcmp(mode, "sbrk")) {
        sink += (unsigned long)malloc(10);  /* the heap exists */
        stop();
        grow();
        stop();
        grow();
    } else if (!strcmp(mode, "mremap")) {
        void *v = victim();
        memset(v, 1, 64 << 10);
        sink += (unsigned long)mover(v);
        char path[4096];
        snprintf(path, sizeof path, "%s/traced.bin", argv[2]);
        int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
        char page[4096];
        memset(page, 'f', sizeof page);
        for (int k = 0; k < 16; k++)
            if (write(fd, page, sizeof page) != (ssize_t)sizeof page) return 2;
        sink += (unsigned long)file_grow(file_map(fd));
    } else if (!strcmp(mode, "pool")) {
        batch();
        stop();
        if (getenv("TRACED_WAIT")) {  // for gdb to attach: DIR/traced.ready says when
            char ready[4096];
            snprintf(ready, sizeof ready, "%s/traced.ready", argv[2]);
            wait_for_attach(ready);
        }
        small_leak();
        medium_leak();
    } else if (!strcmp(mode, "churn")) {
        for (int k = 0; k < 1000000; k++) {
            char *p = malloc(16 + (size_t)(k % 1008));
            p[0] = (char)k;
            sink += (unsigned long)p[0];
            free(p);
        }
    } else {
        fprintf(stderr, "unknown mode %s\n", mode);
        return 2;
    }
    done();
    return 0;
}
