/* A process with a known memory layout, for gdbmem's tests. Every figure here is asserted.
 *
 *   ANON_ADDR    3 MiB private anonymous, 256 pages written         -> Rss 1024 kB, Pss 1024
 *   FILE_ADDR    64-page file mapped private read-only, first 16 read -> Rss 64 kB, Dirty 0
 *   SHARED_ADDR  64-page shared anonymous, 32 written, also mapped and read by a forked
 *                child                                               -> Rss 128 kB, Pss 64 kB
 *   DELETED_ADDR 8-page file mapped shared, all read, then unlinked -> "... (deleted)", Rss 32
 *   MEMFD_ADDR   16-page memfd mapped shared, 4 written              -> shm, Rss 16 kB
 *   threads      "small" with a 256 KiB stack, "worker" with 512 KiB, which mallocs (an arena)
 *   heap_block   64 KiB from malloc, in [heap]
 *
 * usage: layout DIR   (DIR holds the two files it maps; the deleted one is gone when ready)
 * It stops in ready() with everything in place, then waits to be killed.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <unistd.h>

#define PAGE 4096UL
#define ANON_ADDR ((char *)0x200000000000UL)
#define FILE_ADDR ((char *)0x210000000000UL)
#define SHARED_ADDR ((char *)0x220000000000UL)
#define DELETED_ADDR ((char *)0x230000000000UL)
#define MEMFD_ADDR ((char *)0x240000000000UL)

char *heap_block;
volatile unsigned long sink;
static pthread_barrier_t started;

static void die(const char *what) { perror(what); exit(2); }

static char *map_at(char *addr, size_t len, int prot, int flags, int fd) {
    char *p = mmap(addr, len, prot, flags | MAP_FIXED_NOREPLACE, fd, 0);
    if (p == MAP_FAILED || p != addr) die("mmap");
    return p;
}

static void read_pages(const char *p, size_t pages) {
    for (size_t i = 0; i < pages; i++) sink += (unsigned char)p[i * PAGE];
}

static int make_file(const char *dir, const char *name, size_t pages, char *path, size_t n) {
    snprintf(path, n, "%s/%s", dir, name);
    int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
    if (fd < 0) die("open");
    char page[PAGE];
    for (size_t i = 0; i < pages; i++) {
        memset(page, 'a' + (int)(i % 26), sizeof page);
        if (write(fd, page, sizeof page) != (ssize_t)sizeof page) die("write");
    }
    if (fsync(fd)) die("fsync"); /* clean page cache: the mapping's Dirty is then exactly 0 */
    return fd;
}

static void *small_thread(void *arg) {
    (void)arg;
    pthread_barrier_wait(&started);
    for (;;) pause();
    return NULL;
}

static void *worker_thread(void *arg) {
    (void)arg;
    void *p = malloc(1000); /* the worker's own malloc arena */
    sink += (unsigned long)p;
    pthread_barrier_wait(&started);
    for (;;) pause();
    return NULL;
}

__attribute__((noinline)) void ready(void) { __asm__ volatile("" ::: "memory"); }

int main(int argc, char **argv) {
    const char *dir = argc > 1 ? argv[1] : "/tmp";
    char path[4096];

    /* Shared first: the child must map it, and nothing private should be shared by the fork. */
    char *shared = map_at(SHARED_ADDR, 64 * PAGE, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1);
    for (size_t i = 0; i < 32; i++) shared[i * PAGE] = 1;
    int pipefd[2];
    if (pipe(pipefd)) die("pipe");
    pid_t child = fork();
    if (child < 0) die("fork");
    if (child == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        read_pages(shared, 32); /* fork copies no page tables of a shared mapping */
        if (write(pipefd[1], "r", 1) != 1) _exit(2);
        for (;;) pause();
    }
    char c;
    if (read(pipefd[0], &c, 1) != 1) die("child");

    char *anon = map_at(ANON_ADDR, 768 * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1);
    madvise(anon, 768 * PAGE, MADV_NOHUGEPAGE); /* one huge page would make Rss 2048 */
    for (size_t i = 0; i < 256; i++) anon[i * PAGE] = 1;

    int fd = make_file(dir, "layout-file.bin", 64, path, sizeof path);
    char *file = map_at(FILE_ADDR, 64 * PAGE, PROT_READ, MAP_PRIVATE, fd);
    read_pages(file, 16); /* 64 KiB-aligned: fault-around maps no page past the 16th */
    close(fd);

    fd = make_file(dir, "layout-deleted.bin", 8, path, sizeof path);
    char *deleted = map_at(DELETED_ADDR, 8 * PAGE, PROT_READ, MAP_SHARED, fd);
    read_pages(deleted, 8);
    close(fd);
    unlink(path);

    fd = memfd_create("gdbmem-memfd", 0);
    if (fd < 0 || ftruncate(fd, 16 * PAGE)) die("memfd");
    char *memfd = map_at(MEMFD_ADDR, 16 * PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, fd);
    for (size_t i = 0; i < 4; i++) memfd[i * PAGE] = 1;
    close(fd);

    heap_block = malloc(64 * 1024);
    memset(heap_block, 'h', 64 * 1024);

    pthread_t small, worker;
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_barrier_init(&started, NULL, 3);
    pthread_attr_setstacksize(&attr, 256 * 1024);
    if (pthread_create(&small, &attr, small_thread, NULL)) die("pthread_create");
    pthread_attr_setstacksize(&attr, 512 * 1024);
    if (pthread_create(&worker, &attr, worker_thread, NULL)) die("pthread_create");
    pthread_barrier_wait(&started);

    printf("layout ready pid %d child %d\n", getpid(), child);
    fflush(stdout);
    ready();
    for (;;) pause();
}
